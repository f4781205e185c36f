package simnet

import (
	"bytes"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
)

// TestStreamBuffer checks a stream's one buffer (receive buffer, then send buffer) against a
// model of two separate queues, under random writes, deliveries, reads, drops of the send
// buffer (a reset) and clears of the receive buffer, across chunk boundaries.
func TestStreamBuffer(t *testing.T) {
	rng := detrand.NewSeeded(71)
	var pool chunkPool
	for round := range 100 {
		var st stream
		var in, out []byte
		next := byte(round)
		for step := range 400 {
			switch rng.IntN(6) {
			case 0, 1:
				p := make([]byte, rng.Range(1, 3*chunkSize/2))
				for i := range p {
					p[i] = next
					next++
				}
				k := rng.Range(1, len(p))
				st.write([][]byte{p[:k/2], p[k/2:]}, k, &pool)
				out = append(out, p[:k]...)
			case 2:
				if len(out) > 0 {
					k := rng.Range(1, len(out))
					st.deliverBytes(k)
					in, out = append(in, out[:k]...), out[k:]
				}
			case 3:
				if len(in) > 0 {
					p := make([]byte, rng.Range(1, len(in)))
					st.read(p, &pool)
					if !bytes.Equal(p, in[:len(p)]) {
						t.Fatalf("round %d step %d: read the wrong bytes", round, step)
					}
					in = in[len(p):]
				}
			case 4:
				if rng.IntN(4) == 0 {
					st.drop(&pool)
					out = nil
				}
			case 5:
				if rng.IntN(4) == 0 {
					st.clearIn(&pool)
					in = nil
				} else if len(in) == 0 && len(out) > 0 {
					k := rng.Range(1, len(out))
					st.discardOut(k, &pool)
					out = out[k:]
				}
			}
			if st.in.n != len(in) || st.out.n != len(out) || st.buf.n != len(in)+len(out) {
				t.Fatalf("round %d step %d: in %d out %d buf %d, want %d %d", round, step, st.in.n, st.out.n, st.buf.n, len(in), len(out))
			}
			if len(out) > 0 {
				for _, i := range []int{0, rng.IntN(len(out)), len(out) - 1} {
					if *st.outAt(i) != out[i] {
						t.Fatalf("round %d step %d: send buffer byte %d differs", round, step, i)
					}
				}
			}
		}
		st.drop(&pool)
		st.clearIn(&pool)
		if len(st.buf.chunks) != 0 {
			t.Fatalf("round %d: %d chunks kept by an empty buffer", round, len(st.buf.chunks))
		}
	}
}

// A chunk taken from the spares of released networks reads as new: the bytes an earlier run
// wrote (up to its high-water mark, a truncated write included) are zeroed.
func TestSpareChunksAreZeroed(t *testing.T) {
	var pool chunkPool
	var q byteQueue
	q.write(bytes.Repeat([]byte{0xAB}, chunkSize-10), &pool)
	q.truncate(100, &pool) // the chunk's w drops; its high water must not
	q.discard(100, &pool)  // back to the pool
	if len(pool.free) != 1 {
		t.Fatalf("%d free chunks, want 1", len(pool.free))
	}
	c := pool.free[0]
	pool.release()
	var other []*chunk
	for got := pool.get(); got != c; got = pool.get() {
		// sync.Pool may hand out another spare or a new chunk first (or drop the released
		// one): keep asking a few times.
		if got.r != 0 || got.w != 0 || got.hw != 0 {
			t.Fatal("a spare chunk was not reset")
		}
		if other = append(other, got); len(other) > 64 {
			t.Skip("the released chunk did not come back from sync.Pool")
		}
	}
	if c.r != 0 || c.w != 0 || c.hw != 0 {
		t.Fatalf("reused chunk r %d w %d hw %d", c.r, c.w, c.hw)
	}
	for i, b := range c.b {
		if b != 0 {
			t.Fatalf("reused chunk byte %d is %#x", i, b)
		}
	}
}
