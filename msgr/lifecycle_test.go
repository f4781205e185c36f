package msgr_test

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// eventLog is a Dispatcher that records connection events and message tids.
type eventLog struct {
	msgr.NopDispatcher
	mu     sync.Mutex
	events []string
	tids   []uint64
	srcs   []wire.EntityName
}

func (e *eventLog) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, s)
}
func (e *eventLog) has(s string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range e.events {
		if x == s {
			return true
		}
	}
	return false
}
func (e *eventLog) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tids = append(e.tids, m.Header.Tid)
	e.srcs = append(e.srcs, m.Header.Src)
	return true
}
func (e *eventLog) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.tids)
}
func (e *eventLog) HandleConnect(*msgr.Connection)      { e.add("connect") }
func (e *eventLog) HandleAccept(*msgr.Connection)       { e.add("accept") }
func (e *eventLog) HandleReset(*msgr.Connection) bool   { e.add("reset"); return true }
func (e *eventLog) HandleRemoteReset(*msgr.Connection)  { e.add("remote_reset") }
func (e *eventLog) HandleRefused(*msgr.Connection) bool { e.add("refused"); return true }

type simEnv struct {
	t *testing.T
	w *world.World
}

func newSimEnv(t *testing.T, seed uint64) *simEnv {
	return &simEnv{t: t, w: world.New(seed, simnet.Config{Latency: 100 * time.Microsecond}, false)}
}

func (e *simEnv) messenger(name wire.EntityName, ip string, bind bool, pol map[wire.EntityType]proto.Policy) (*msgr.Messenger, *eventLog) {
	e.t.Helper()
	h := e.w.AddHost(name.String(), netip.MustParseAddr(ip))
	m, err := msgr.New(msgr.Config{Name: name, Stack: h, Runtime: e.w, Rand: e.w.Rand(), ClusterProtocol: 10,
		MaxBackoff: time.Second, Tracer: e.trace})
	if err != nil {
		e.t.Fatal(err)
	}
	for t, p := range pol {
		m.SetPolicy(t, p)
	}
	if bind {
		if err := m.Bind(netip.AddrPortFrom(netip.MustParseAddr(ip), 0)); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := m.Start(); err != nil {
		e.t.Fatal(err)
	}
	log := &eventLog{}
	m.AddDispatcherTail(log)
	return m, log
}

var verbose = false

func (e *simEnv) trace(ev msgr.TraceEvent) {
	if !verbose {
		return
	}
	var id uint64
	if ev.Conn != nil {
		id = ev.Conn.ID()
	}
	switch ev.Kind {
	case msgr.TraceState:
		e.t.Logf("%v %v c%d %v -> %v", e.w.Now(), ev.Msgr.Name(), id, ev.From, ev.To)
	case msgr.TraceFault:
		e.t.Logf("%v %v c%d fault in %v: %v", e.w.Now(), ev.Msgr.Name(), id, ev.From, ev.Err)
	case msgr.TraceDecision:
		e.t.Logf("%v %v c%d decision %s", e.w.Now(), ev.Msgr.Name(), id, ev.Rule)
	}
}

func (e *simEnv) until(what string, cond func() bool) {
	e.t.Helper()
	if err := e.w.RunUntil(cond, e.w.Now()+time.Minute, 1_000_000); err != nil {
		e.t.Fatalf("waiting for %s: %v", what, err)
	}
}

func send(c *msgr.Connection, tid uint64) {
	m := wire.NewMessage(wire.MsgPing, nil)
	m.Header.Tid = tid
	c.SendMessage(m)
}

var peers = map[wire.EntityType]proto.Policy{wire.EntityOSD: proto.LosslessPeer(0)}

// mark_down(addr) on one side: it hears a reset; the lossless peer reconnects, learns the
// session was reset (RESETSESSION: remote reset, queued messages discarded) and carries on.
func TestMarkDownThenPeerReconnects(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		e := newSimEnv(t, seed)
		a, la := e.messenger(wire.NewName(wire.EntityOSD, 0), "10.0.0.1", true, peers)
		b, lb := e.messenger(wire.NewName(wire.EntityOSD, 1), "10.0.0.2", true, peers)
		c, _ := a.ConnectTo(wire.EntityOSD, b.MyAddr())
		send(c, 1)
		e.until("first message", func() bool { return lb.count() == 1 })
		b.MarkDown(a.MyAddr())
		e.until("reset on b", func() bool { return lb.has("reset") })
		send(c, 2) // may be discarded by the session reset: a hears a remote reset then
		e.until("remote reset on a", func() bool { return la.has("remote_reset") })
		send(c, 3)
		e.until("third message", func() bool {
			lb.mu.Lock()
			defer lb.mu.Unlock()
			return len(lb.tids) > 0 && lb.tids[len(lb.tids)-1] == 3
		})
		if got := lb.tids; got[0] != 1 || (len(got) == 3 && got[1] != 2) || len(got) > 3 {
			t.Fatalf("seed %d: b got %v", seed, got)
		}
		if !c.IsConnected() {
			t.Fatalf("seed %d: a's connection not open after reconnect: %v", seed, c.State())
		}
	}
}

