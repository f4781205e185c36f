package proto_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/proto/prototest"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// TestInterruptedPeerResetForgetsInSeq is quirk Q15. osd.1 and osd.2 hold a lossless_peer
// session (no resetcheck) in which osd.2 received five messages. osd.1 restarts with the same
// address and nonce and connects with connect_seq 0: rule 8e, the existing session takes the
// socket over knowing the peer restarted. The socket fails before the open. Ceph's fault
// clears is_reset_from_peer, so the open that would have zeroed in_seq never comes, and the
// next reconnect exchanges the old instance's in_seq: the new instance's messages, numbered
// from 1, are dropped as old and acknowledged. Found by the default sweep, seed 4774
// (sim.TestSwarmRegressions). Here in_seq is forgotten when the socket is adopted.
func TestInterruptedPeerResetForgetsInSeq(t *testing.T) {
	l := newLink(t, 1, proto.LosslessPeer(0), proto.LosslessPeer(0))
	for i := 1; i <= 5; i++ {
		l.a.Send(ping(uint64(i), fmt.Sprintf("m%d", i)))
	}
	l.run()
	if _, in, _, _ := l.b.Seqs(); in != 5 || len(l.mb.Delivered) != 5 {
		t.Fatalf("before the restart: in_seq %d, %d delivered, want 5 and 5 (faults %s)", in, len(l.mb.Delivered), l.faults())
	}

	// osd.1's new instance: same address and nonce, a fresh connector (connect_seq 0). The
	// old instance's socket is gone without a word to osd.2.
	ma2 := l.w.NewMsgr(wire.NewName(wire.EntityOSD, 1), addrA, 10, proto.LosslessPeer(0))
	l.ha = l.w.NewConnector("a2", ma2, l.mb, l.mb.Addr)
	l.a = l.ha.C
	l.aToB, l.bToA = nil, nil
	nbh := l.w.NewNode("b2", l.mb)
	nb := proto.NewAcceptor(l.mb.Cfg, nbh, wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.1:40001"), 0))
	nbh.C = nb
	nb.Start()
	l.a.Connected()
	existing := l.b
	for i := 0; i < 1000 && nbh.Handover == nil; i++ {
		l.flush(l.a, &l.aToB)
		l.deliver(nb, &l.aToB)
		l.flush(nb, &l.bToA)
		l.deliver(l.a, &l.bToA)
	}
	h := nbh.Handover
	if h == nil || !h.ResetFromPeer {
		t.Fatalf("no replace for a restarted peer (handover %+v, decisions %v)", h, l.mb.Decisions)
	}
	existing.Adopt(h.Connect, h.ResetFromPeer, nb.TakeInput())

	// The adopted socket fails before the retry's connect message arrives.
	existing.TransportError(prototest.ErrCut)
	if _, in, _, _ := existing.Seqs(); in != 0 {
		t.Errorf("after a replace for a restarted peer cut before its open: in_seq %d, want 0 "+
			"(the new instance numbers from 1; its messages would be dropped as old)", in)
	}
}
