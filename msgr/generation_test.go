package msgr_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// registryState renders what Generation promises to cover: the registry, the live
// connections, their registrations and whether each is closed.
func registryState(m *msgr.Messenger) string {
	var b strings.Builder
	for _, r := range m.AppendRegistry(nil) {
		fmt.Fprintf(&b, "reg %v=%d closed=%v;", r.Addr, r.Conn.ID(), r.Conn.IsClosed())
	}
	for _, c := range m.AppendConnections(nil) {
		a, ok := c.RegisteredAs()
		fmt.Fprintf(&b, "conn %d as %v/%v closed=%v;", c.ID(), a, ok, c.IsClosed())
	}
	return b.String()
}

// Every change of the registry, of the live connections or of a connection's closed state
// moves Generation (the simulator's auditor re-reads the registry only then): checked after
// every step of runs with connection races, a lossy client, an acceptor that registers on its
// own, mark-downs and shutdowns.
func TestGenerationTracksRegistry(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		w := world.New(seed, simnet.Config{Latency: 50 * time.Microsecond}, false)
		a := newSimNode(t, w, wire.NewName(wire.EntityOSD, 0), "10.0.0.1", true, false)
		b := newSimNode(t, w, wire.NewName(wire.EntityOSD, 1), "10.0.0.2", true, true)
		c := newSimNode(t, w, wire.NewName(wire.EntityClient, 4100), "10.0.0.3", false, false)
		d := newSimNode(t, w, wire.NewName(wire.EntityOSD, 2), "10.0.0.4", true, false)
		nodes := []*node{a, b, c, d}
		gens, states := make([]uint64, len(nodes)), make([]string, len(nodes))
		moved := 0
		w.AfterStep = func(*event.Center) {
			for i, n := range nodes {
				g, s := n.m.Generation(), registryState(n.m)
				if s != states[i] && g == gens[i] {
					t.Fatalf("seed %d: %s's registry changed without Generation moving (%d):\nwas %s\nnow %s",
						seed, n.m.Name(), g, states[i], s)
				}
				if g != gens[i] {
					moved++
				}
				gens[i], states[i] = g, s
			}
		}
		const n = 10
		sendN(t, a, b, wire.EntityOSD, n)
		sendN(t, b, a, wire.EntityOSD, n)
		sendN(t, c, a, wire.EntityOSD, n)
		sendN(t, a, d, wire.EntityOSD, n) // d's acceptor registers without replacing anything
		done := func() bool { return a.rec.count() == 2*n && b.rec.count() == n && d.rec.count() == n }
		if err := w.RunUntil(done, time.Minute, 2_000_000); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if conn, err := a.m.ConnectTo(wire.EntityOSD, b.m.MyAddr()); err == nil {
			conn.MarkDown()
		}
		sendN(t, a, b, wire.EntityOSD, n)
		if err := w.RunUntil(func() bool { return w.Quiet() }, time.Minute, 2_000_000); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for _, x := range nodes {
			x.m.Shutdown()
		}
		finished := func() bool { return a.m.Finished() && b.m.Finished() && c.m.Finished() && d.m.Finished() }
		if err := w.RunUntil(finished, 10*time.Minute, 2_000_000); err != nil {
			t.Fatalf("seed %d: shutdown: %v", seed, err)
		}
		if moved < 10 {
			t.Fatalf("seed %d: Generation moved only %d times", seed, moved)
		}
	}
}

// throttleState renders what ThrottleGeneration promises to cover: which throttles
// AppendThrottles lists (their identity and names, not their counts).
func throttleState(m *msgr.Messenger) string {
	var b strings.Builder
	for _, t := range m.AppendThrottles(nil) {
		fmt.Fprintf(&b, "%s=%p/%d;", t.Name, t.Throttle, t.Throttle.Max())
	}
	return b.String()
}

// ThrottleGeneration moves whenever the list of throttles changes (SetPolicy,
// SetPolicyThrottlers), before and after Start, and not otherwise.
func TestThrottleGenerationTracksThrottles(t *testing.T) {
	w := world.New(1, simnet.Config{}, false)
	a := newSimNode(t, w, wire.NewName(wire.EntityOSD, 0), "10.0.0.1", true, false)
	g, s := a.m.ThrottleGeneration(), throttleState(a.m)
	for i, change := range []func(){
		func() { a.m.SetPolicyThrottlers(wire.EntityClient, 1<<20, 100) },
		func() { a.m.SetPolicyThrottlers(wire.EntityClient, 1<<20, 100) }, // new throttles, same limits
		func() { a.m.SetPolicyThrottlers(wire.EntityOSD, 0, 10) },
		func() { a.m.SetPolicyThrottlers(wire.EntityOSD, 0, 0) },
		func() { a.m.SetPolicy(wire.EntityMon, a.m.Policy(wire.EntityMon)) },
	} {
		change()
		ng, ns := a.m.ThrottleGeneration(), throttleState(a.m)
		if ns != s && ng == g {
			t.Fatalf("change %d: the throttles changed without ThrottleGeneration moving:\nwas %s\nnow %s", i, s, ns)
		}
		g, s = ng, ns
	}
	sendN(t, a, a, wire.EntityOSD, 3) // traffic moves counts, not the list
	if err := w.RunUntil(func() bool { return a.rec.count() == 3 }, time.Minute, 100_000); err != nil {
		t.Fatal(err)
	}
	if a.m.ThrottleGeneration() != g || throttleState(a.m) != s {
		t.Fatalf("traffic changed the throttle list or its generation")
	}
}
