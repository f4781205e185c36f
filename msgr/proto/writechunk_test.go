package proto_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// testChunk is the Config.WriteChunk of these tests: small, so that a few KiB of data make
// many chunks and a short write often stops inside one.
const testChunk = 1000

// chunkMessages returns n messages whose data sections straddle testChunk: empty, short, one
// chunk exactly, one byte over, several chunks and a tail, with a front and sometimes a middle.
func chunkMessages(r *detrand.Rand, n int) []*wire.Message {
	sizes := []int{0, 300, testChunk, testChunk + 1, 2 * testChunk, 3*testChunk + 17, 7*testChunk + 999}
	ms := make([]*wire.Message, n)
	for i := range ms {
		m := ping(uint64(i+1), fmt.Sprintf("m%d", i+1))
		if r.IntN(3) == 0 {
			m.Middle = bytes.Repeat([]byte{byte(i)}, 1+r.IntN(400))
		}
		m.Data = make([]byte, sizes[r.IntN(len(sizes))])
		for j := range m.Data {
			m.Data[j] = byte(r.Uint64())
		}
		ms[i] = m
	}
	return ms
}

// openLink returns a link with both ends open, both messengers configured by cfg and a's
// WriteChunk set to chunk.
func openLink(t *testing.T, seed uint64, cfg func(*proto.Config), chunk int, pa, pb proto.Policy) *link {
	w, ma, mb := newLinkWorld(pa, pb)
	cfg(&ma.Cfg)
	cfg(&mb.Cfg)
	ma.Cfg.WriteChunk = chunk
	l := startLink(t, seed, w, ma, mb)
	l.run()
	if l.a.State() != proto.StateOpened || l.b.State() != proto.StateOpened {
		t.Fatalf("seed %d: handshake ended in %v, %v: %s", seed, l.a.State(), l.b.State(), l.faults())
	}
	return l
}

// written drains a's output in short writes of 1..maxWrite bytes and returns the bytes and
// the most bytes one Output handed out.
func (l *link) written(maxWrite int) (out []byte, most int) {
	for {
		iov := l.a.Output()
		if len(iov) == 0 {
			return out, most
		}
		offered := 0
		for _, s := range iov {
			offered += len(s)
		}
		most = max(most, offered)
		n, w := 1+l.rand.IntN(maxWrite), 0
		for _, s := range iov {
			k := min(len(s), n-w)
			out = append(out, s[:k]...)
			w += k
			if w == n {
				break
			}
		}
		l.a.Wrote(w)
	}
}