func TestConnectionMarkDownHasNoResetEvent(t *testing.T) {
	e := newSimEnv(t, 1)
	a, la := e.messenger(wire.NewName(wire.EntityOSD, 0), "10.0.0.1", true, peers)
	b, lb := e.messenger(wire.NewName(wire.EntityOSD, 1), "10.0.0.2", true, peers)
	c, _ := a.ConnectTo(wire.EntityOSD, b.MyAddr())
	send(c, 1)
	e.until("message", func() bool { return lb.count() == 1 })
	c.MarkDown()
	if c.IsConnected() || c.State() != proto.StateClosed {
		t.Fatalf("state after mark_down: %v", c.State())
	}
	send(c, 2) // dropped: the connection is closed
	e.until("quiet", func() bool { return true })
	for i := 0; i < 1000; i++ {
		if more, _ := e.w.Step(); !more {
			break
		}
	}
	if la.has("reset") {
		t.Fatalf("Connection.MarkDown queued a reset event: %v", la.events)
	}
	if lb.count() != 1 {
		t.Fatalf("message sent on a closed connection was delivered")
	}
	c2, _ := a.ConnectTo(wire.EntityOSD, b.MyAddr())
	if c2 == c {
		t.Fatal("ConnectTo returned the closed connection")
	}
	send(c2, 3)
	e.until("message on a new session", func() bool { return lb.count() == 2 })
}

func TestRefusedConnectReportsAndRetries(t *testing.T) {
	e := newSimEnv(t, 3)
	a, la := e.messenger(wire.NewName(wire.EntityClient, 1), "10.0.0.1", false,
		map[wire.EntityType]proto.Policy{wire.EntityOSD: proto.LossyClient(0)})
	nobody := wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.9:6800"), 5)
	c, _ := a.ConnectTo(wire.EntityOSD, nobody)
	send(c, 1)
	e.until("refused", func() bool { return la.has("refused") })
	if c.State() != proto.StateStartConnect {
		t.Fatalf("lossy client after a refused connect: %v (it retries with backoff)", c.State())
	}
}

func TestLocalConnectionDeliversToSelf(t *testing.T) {
	e := newSimEnv(t, 4)
	a, la := e.messenger(wire.NewName(wire.EntityOSD, 7), "10.0.0.1", true, peers)
	c, err := a.ConnectTo(wire.EntityOSD, a.MyAddr())
	if err != nil {
		t.Fatal(err)
	}
	if !c.IsLocal() || c != a.LocalConnection() || c.PeerAddr() != a.MyAddr() {
		t.Fatalf("ConnectTo(myself) is not the local connection")
	}
	send(c, 9)
	e.until("local delivery", func() bool { return la.count() == 1 })
	if la.srcs[0] != wire.NewName(wire.EntityOSD, 7) {
		t.Fatalf("local message src %v", la.srcs[0])
	}
}

func TestShutdownCompletes(t *testing.T) {
	e := newSimEnv(t, 5)
	a, _ := e.messenger(wire.NewName(wire.EntityOSD, 0), "10.0.0.1", true, peers)
	b, lb := e.messenger(wire.NewName(wire.EntityOSD, 1), "10.0.0.2", true, peers)
	c, _ := a.ConnectTo(wire.EntityOSD, b.MyAddr())
	send(c, 1)
	e.until("message", func() bool { return lb.count() == 1 })
	a.Shutdown()
	b.Shutdown()
	e.until("shutdown", func() bool { return a.Finished() && b.Finished() })
	a.Wait() // returns at once
	if _, err := a.ConnectTo(wire.EntityOSD, b.MyAddr()); err == nil {
		t.Fatal("ConnectTo after Shutdown succeeded")
	}
	if n := len(a.Connections()) + len(b.Connections()); n != 0 {
		t.Fatalf("%d connections left after shutdown", n)
	}
}

