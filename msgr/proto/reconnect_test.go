package proto_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/proto/prototest"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// cut fails the transport under both ends and loses the bytes in flight.
func (l *link) cut() {
	l.aToB, l.bToA = nil, nil
	l.a.TransportError(prototest.ErrCut)
	l.b.TransportError(prototest.ErrCut)
}

// reaccept models the acceptor side of a new TCP connection from a: a fresh acceptor conn on
// b's messenger, whose registry holds b's existing session. A replace is carried out the way
// the messenger does: the accept decision marks the existing session replacing (prototest's
// AcceptConnect), then the existing session adopts the socket.
func (l *link) reaccept() {
	nbh := l.w.NewNode("b2", l.mb)
	nb := proto.NewAcceptor(l.mb.Cfg, nbh, wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.1:40001"), 0))
	nbh.C = nb
	old := l.b
	l.b = nb
	nb.Start()
	l.a.Connected()
	for i := 0; i < 1000; i++ {
		l.flushAll()
		moved := l.deliver(l.b, &l.aToB)
		if h := nbh.Handover; h != nil && l.b == nb {
			nbh.Handover = nil
			old.Adopt(h.Connect, h.ResetFromPeer, nb.TakeInput())
			l.b = old // the registry holds the session that adopted the socket: the retry finds itself
			continue
		}
		if !moved && !l.deliver(l.a, &l.bToA) && len(l.aToB) == 0 && len(l.bToA) == 0 {
			break
		}
	}
	l.run()
}

func (l *link) flushAll() {
	l.flush(l.a, &l.aToB)
	l.flush(l.b, &l.bToA)
}

func TestReconnectReplacesAndResendsUnacked(t *testing.T) {
	for seed := uint64(1); seed <= 100; seed++ {
		l := newLink(t, seed, proto.LosslessClient(0), proto.StatefulServer(0))
		l.maxChunk = 40
		for i := 1; i <= 10; i++ {
			l.a.Send(ping(uint64(i), fmt.Sprintf("m%d", i)))
		}
		// Move only part of the traffic, then cut the connection under both ends.
		steps := 1 + l.rand.IntN(12)
		for i := 0; i < steps; i++ {
			l.flushAll()
			l.deliver(l.b, &l.aToB)
			l.deliver(l.a, &l.bToA)
		}
		l.cut()
		if l.a.State() != proto.StateStartConnect {
			t.Fatalf("seed %d: connector in %v after fault, want START_CONNECT", seed, l.a.State())
		}
		if s := l.b.State(); s != proto.StateStandby && s != proto.StateClosed {
			t.Fatalf("seed %d: server in %v after fault", seed, s)
		}
		l.reaccept()
		got := l.mb.Delivered
		if len(got) != 10 {
			t.Fatalf("seed %d: server dispatched %d messages: %s (faults %s decisions %v)",
				seed, len(got), describe(got), l.faults(), l.mb.Decisions)
		}
		for i, m := range got {
			if string(m.Front) != fmt.Sprintf("m%d", i+1) {
				t.Fatalf("seed %d: message %d is %q: %s", seed, i, m.Front, describe(got))
			}
		}
		if l.a.State() != proto.StateOpened || l.b.State() != proto.StateOpened {
			t.Fatalf("seed %d: states %v %v", seed, l.a.State(), l.b.State())
		}
	}
}

// TestThrottlesReturnedAfterCut: a cut that interrupts a message being received (its units
// taken; releaseRx returns them) leaves the session's throttles named in the reservations of
// the messages it delivers afterwards (Reservation.From is kept with the Conn's throttles,
// see setThrottles and releaseRx), so that every unit taken is returned once they are
// dispatched. The receiver is the connector: an acceptor's next handshake sets its
// throttles again (PolicyFor), a connector's keeps those it was created with.
func TestThrottlesReturnedAfterCut(t *testing.T) {
	l := newLink(t, 1, proto.LosslessClient(0), proto.StatefulServer(0))
	l.run()
	if !l.a.State().IsOpen() || !l.b.State().IsOpen() {
		t.Fatalf("session not open: %v / %v", l.a.State(), l.b.State())
	}
	for i := 1; i <= 3; i++ {
		l.b.Send(ping(uint64(i), fmt.Sprintf("message %d %0300d", i, 0)))
	}
	l.flush(l.b, &l.bToA)
	part := 1 + wire.HeaderLen + 100 // the first message's tag, header and part of its front
	if took := l.a.Feed(l.bToA[:part]); took != part {
		t.Fatalf("fed %d bytes, took %d", part, took)
	}
	held := func() int64 { return l.ma.Th[0].Cur + l.ma.Th[1].Cur + l.ma.Th[2].Cur }
	if held() == 0 || len(l.ma.Delivered) != 0 {
		t.Fatalf("before the cut: %d units held, %d delivered; want a message being received",
			held(), len(l.ma.Delivered))
	}
	l.cut()
	if held() != 0 {
		t.Fatalf("the cut left %d units held", held())
	}
	l.reaccept()
	if got := len(l.ma.Delivered); got != 3 {
		t.Fatalf("the connector dispatched %d messages, want 3 (faults %s)", got, l.faults())
	}
	for i := range l.ma.Th {
		if th := &l.ma.Th[i]; th.Cur != 0 {
			t.Errorf("after every delivery was dispatched, %v (want 0 held)", th)
		}
	}
}
