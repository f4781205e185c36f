package proto

import (
	"fmt"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

func TestHandshakeSeqAndMessagesBothWays(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		l := newLink(t, seed, LosslessPeer(0), LosslessPeer(0))
		for i := 0; i < 20; i++ {
			l.a.Send(ping(uint64(i), fmt.Sprintf("a%d", i)))
			l.b.Send(ping(uint64(i), fmt.Sprintf("b%d", i)))
		}
		l.run()
		if l.a.State() != StateOpened || l.b.State() != StateOpened {
			t.Fatalf("seed %d: states %v / %v; faults a=%v b=%v", seed, l.a.State(), l.b.State(), l.ha.faults, l.hb.faults)
		}
		if got := len(l.hb.delivered); got != 20 {
			t.Fatalf("seed %d: b got %d messages: %s", seed, got, describe(l.hb.delivered))
		}
		if got := len(l.ha.delivered); got != 20 {
			t.Fatalf("seed %d: a got %d messages", seed, got)
		}
		for i, m := range l.hb.delivered {
			if m.Header.Seq != uint64(i+1) || string(m.Front) != fmt.Sprintf("a%d", i) {
				t.Fatalf("seed %d: b message %d = seq %d %q", seed, i, m.Header.Seq, m.Front)
			}
			if m.Header.Src != wire.NewName(wire.EntityOSD, 1) {
				t.Fatalf("src %v", m.Header.Src)
			}
		}
		if d := l.hb.decisions; len(d) != 1 || d[0].Verdict != VerdictOpen {
			t.Fatalf("decisions %+v", d)
		}
		// Every message acknowledged: nothing left to resend.
		if l.a.Queued() != 0 || l.b.Queued() != 0 {
			t.Fatalf("seed %d: unacked a=%d b=%d", seed, l.a.Queued(), l.b.Queued())
		}
		if l.ha.events[0] != EventConnect || l.hb.events[0] != EventAccept {
			t.Fatalf("events %v %v", l.ha.events, l.hb.events)
		}
	}
}

func TestLossySessionNeverAcks(t *testing.T) {
	l := newLink(t, 3, LossyClient(0), StatelessServer(0))
	for i := 0; i < 5; i++ {
		l.a.Send(ping(uint64(i), "x"))
	}
	l.run()
	if len(l.hb.delivered) != 5 {
		t.Fatalf("delivered %d", len(l.hb.delivered))
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
	l := newLink(t, 1, LossyClient(0), StatelessServer(0))
	l.b.Feed([]byte("ceph v2\n\x00\x00"))
	if l.b.State() != StateClosed {
		t.Fatalf("state %v after bad banner", l.b.State())
	}
	if len(l.hb.faults) != 1 {
		t.Fatalf("faults %v", l.hb.faults)
	}
}

func TestMessageFrameMatchesSpecVector(t *testing.T) {
	l := newLink(t, 1, LossyClient(0), StatelessServer(0))
	l.run()
	m := wire.NewMessage(wire.MsgPing, nil)
	m.Header.Priority = wire.PrioDefault
	l.a.cfg.MyName = wire.NewName(wire.EntityClient, -1)
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
	var now time.Duration
	for _, connector := range []bool{true, false} {
		h := newTestHost("a", &now, addrA, LosslessPeer(0))
		c := NewConnector(testConfig(wire.NewName(wire.EntityOSD, 1)), h, addrB, wire.EntityOSD, LosslessPeer(0), Throttles{})
		if !connector {
			c = NewAcceptor(testConfig(wire.NewName(wire.EntityOSD, 1)), h, addrB)
		}
		c.Send(ping(1, "queued"))
		c.Stop()
		c.Start()
		if c.State() != StateClosed || h.connects != 0 || c.HasOutput() {
			t.Fatalf("connector %v: after Stop then Start: state %v, connects %d, output %v", connector, c.State(), h.connects, c.HasOutput())
		}
		if c.Send(ping(2, "after")) {
			t.Fatalf("connector %v: a closed connection took a message", connector)
		}
	}
}
