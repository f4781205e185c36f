package proto

import (
	"bytes"
	"fmt"
	"testing"
)

// TestReserveAroundMatchesThreeCalls checks reserveAround against the three calls it stands
// for (reserve, appendRef, reserve) from every kind of starting point: an empty outbuf, an
// arena ending in a slice it extends or after a reference, and an arena with room for the
// head only, for neither, or for both. The iov entries (bytes, and the capacity a later
// reserve extends), the arena, the byte count and the tail must be the same.
func TestReserveAroundMatchesThreeCalls(t *testing.T) {
	data := bytes.Repeat([]byte{0xd0}, 300)
	for _, used := range []int{-1, 0, 100, arenaSize - 54 - 21 - 1, arenaSize - 54 - 21, arenaSize - 54 - 20,
		arenaSize - 54, arenaSize - 53, arenaSize} {
		for _, refLast := range []bool{false, true} {
			t.Run(fmt.Sprintf("used=%d/ref=%v", used, refLast), func(t *testing.T) {
				var a, b outbuf
				for _, o := range []*outbuf{&a, &b} {
					if used >= 0 {
						fill(o.reserve(max(used, 1)), 0x11) // used 0: a 1-byte reserve, then reset
						if used == 0 {
							o.arena, o.iov, o.bytes, o.tail = o.arena[:0], o.iov[:0], 0, false
						}
					}
					if refLast {
						o.appendRef([]byte{0x22})
					}
				}
				for round := range 3 { // then again: the next message extends the footer's slice
					h := a.reserve(54)
					a.appendRef(data)
					f := a.reserve(21)
					fill(h, byte(round)+1)
					fill(f, byte(round)+0x81)
					h2, f2 := b.reserveAround(54, data, 21)
					fill(h2, byte(round)+1)
					fill(f2, byte(round)+0x81)
					if len(h2) != 54 || cap(h2) != 54 || len(f2) != 21 || cap(f2) != 21 {
						t.Fatalf("round %d: head %d/%d, foot %d/%d bytes", round, len(h2), cap(h2), len(f2), cap(f2))
					}
					compareOutbufs(t, round, &a, &b)
				}
			})
		}
	}
}

func fill(p []byte, v byte) {
	for i := range p {
		p[i] = v
	}
}

func compareOutbufs(t *testing.T, round int, a, b *outbuf) {
	t.Helper()
	if len(a.iov) != len(b.iov) {
		t.Fatalf("round %d: %d iov entries, reserveAround %d", round, len(a.iov), len(b.iov))
	}
	for i := range a.iov {
		if !bytes.Equal(a.iov[i], b.iov[i]) || cap(a.iov[i]) != cap(b.iov[i]) {
			t.Fatalf("round %d: iov[%d] %x (cap %d), reserveAround %x (cap %d)", round, i,
				a.iov[i], cap(a.iov[i]), b.iov[i], cap(b.iov[i]))
		}
	}
	if a.bytes != b.bytes || a.tail != b.tail || len(a.arena) != len(b.arena) ||
		cap(a.arena) != cap(b.arena) || len(a.full) != len(b.full) {
		t.Fatalf("round %d: bytes %d tail %v arena %d/%d full %d; reserveAround bytes %d tail %v arena %d/%d full %d",
			round, a.bytes, a.tail, len(a.arena), cap(a.arena), len(a.full),
			b.bytes, b.tail, len(b.arena), cap(b.arena), len(b.full))
	}
}
