package fault

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/simnet"
)

// benchConversation is a session as the simulator sees one: a SEQ handshake, then n small
// messages each way, an ACK after every message and a KEEPALIVE2 every 16.
func benchConversation(n int) (c2s, s2c []byte) {
	c2s = wire.LegacyAddr(simnetAddr(2), 2).AppendLegacy(wire.AppendBanner(nil))
	s2c = wire.LegacyAddr(simnetAddr(2), 0).AppendLegacy(wire.LegacyAddr(simnetAddr(1), 1).AppendLegacy(wire.AppendBanner(nil)))
	c2s = (&wire.Connect{Features: wire.FeaturesAll, HostType: wire.EntityOSD, GlobalSeq: 1}).Append(c2s)
	s2c = (&wire.ConnectReply{Tag: wire.TagSeq, Features: wire.FeaturesAll, ConnectSeq: 1}).Append(s2c)
	s2c, c2s = wire.AppendSeq(s2c, 0), wire.AppendSeq(c2s, 0)
	for i := range n {
		for _, dst := range []*[]byte{&c2s, &s2c} {
			m := &wire.Message{Header: wire.Header{Seq: uint64(i + 1), Type: 2, Priority: wire.PrioDefault}, Front: make([]byte, 100)}
			m.Seal(true, true)
			*dst = wire.AppendAck(wire.AppendMessageFrame(*dst, m, false), uint64(i+1))
			if i%16 == 0 {
				*dst = wire.AppendKeepalive2(*dst, wire.Timespec{Sec: uint32(i)})
			}
		}
	}
	return c2s, s2c
}

// BenchmarkFrameTracker feeds a conversation of small messages to the tracker in writes of
// the given size (handshake first, as written), and one Chunk per write: the tracker's work
// per byte the simulator moves.
func BenchmarkFrameTracker(b *testing.B) {
	c2s, s2c := benchConversation(1000)
	handshake := wire.ClientGreetingLen + wire.ConnectLen
	for _, chunk := range []int{1, 61, 4096} {
		b.Run("write="+strconv.Itoa(chunk), func(b *testing.B) {
			b.SetBytes(int64(len(c2s) + len(s2c)))
			b.ReportAllocs()
			for b.Loop() {
				tr := newFrameTracker(detrand.NewSeeded(1), detrand.Ratio{Num: 1, Den: 4})
				cs, ss := simnet.StreamID{Conn: 1, Dir: simnet.ClientToServer}, simnet.StreamID{Conn: 1, Dir: simnet.ServerToClient}
				feed := func(s simnet.StreamID, p []byte, from, to int) {
					for off := from; off < to; off += chunk {
						end := min(off+chunk, to)
						tr.Written(s, uint64(off), p[off:end])
						tr.Chunk(s, simnet.OpWrite, uint64(off), end-off)
					}
				}
				feed(cs, c2s, 0, handshake)
				feed(ss, s2c, 0, len(s2c))
				feed(cs, c2s, handshake, len(c2s))
			}
		})
	}
}

func simnetAddr(i byte) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, i}), 6800)
}
