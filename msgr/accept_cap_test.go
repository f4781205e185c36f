package msgr_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// stepStack counts the sockets its listener accepts by world step: the accepts of one
// readiness report all run in one step.
type stepStack struct {
	netio.Stack
	w      *world.World
	counts map[uint64]int // by step: sockets accepted
}

func (s *stepStack) Listen(addr netip.AddrPort, backlog int) (netio.Listener, error) {
	l, err := s.Stack.Listen(addr, backlog)
	if err != nil {
		return nil, err
	}
	return &stepListener{Listener: l, s: s}, nil
}

type stepListener struct {
	netio.Listener
	s *stepStack
}

func (l *stepListener) Accept() (netio.Socket, error) {
	so, err := l.Listener.Accept()
	if err == nil {
		l.s.counts[l.s.w.Steps()]++
	}
	return so, err
}

// A flood of connections waiting in the backlog is accepted at most 64 per readiness report
// (maxAcceptsPerEvent), the rest at the next, so that the listener's center serves its other
// sockets in between (the seed-1 mutant 3, the loop's && turned into ||, accepted the whole
// backlog at once; no simulated workload floods a listener, so only this test sees it).
func TestAcceptsPerReadinessAreCapped(t *testing.T) {
	const flood = 100
	w := world.New(1, simnet.Config{Latency: 100 * time.Microsecond}, false)
	ip := netip.MustParseAddr("10.0.0.2")
	st := &stepStack{Stack: w.AddHost("osd.0", ip), w: w, counts: map[uint64]int{}}
	m, err := msgr.New(msgr.Config{Name: wire.NewName(wire.EntityOSD, 0), Stack: st, Runtime: w, Rand: w.Rand(), ClusterProtocol: 10})
	if err != nil {
		t.Fatal(err)
	}
	m.SetDefaultPolicy(proto.StatelessServer(0))
	if err := m.Bind(netip.AddrPortFrom(ip, 6800)); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	m.AddDispatcherTail(&msgr.NopDispatcher{})
	client := w.AddHost("client", netip.MustParseAddr("10.0.0.1"))
	for range flood {
		if _, err := client.Connect(m.MyAddr().Addr); err != nil {
			t.Fatal(err)
		}
	}
	accepted := func() int {
		n := 0
		for _, c := range st.counts {
			n += c
		}
		return n
	}
	if err := w.RunUntil(func() bool { return accepted() == flood }, time.Second, 1_000_000); err != nil {
		t.Fatalf("%d of %d connections accepted: %v", accepted(), flood, err)
	}
	most := 0
	for _, c := range st.counts {
		most = max(most, c)
	}
	if most != 64 {
		t.Fatalf("at most %d sockets accepted in one step, want 64 (the cap, reached by the flood): %v", most, st.counts)
	}
	m.Shutdown()
	if err := w.RunUntil(m.Finished, 2*time.Second, 1_000_000); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
