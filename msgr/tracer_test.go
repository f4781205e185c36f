package msgr_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// A Tracer may read a connection while the connection's lock is held (it is called from the
// middle of a step): introspection reads the published view and never waits. Before the view,
// State or Seqs from a Tracer deadlocked on the connection's own lock.
func TestTracerMayReadTheConnection(t *testing.T) {
	w := world.New(7, simnet.Config{Latency: 50 * time.Microsecond}, false)
	reads, opened := 0, false
	tracer := func(ev msgr.TraceEvent) {
		c := ev.Conn
		if c == nil {
			return
		}
		s := c.State()
		out, in, _, _ := c.Seqs()
		_ = c.LastReplyTag()
		_ = c.Queued()
		_ = c.Features()
		_ = c.LastFault()
		_, _ = c.RegisteredAs()
		if in > out+1000 {
			t.Errorf("implausible seqs out %d in %d", out, in)
		}
		opened = opened || s == proto.StateOpened
		reads++
	}
	var nodes [2]*msgr.Messenger
	var recs [2]*recorder
	for i := range nodes {
		ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
		h := w.AddHost("osd", ip)
		m, err := msgr.New(msgr.Config{Name: wire.NewName(wire.EntityOSD, int64(i)), Stack: h, Runtime: w,
			Rand: w.Rand(), ClusterProtocol: 10, Tracer: tracer})
		if err != nil {
			t.Fatal(err)
		}
		m.SetPolicy(wire.EntityOSD, proto.LosslessPeer(0))
		if err := m.Bind(netip.AddrPortFrom(ip, 0)); err != nil {
			t.Fatal(err)
		}
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
		recs[i] = newRecorder(i == 0)
		m.AddDispatcherTail(recs[i])
		nodes[i] = m
	}
	a, b := &node{nodes[0], recs[0]}, &node{nodes[1], recs[1]}
	const n = 20
	sendN(t, a, b, wire.EntityOSD, n)
	sendN(t, b, a, wire.EntityOSD, n)
	if err := w.RunUntil(func() bool { return a.rec.count() == n && b.rec.count() == n }, time.Minute, 1_000_000); err != nil {
		t.Fatalf("%v (a got %d, b got %d)", err, a.rec.count(), b.rec.count())
	}
	if reads == 0 || !opened {
		t.Fatalf("the tracer read %d times and never saw an open session", reads)
	}
}