// With WriteChunk the data crc is computed a chunk at a time as the chunks are handed out, in
// short writes that stop anywhere: the bytes written are the same as those of a sender that
// computes the whole crc when it encodes the message, with crcs on or off, with the 21-byte
// and the 13-byte footer, and the receiver verifies and delivers every message.
func TestWriteChunkSameBytes(t *testing.T) {
	for _, tc := range []struct {
		name               string
		crcHeader, crcData bool
		msgAuth            bool
		writes             int
		limited            bool // WriteChunk bounds what an Output hands out
	}{
		{"crcs", true, true, true, 700, true},
		{"crcs-long-writes", true, true, true, 5000, true},
		{"old-footer", true, true, false, 700, true},
		{"no-data-crc", true, false, true, 700, false},
		{"no-header-crc", false, true, true, 700, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pa, pb := proto.LosslessPeer(0), proto.LosslessPeer(0)
			if !tc.msgAuth {
				pa.FeaturesSupported &^= wire.FeatureMsgAuth
			}
			for seed := uint64(1); seed <= 40; seed++ {
				var streams [2][]byte
				for i, chunk := range []int{0, testChunk} {
					l := openLink(t, seed, func(c *proto.Config) {
						c.CRCHeader, c.CRCData = tc.crcHeader, tc.crcData
					}, chunk, pa, pb)
					ms := chunkMessages(detrand.NewSeeded(seed), 12)
					for _, m := range ms {
						l.a.Send(m)
					}
					var most int
					streams[i], most = l.written(tc.writes)
					// With chunks, an Output hands out less than two chunks of the long data
					// sections (the one partly written, the one just summed) besides the other
					// bytes; without, the whole batch at first.
					chunked := 0
					for _, m := range ms {
						if len(m.Data) > testChunk {
							chunked += len(m.Data)
						}
					}
					bound := 2*testChunk + len(streams[i]) - chunked
					if limited := chunk > 0 && tc.limited; limited != (most <= bound) && chunked > 2*testChunk {
						t.Fatalf("seed %d chunk %d: an Output handed out %d bytes; bound %d (%d bytes of long data sections)",
							seed, chunk, most, bound, chunked)
					}
					l.aToB = append(l.aToB, streams[i]...)
					l.run()
					if got := l.mb.Delivered; len(got) != len(ms) || l.faults() != "" {
						t.Fatalf("seed %d chunk %d: %d of %d delivered, faults %s", seed, chunk, len(got), len(ms), l.faults())
					}
					for j, m := range l.mb.Delivered {
						if !bytes.Equal(m.Data, ms[j].Data) || m.Footer != ms[j].Footer {
							t.Fatalf("seed %d chunk %d: message %d arrived as %v footer %+v, sent footer %+v",
								seed, chunk, j, m, m.Footer, ms[j].Footer)
						}
					}
				}
				if !bytes.Equal(streams[0], streams[1]) {
					t.Fatalf("seed %d: %d bytes written with WriteChunk, %d without; first difference at %d",
						seed, len(streams[1]), len(streams[0]), firstDiff(streams[0], streams[1]))
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// A lossless session cut while a long message is half written (its data crc half computed,
// its footer not yet encoded) resends it on the next socket: the resent message's crc covers
// all of its data once, its footer and signature are right, and the peer delivers every
// message exactly once without a crc failure.
func TestWriteChunkResendAfterCut(t *testing.T) {
	for seed := uint64(1); seed <= 150; seed++ {
		w, ma, mb := newLinkWorld(proto.LosslessClient(0), proto.StatefulServer(0))
		ma.Cfg.WriteChunk = testChunk
		l := startLink(t, seed, w, ma, mb)
		l.maxChunk = 1 + l.rand.IntN(3000)
		// Open the session, then write part of the messages: a few short writes at a time,
		// so that the cut may come anywhere, in the middle of a long message included.
		l.run()
		ms := chunkMessages(detrand.NewSeeded(seed), 10)
		for _, m := range ms {
			l.a.Send(m)
		}
		writes := 1 + l.rand.IntN(60)
		for i := 0; i < writes; i++ {
			iov := l.a.Output()
			if len(iov) == 0 {
				break
			}
			n := min(len(iov[0]), 1+l.rand.IntN(l.maxChunk))
			l.aToB = append(l.aToB, iov[0][:n]...)
			l.a.Wrote(n)
			l.deliver(l.b, &l.aToB)
			l.flush(l.b, &l.bToA)
			l.deliver(l.a, &l.bToA)
		}
		l.cut()
		l.reaccept()
		got := l.mb.Delivered
		if len(got) != len(ms) {
			t.Fatalf("seed %d: server delivered %d of %d: %s (faults %s)", seed, len(got), len(ms), describe(got), l.faults())
		}
		for i, m := range got {
			if string(m.Front) != string(ms[i].Front) || !bytes.Equal(m.Data, ms[i].Data) {
				t.Fatalf("seed %d: message %d is %v", seed, i, m)
			}
			if want := wire.CRC32C(0, m.Data); m.Footer.DataCRC != want {
				t.Fatalf("seed %d: message %d data crc %#x, want %#x", seed, i, m.Footer.DataCRC, want)
			}
		}
		for _, f := range l.w.Faults {
			if errors.Is(f.Err, wire.ErrBadCRC) {
				t.Fatalf("seed %d: %s faulted in %v: %v", seed, f.Node.Name, f.State, f.Err)
			}
		}
	}
}
