package msgr

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

type countingFast struct {
	NopDispatcher
	n atomic.Int64
}

func (d *countingFast) CanFastDispatchAny() bool      { return true }
func (d *countingFast) CanFastDispatch(*Message) bool { return true }
func (d *countingFast) FastDispatch(c *Connection, m *Message) {
	c.Messenger().Release(m)
	d.n.Add(1)
}

// takes is how many buffers the centers of ms lent their connections.
func takes(ms ...*Messenger) uint64 {
	n := uint64(0)
	for _, m := range ms {
		for i := range m.bufCaches {
			b := &m.bufCaches[i]
			b.mu.Lock()
			n += b.takes
			b.mu.Unlock()
		}
	}
	return n
}

// holds reports whether c holds its prefetch buffer.
func holds(c *Connection) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.p.Inspect().PrefetchHeld
}

// A connection keeps its prefetch buffer (and arenas) while it is busy, across the drains
// between its messages, and gives them back to its center once the center has run without
// it for idleBufferAge (a sweep, riding on the center's steps in a simulation): a busy
// connection takes no lock for its buffers, an idle one holds none.
func TestIdleConnectionGivesBuffersBack(t *testing.T) {
	w := world.New(7, simnet.Config{Latency: 50 * time.Microsecond}, false)
	mk := func(name wire.EntityName, ip string) (*Messenger, *countingFast) {
		h := w.AddHost(name.String(), netip.MustParseAddr(ip))
		m, err := New(Config{Name: name, Stack: h, Runtime: w, Rand: w.Rand(), Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		m.SetPolicy(wire.EntityOSD, proto.LosslessPeer(0))
		if err := m.Bind(netip.AddrPortFrom(netip.MustParseAddr(ip), 0)); err != nil {
			t.Fatal(err)
		}
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
		d := &countingFast{}
		m.AddDispatcherTail(d)
		return m, d
	}
	a, _ := mk(wire.NewName(wire.EntityOSD, 0), "10.0.0.1")
	b, got := mk(wire.NewName(wire.EntityOSD, 1), "10.0.0.2")
	conn, err := a.ConnectTo(wire.EntityOSD, b.MyAddr())
	if err != nil {
		t.Fatal(err)
	}
	run := func(what string, done func() bool) {
		t.Helper()
		if err := w.RunUntil(done, time.Hour, 1_000_000); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// Busy: a message every 10 ms for half a second, each acknowledged long before the next.
	const rounds = 50
	var warm uint64
	for i := range rounds {
		if err := conn.SendMessage(a.NewMessage(wire.MsgPing, nil)); err != nil {
			t.Fatal(err)
		}
		run("message delivered", func() bool { return got.n.Load() == int64(i+1) && conn.Queued() == 0 })
		srv := b.AppendConnections(nil)
		if len(srv) != 1 {
			t.Fatalf("the server has %d connections", len(srv))
		}
		if i > 0 && (!holds(conn) || !holds(srv[0])) {
			t.Fatalf("round %d: a busy connection gave its prefetch buffer back (client %v, server %v)",
				i, holds(conn), holds(srv[0]))
		}
		if i == 1 {
			warm = takes(a, b)
		} else if n := takes(a, b); i > 1 && n != warm {
			t.Fatalf("round %d: the busy connection took %d buffers from its centers since round 1", i, n-warm)
		}
		next := w.Now() + 10*time.Millisecond
		w.Schedule(next, func() {})
		run("the next round's time", func() bool { return w.Now() >= next })
	}
	srv := b.AppendConnections(nil)[0]
	// Idle: nothing but a posted no-op on each center every 50 ms (the steps a sweep rides on
	// in a simulation; a production center wakes for its sweep).
	start := w.Now()
	for k := 1; k <= 6; k++ {
		at := start + time.Duration(k)*idleBufferAge/2
		w.Schedule(at, func() {
			conn.center.Post(func() {})
			srv.center.Post(func() {})
		})
	}
	end := start + 3*idleBufferAge
	run("idle time", func() bool { return w.Now() >= end && !w.HasJobs() && w.Quiet() })
	if holds(conn) || holds(srv) {
		t.Fatalf("idle for %v: client holds its prefetch buffer %v, server %v", w.Now()-start, holds(conn), holds(srv))
	}
	for _, m := range []*Messenger{a, b} {
		for i := range m.bufCaches {
			if n := len(m.bufCaches[i].holders); n != 0 {
				t.Errorf("%v: center %d still lists %d holders", m.Name(), i, n)
			}
		}
	}
	// Busy again: it takes its buffers back.
	if err := conn.SendMessage(a.NewMessage(wire.MsgPing, nil)); err != nil {
		t.Fatal(err)
	}
	run("message delivered", func() bool { return got.n.Load() == rounds+1 && conn.Queued() == 0 })
	if !holds(conn) || !holds(srv) {
		t.Fatalf("after a new message: client holds its prefetch buffer %v, server %v", holds(conn), holds(srv))
	}
}