// Two anonymous connections to one server are distinct sessions on both ends and both work
// (test_msgr's AnonTest).
func TestAnonymousConnections(t *testing.T) {
	e := newSimEnv(t, 6)
	srv := map[wire.EntityType]proto.Policy{wire.EntityClient: proto.StatelessServer(0)}
	cli := map[wire.EntityType]proto.Policy{wire.EntityOSD: proto.LossyClient(0)}
	s, ls := e.messenger(wire.NewName(wire.EntityOSD, 0), "10.0.0.1", true, srv)
	c, _ := e.messenger(wire.NewName(wire.EntityClient, 9), "10.0.0.2", false, cli)
	c1, _ := c.ConnectToAnon(wire.EntityOSD, s.MyAddr())
	c2, _ := c.ConnectToAnon(wire.EntityOSD, s.MyAddr())
	if c1 == c2 {
		t.Fatal("two anonymous connections are the same object")
	}
	send(c1, 1)
	send(c2, 2)
	e.until("both messages", func() bool { return ls.count() == 2 })
	if n := len(s.Connections()); n != 2 {
		t.Fatalf("server has %d connections, want 2 distinct sessions", n)
	}
	if reg, _ := c.ConnectTo(wire.EntityOSD, s.MyAddr()); reg == c1 || reg == c2 {
		t.Fatal("ConnectTo returned an anonymous connection")
	}
}

// A connection marked down right after connect_to, before its center ran its first event,
// never connects: the peer sees no connection at all. (Before the fix the posted start
// revived it from CLOSED: a zombie that connected with connect_seq 0 and reset the live
// session the peer had with the same messenger; found by the synthetic workload in the
// simulator, testdata/synthetic-regressions.txt seed 5.)
func TestMarkDownBeforeStartNeverConnects(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		e := newSimEnv(t, seed)
		a, _ := e.messenger(wire.NewName(wire.EntityOSD, 0), "10.0.0.1", true, peers)
		b, lb := e.messenger(wire.NewName(wire.EntityOSD, 1), "10.0.0.2", true, peers)
		c, _ := a.ConnectTo(wire.EntityOSD, b.MyAddr())
		send(c, 1)
		c.MarkDown()
		expired := false
		e.w.Schedule(e.w.Now()+2*time.Second, func() { expired = true })
		e.until("two seconds", func() bool { return expired })
		if n := len(b.Connections()); n != 0 || lb.has("accept") || lb.count() != 0 {
			t.Fatalf("seed %d: a connection marked down before it started reached the peer: %d connections, accept %v, %d messages",
				seed, n, lb.has("accept"), lb.count())
		}
		if c.State() != proto.StateClosed || len(a.Connections()) != 0 {
			t.Fatalf("seed %d: marked-down connection in %v, %d live connections", seed, c.State(), len(a.Connections()))
		}
	}
}

// After shutdown the local connection is closed: a send on it is refused, and nothing is left
// in the dispatch queue once the messenger is done. (Before, the send was accepted and its
// delivery, posted behind the queue's final drain, stayed queued forever; found by
// TestMessengerAPI: connect_to itself, shutdown, send, settle.)
func TestLocalConnectionAfterShutdown(t *testing.T) {
	e := newSimEnv(t, 1)
	a, la := e.messenger(wire.NewName(wire.EntityOSD, 0), "10.0.0.1", true, peers)
	local, _ := a.ConnectTo(wire.EntityOSD, a.MyAddr())
	send(local, 1)
	e.until("the local message", func() bool { return la.count() == 1 })
	a.Shutdown()
	m := wire.NewMessage(wire.MsgPing, nil)
	if err := local.SendMessage(m); !errors.Is(err, msgr.ErrConnectionClosed) {
		t.Fatalf("send on the local connection after shutdown: %v, want ErrConnectionClosed", err)
	}
	e.until("shutdown", a.Finished)
	if n := a.DispatchQueueLen(); n != 0 || la.count() != 1 {
		t.Fatalf("%d items left in the dispatch queue, %d messages dispatched", n, la.count())
	}
}
