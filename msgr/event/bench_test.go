//go:build linux

package event_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
)

// newEpollCenter is a center on the real stack, closed at the end of the test.
func newEpollCenter(tb testing.TB) (*event.Center, *epoll.Stack) {
	tb.Helper()
	st := epoll.New(epoll.Options{})
	c, err := event.NewCenter(0, "bench/w0", st, detrand.NewSeeded(1))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c, st
}

// readySocket registers the server end of a loopback connection that has unread bytes, so
// every Step finds it readable (level-triggered) and calls handler.
func readySocket(tb testing.TB, c *event.Center, st *epoll.Stack, handler event.FileHandler) {
	tb.Helper()
	l, err := st.Listen(netip.MustParseAddrPort("127.0.0.1:0"), 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = l.Close() })
	cli, err := st.Connect(l.Addr())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cli.Close() })
	var srv netio.Socket
	for deadline := time.Now().Add(5 * time.Second); srv == nil; {
		if srv, err = l.Accept(); err != nil && time.Now().After(deadline) {
			tb.Fatalf("accept: %v", err)
		}
	}
	tb.Cleanup(func() { _ = srv.Close() })
	for deadline := time.Now().Add(5 * time.Second); cli.ConnectError() != nil; {
		if time.Now().After(deadline) {
			tb.Fatal("connect did not finish")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := cli.Writev([][]byte{[]byte("ready")}); err != nil {
		tb.Fatal(err)
	}
	if err := c.CreateFileEvent(srv.FD(), netio.Read, handler); err != nil {
		tb.Fatal(err)
	}
}

// stepOps are the EventCenter operations measured, each one Step plus what makes it work.
func stepOps(tb testing.TB) []struct {
	name string
	op   func()
} {
	sc, _, _, _ := newSimCenterTB(tb)
	ec, _ := newEpollCenter(tb)
	fc, fst := newEpollCenter(tb)
	calls := 0
	cb := func() { calls++ }
	readySocket(tb, fc, fst, func(int, netio.Events) { calls++ })
	tc, _ := newEpollCenter(tb)
	id := tc.CreateTimeEvent(time.Hour, cb)
	at := time.Hour
	fired, _, _, _ := newSimCenterTB(tb)
	return []struct {
		name string
		op   func()
	}{
		{"sim/post", func() { sc.Post(cb); mustStep(tb, sc) }},
		{"epoll/post", func() { ec.Post(cb); mustStep(tb, ec) }},
		{"epoll/ready-fd", func() { mustStep(tb, fc) }},
		// a timer created, fired, created again (a connection re-arms its deadline after it
		// fired), and one created and deleted: the center reuses their timers
		{"sim/fire-timer", func() { fired.CreateTimeEventAt(fired.Now(), cb); mustStep(tb, fired) }},
		{"sim/delete-timer", func() { fired.DeleteTimeEvent(fired.CreateTimeEvent(time.Hour, cb)) }},
		{"epoll/reset-timer", func() {
			at += time.Millisecond
			id, _ = tc.ResetTimeEvent(id, at)
			mustStep(tb, tc)
		}},
	}
}

func mustStep(tb testing.TB, c *event.Center) {
	if _, err := c.Step(0); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkStep is one iteration of an event loop: a posted callback (simulated and real
// poller), a readable socket, and a timer moved, as a connection's idle deadline is on
// every message.
func BenchmarkStep(b *testing.B) {
	for _, o := range stepOps(b) {
		b.Run(o.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				o.op()
			}
		})
	}
}

// TestStepAllocs pins the event loop's steady state at zero allocations.
func TestStepAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation changes allocations")
	}
	for _, o := range stepOps(t) {
		for range 3 {
			o.op() // warm: the posted-callback slices grow once
		}
		if n := testing.AllocsPerRun(100, o.op); n != 0 {
			t.Errorf("%s: %v allocations per step, want 0", o.name, n)
		}
	}
}
