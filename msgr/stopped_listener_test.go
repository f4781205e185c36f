//go:build linux

package msgr_test

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// A messenger shut down while its listener backs off after failed accepts must not watch the
// listener again when the backoff ends. With a pool of its own the centers stop with it and
// the backoff timer never fires; with a shared pool (Config.Pool) they keep running, and the
// timer finds the processor stopped and its listener closed. In virtual time, so the timer
// fires for certain.
func TestStoppedListenerIsNotWatchedAgain(t *testing.T) {
	w := world.New(3, simnet.Config{Latency: 50 * time.Microsecond}, false)
	st := &failingStack{Stack: w.AddHost("mon.0", netip.MustParseAddr("10.0.0.1"))}
	st.fail.Store(true)
	pool, err := event.NewPool("shared", 1, st, w, w.Rand())
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	srv, err := msgr.New(msgr.Config{
		Name: wire.NewName(wire.EntityMon, 0), Stack: st, Runtime: w, Rand: w.Rand(), Pool: pool,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetDefaultPolicy(proto.StatelessServer(0))
	if err := srv.Bind(netip.MustParseAddrPort("10.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	srv.AddDispatcherTail(&echoServer{})
	cli := newSimNode(t, w, wire.NewName(wire.EntityClient, 1), "10.0.0.2", false, false)
	cli.m.SetPolicy(wire.EntityMon, proto.LossyClient(0))
	if _, err := cli.m.ConnectTo(wire.EntityMon, srv.MyAddr()); err != nil {
		t.Fatal(err)
	}
	run := func(what string, done func() bool) {
		t.Helper()
		if err := w.RunUntil(done, w.Now()+time.Minute, 5_000_000); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("a failed accept", func() bool { return srv.Metrics().AcceptFailures >= 1 })
	srv.Shutdown() // the listener is paused: its backoff timer is armed on the shared center
	run("shutdown", srv.Finished)
	calls := st.calls.Load()
	mark := len(logs.since(0))
	past := false
	w.Schedule(w.Now()+3*time.Second, func() { past = true }) // the longest backoff is 1 s
	run("three seconds", func() bool { return past })
	if n := st.calls.Load(); n != calls {
		t.Errorf("%d accepts after shutdown", n-calls)
	}
	if l := logs.since(mark); strings.Contains(l, "watch listener") {
		t.Errorf("the stopped listener was watched again:\n%s", l)
	}
	cli.m.Shutdown()
	pool.Stop(w)
	run("client shutdown", cli.m.Finished)
}
