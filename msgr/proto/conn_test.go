package proto_test

import (
	"fmt"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

func TestHandshakeSeqAndMessagesBothWays(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		l := newLink(t, seed, proto.LosslessPeer(0), proto.LosslessPeer(0))
		for i := 0; i < 20; i++ {
			l.a.Send(ping(uint64(i), fmt.Sprintf("a%d", i)))
			l.b.Send(ping(uint64(i), fmt.Sprintf("b%d", i)))
		}
		l.run()
		if l.a.State() != proto.StateOpened || l.b.State() != proto.StateOpened {
			t.Fatalf("seed %d: states %v / %v; faults %s", seed, l.a.State(), l.b.State(), l.faults())
		}
		if got := len(l.hb.Delivered); got != 20 {
			t.Fatalf("seed %d: b got %d messages: %s", seed, got, describe(l.hb.Delivered))
		}
		if got := len(l.ha.Delivered); got != 20 {
			t.Fatalf("seed %d: a got %d messages", seed, got)
		}
		for i, m := range l.hb.Delivered {
			if m.Header.Seq != uint64(i+1) || string(m.Front) != fmt.Sprintf("a%d", i) {
				t.Fatalf("seed %d: b message %d = seq %d %q", seed, i, m.Header.Seq, m.Front)
			}
			if m.Header.Src != wire.NewName(wire.EntityOSD, 1) {
				t.Fatalf("src %v", m.Header.Src)
			}
		}
		if d := l.mb.Decisions; len(d) != 1 || d[0].Verdict != proto.VerdictOpen {
			t.Fatalf("decisions %+v", d)
		}
		// Every message acknowledged: nothing left to resend.
		if l.a.Queued() != 0 || l.b.Queued() != 0 {
			t.Fatalf("seed %d: unacked a=%d b=%d", seed, l.a.Queued(), l.b.Queued())
		}
		if l.ha.Events[0] != proto.EventConnect || l.hb.Events[0] != proto.EventAccept {
			t.Fatalf("events %v %v", l.ha.Events, l.hb.Events)
		}
	}
}

func TestLossySessionNeverAcks(t *testing.T) {
	l := newLink(t, 3, proto.LossyClient(0), proto.StatelessServer(0))
	for i := 0; i < 5; i++ {
		l.a.Send(ping(uint64(i), "x"))
	}
	l.run()
	if len(l.hb.Delivered) != 5 {
		t.Fatalf("delivered %d", len(l.hb.Delivered))
	}
	if !l.a.Policy().Lossy {
		t.Fatal("client did not adopt the server's lossy flag")
	}
	if l.a.Queued() != 0 {
		t.Fatalf("lossy sender kept %d messages", l.a.Queued())
	}
	l.b.Send(ping(1, "y"))
	l.run()
	for _, b := range [][]byte{l.aToB, l.bToA} {
		if len(b) != 0 {
			t.Fatalf("bytes left in flight")
		}
	}
}

func TestBadBannerFaults(t *testing.T) {
	l := newLink(t, 1, proto.LossyClient(0), proto.StatelessServer(0))
	l.b.Feed([]byte("ceph v2\n\x00\x00"))
	if l.b.State() != proto.StateClosed {
		t.Fatalf("state %v after bad banner", l.b.State())
	}
	if len(l.w.Faults) != 1 || l.w.Faults[0].Node != l.hb {
		t.Fatalf("faults %s", l.faults())
	}
}

func TestMessageFrameMatchesSpecVector(t *testing.T) {
	w, ma, mb := newLinkWorld(proto.LossyClient(0), proto.StatelessServer(0))
	ma.Cfg.MyName = wire.NewName(wire.EntityClient, -1)
	l := startLink(t, 1, w, ma, mb)
	l.run()
	if l.a.State() != proto.StateOpened {
		t.Fatalf("session did not open: %v (faults %s)", l.a.State(), l.faults())
	}
	m := wire.NewMessage(wire.MsgPing, nil)
	m.Header.Priority = wire.PrioDefault
	l.a.Send(m)
	var out []byte
	for _, s := range l.a.Output() {
		out = append(out, s...)
	}
	want := "07" + "0100000000000000" + "0000000000000000" + "02007f000100" + "0000000000000000000000000000" +
		"08ffffffffffffffff" + "01000000" + "e092242d" + "000000000000000000000000" + "000000000000000001"
	if got := fmt.Sprintf("%x", out); got != want {
		t.Fatalf("MPing frame\n got %s\nwant %s", got, want)
	}
}

// A connection stopped before it started (marked down while its start was queued) stays
// closed: Start neither asks for a socket nor leaves CLOSED, and a message sent after is
// refused.
func TestStopBeforeStartStaysClosed(t *testing.T) {
	for _, connector := range []bool{true, false} {
		w, ma, _ := newLinkWorld(proto.LosslessPeer(0), proto.LosslessPeer(0))
		h := w.NewNode("a", ma)
		c := proto.NewConnector(ma.Cfg, h, addrB, wire.EntityOSD, proto.LosslessPeer(0), proto.Throttles{})
		if !connector {
			c = proto.NewAcceptor(ma.Cfg, h, addrB)
		}
		h.C = c
		c.Send(ping(1, "queued"))
		c.Stop()
		c.Start()
		if c.State() != proto.StateClosed || h.Dials != 0 || c.HasOutput() {
			t.Fatalf("connector %v: after Stop then Start: state %v, connects %d, output %v", connector, c.State(), h.Dials, c.HasOutput())
		}
		if c.Send(ping(2, "after")) {
			t.Fatalf("connector %v: a closed connection took a message", connector)
		}
	}
}
