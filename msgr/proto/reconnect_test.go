package proto

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

var errCut = errors.New("test: connection cut")

// cut fails the transport under both ends and loses the bytes in flight.
func (l *link) cut() {
	l.aToB, l.bToA = nil, nil
	l.a.TransportError(errCut)
	l.b.TransportError(errCut)
}

// reaccept models the acceptor side of a new TCP connection from a: a fresh acceptor conn on
// b's host, with b's existing session registered. A Replace verdict is carried out the way
// the messenger does: the existing session adopts the socket.
func (l *link) reaccept() {
	nb := NewAcceptor(testConfig(wire.NewName(wire.EntityOSD, 2)), l.hb,
		wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.1:40001"), 0))
	old := l.b
	l.hb.existing = old
	l.b = nb
	nb.Start()
	l.a.Connected()
	for i := 0; i < 1000; i++ {
		l.flushAll()
		moved := l.deliver(l.b, &l.aToB)
		if n := len(l.hb.decisions); n > 0 && l.hb.decisions[n-1].Verdict == VerdictReplace && l.b == nb {
			old.MarkReplacing()
			old.Adopt(nb.connectMsg, l.hb.decisions[n-1].ResetFromPeer, nb.TakeInput())
			l.b = old
			l.hb.existing = nil // the registry now finds the asking connection itself
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
		l := newLink(t, seed, LosslessClient(0), StatefulServer(0))
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
		if l.a.State() != StateStartConnect {
			t.Fatalf("seed %d: connector in %v after fault, want START_CONNECT", seed, l.a.State())
		}
		if s := l.b.State(); s != StateStandby && s != StateClosed {
			t.Fatalf("seed %d: server in %v after fault", seed, s)
		}
		l.reaccept()
		got := l.hb.delivered
		if len(got) != 10 {
			t.Fatalf("seed %d: server dispatched %d messages: %s (faults a=%v b=%v decisions %v)",
				seed, len(got), describe(got), l.ha.faults, l.hb.faults, l.hb.decisions)
		}
		for i, m := range got {
			if string(m.Front) != fmt.Sprintf("m%d", i+1) {
				t.Fatalf("seed %d: message %d is %q: %s", seed, i, m.Front, describe(got))
			}
		}
		if l.a.State() != StateOpened || l.b.State() != StateOpened {
			t.Fatalf("seed %d: states %v %v", seed, l.a.State(), l.b.State())
		}
	}
}
