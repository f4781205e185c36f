package msgr_test

// Ports of the msgr1-applicable scenarios of Ceph's src/test/msgr/test_msgr.cc
// (msgr1-protocol.md §9). Each scenario is written once, over scEnv, and runs both in the
// simulator (TestScenariosSim, many seeds) and over real loopback TCP (TestScenariosEpoll).
//
// The fixture is test_msgr's: the server is osd.0 with default policy stateless_server, the
// client is client.-1 with default policy lossy_client, ms_max_backoff is 1 s, and each
// messenger has a FakeDispatcher (fakeDispatcher below). A scenario asserts what the Ceph test
// asserts, and sometimes a little more where the Ceph test only implies it.

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// scenario is one ported test.
type scenario struct {
	name      string
	run       func(t *testing.T, e scEnv)
	seeds     int    // simulator seeds (0: the default)
	epollSkip string // why it does not run over epoll, if it does not
}

var scenarios = []scenario{
	{name: "Simple", run: scSimple},
	{name: "NameAddr", run: scNameAddr},
	{name: "Feature", run: scFeature},
	{name: "Timeout", run: scTimeout},
	{name: "Stateful", run: scStateful},
	{name: "Stateless", run: scStateless},
	{name: "Anon", run: scAnon},
	{name: "ClientStandby", run: scClientStandby},
	{name: "Message", run: scMessage},
	{name: "Markdown", run: scMarkdown},
	{name: "ConnectionRace", run: scConnectionRace},
	{name: "Reconnect", run: scReconnect},
	{name: "ReconnectRace", run: scReconnectRace},
	{name: "LosslessInject", run: scLosslessInject},
}

// TestScenariosSim runs every scenario in the simulator, one world per seed.
func TestScenariosSim(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			for _, seed := range scenarioSeeds(sc) {
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					sc.run(t, newScSim(t, seed))
				})
			}
		})
	}
}

func scenarioSeeds(sc scenario) []uint64 {
	if *scSeed != 0 {
		return []uint64{*scSeed}
	}
	n := sc.seeds
	if n == 0 {
		n = 20
	}
	if *scSeeds > 0 {
		n = *scSeeds
	} else if testing.Short() {
		n = min(n, 4)
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	return seeds
}

// The same seed must replay the same run.
func TestScenariosSimDeterministic(t *testing.T) {
	for _, sc := range scenarios {
		if !slices.Contains([]string{"Stateful", "ConnectionRace", "LosslessInject"}, sc.name) {
			continue
		}
		var hashes [2]uint64
		for i := range hashes {
			e := newScSim(t, 7)
			sc.run(t, e)
			hashes[i] = e.Hash()
		}
		if hashes[0] != hashes[1] {
			t.Errorf("%s seed 7: two runs differ (trace hashes %#x, %#x)", sc.name, hashes[0], hashes[1])
		}
	}
}

// ---------------------------------------------------------------------------------------
// FakeDispatcher

// scSession is test_msgr's FakeDispatcher::Session: a per-connection message counter kept in
// the connection's priv.
type scSession struct{ count atomic.Uint64 }

// rxMsg is one dispatched message.
type rxMsg struct {
	conn *msgr.Connection
	msg  *msgr.Message
	fast bool
}

// fakeDispatcher is test_msgr's FakeDispatcher. It fast-dispatches MPing only when asked; it
// keeps a session (message counter) in each connection's priv, created by the fast
// connect/accept callbacks or the first message and dropped on reset and remote reset; a
// server-side one answers every message with an MPing (same tid). It records Ceph's got_new,
// got_connect and got_remote_reset flags, counts every event, and remembers the last accepted
// connection and its peer address.
type fakeDispatcher struct {
	server, fast bool

	mu             sync.Mutex
	gotNew         bool
	gotConnect     bool
	gotRemoteReset bool
	connects       int // fast connect callbacks
	accepts        int // fast accept callbacks
	remoteResets   int
	resets         int
	refused        int
	lastAccept     wire.EntityAddr
	lastAcceptConn *msgr.Connection
	msgs           []rxMsg
}

func newFakeDispatcher(server, fast bool) *fakeDispatcher {
	return &fakeDispatcher{server: server, fast: fast}
}

func (d *fakeDispatcher) CanFastDispatchAny() bool { return true }
func (d *fakeDispatcher) CanFastDispatch(m *msgr.Message) bool {
	return d.fast && m.Header.Type == wire.MsgPing
}
func (d *fakeDispatcher) FastPreprocess(*msgr.Connection, *msgr.Message) {}
func (d *fakeDispatcher) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	d.handle(c, m, true)
}
func (d *fakeDispatcher) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	d.handle(c, m, false)
	return true
}

func (d *fakeDispatcher) handle(c *msgr.Connection, m *msgr.Message, fast bool) {
	d.mu.Lock()
	s := d.sessionLocked(c)
	s.count.Add(1)
	d.msgs = append(d.msgs, rxMsg{conn: c, msg: m, fast: fast})
	d.gotNew = true
	d.mu.Unlock()
	if d.server && !c.IsLocal() {
		r := wire.NewMessage(wire.MsgPing, nil)
		r.Header.Tid = m.Header.Tid
		_ = c.SendMessage(r)
	}
}

func (d *fakeDispatcher) sessionLocked(c *msgr.Connection) *scSession {
	if s, ok := c.Priv().(*scSession); ok {
		return s
	}
	s := &scSession{}
	c.SetPriv(s)
	return s
}

func (d *fakeDispatcher) HandleConnect(*msgr.Connection) {}
func (d *fakeDispatcher) HandleAccept(*msgr.Connection)  {}

func (d *fakeDispatcher) HandleFastConnect(c *msgr.Connection) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sessionLocked(c)
	d.gotConnect = true
	d.connects++
}

func (d *fakeDispatcher) HandleFastAccept(c *msgr.Connection) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastAccept = c.PeerAddr()
	d.lastAcceptConn = c
	d.sessionLocked(c)
	d.accepts++
}

func (d *fakeDispatcher) HandleReset(c *msgr.Connection) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	c.SetPriv(nil)
	d.resets++
	return true
}

func (d *fakeDispatcher) HandleRemoteReset(c *msgr.Connection) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c.SetPriv(nil)
	d.gotRemoteReset = true
	d.remoteResets++
}

func (d *fakeDispatcher) HandleRefused(*msgr.Connection) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refused++
	return false
}

// take returns a condition that holds once *flag is set, clearing it (Ceph's
// "while (!got_x) wait; got_x = false").
func (d *fakeDispatcher) take(flag *bool) func() bool {
	return func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		if *flag {
			*flag = false
			return true
		}
		return false
	}
}

// clear clears flags.
func (d *fakeDispatcher) clear(flags ...*bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range flags {
		*f = false
	}
}

// get reads a field under the lock.
func get[T any](d *fakeDispatcher, f *T) T {
	d.mu.Lock()
	defer d.mu.Unlock()
	return *f
}

// received lists the dispatched messages (all, or those of one connection if c is not nil).
func (d *fakeDispatcher) received(c *msgr.Connection) []rxMsg {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []rxMsg
	for _, r := range d.msgs {
		if c == nil || r.conn == c {
			out = append(out, r)
		}
	}
	return out
}

// tidsFrom lists the tids of the messages src sent us, in dispatch order.
func (d *fakeDispatcher) tidsFrom(src wire.EntityName) []uint64 {
	var tids []uint64
	for _, r := range d.received(nil) {
		if r.msg.Header.Src == src {
			tids = append(tids, r.msg.Header.Tid)
		}
	}
	return tids
}

// sessionCount is the count of the session in c's priv (ok false: no session).
func sessionCount(c *msgr.Connection) (uint64, bool) {
	s, ok := c.Priv().(*scSession)
	if !ok {
		return 0, false
	}
	return s.count.Load(), true
}

func wantCount(t *testing.T, e scEnv, c *msgr.Connection, want uint64, what string) {
	t.Helper()
	n, ok := sessionCount(c)
	if !ok {
		t.Fatalf("%s: %s (c%d): no session in priv, want count %d", e.Desc(), what, c.ID(), want)
	}
	if n != want {
		t.Fatalf("%s: %s (c%d): session count %d, want %d", e.Desc(), what, c.ID(), n, want)
	}
}

// ---------------------------------------------------------------------------------------
// Helpers

var (
	osd0      = wire.NewName(wire.EntityOSD, 0)
	clientM1  = wire.NewName(wire.EntityClient, -1)
	pStateSrv = proto.StatelessServer(0)
	pLossyCli = proto.LossyClient(0)
)

// serverOpts is test_msgr's server_msgr: osd.0, stateless_server by default, bound.
func serverOpts(fast bool, pol map[wire.EntityType]proto.Policy) msgrOpts {
	return msgrOpts{name: osd0, def: &pStateSrv, policies: pol, bind: true, server: true, fast: fast}
}

// clientOpts is test_msgr's client_msgr: client.-1, lossy_client by default, not bound.
func clientOpts(fast bool, pol map[wire.EntityType]proto.Policy) msgrOpts {
	return msgrOpts{name: clientM1, def: &pLossyCli, policies: pol, fast: fast}
}

// payload is size bytes that depend on tid.
func payload(tid uint64, size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(tid*131 + uint64(i)*7 + uint64(i>>8))
	}
	return p
}

func ping(tid uint64) *msgr.Message {
	m := wire.NewMessage(wire.MsgPing, nil)
	m.Header.Tid = tid
	return m
}

func connectTo(t *testing.T, from, to *msgr.Messenger) *msgr.Connection {
	t.Helper()
	c, err := from.ConnectTo(to.Name().Type, to.MyAddr())
	if err != nil {
		t.Fatalf("%v connect_to %v: %v", from.Name(), to.Name(), err)
	}
	return c
}

func mustSend(t *testing.T, e scEnv, c *msgr.Connection, m *msgr.Message) {
	t.Helper()
	if err := c.SendMessage(m); err != nil {
		t.Fatalf("%s: send_message on c%d (%v): %v", e.Desc(), c.ID(), c.State(), err)
	}
}

// roundTrip sends an MPing on c and waits for the client's got_new (the server's answer).
func roundTrip(t *testing.T, e scEnv, c *msgr.Connection, cd *fakeDispatcher, tid uint64) {
	t.Helper()
	mustSend(t, e, c, ping(tid))
	e.WaitFor(fmt.Sprintf("got_new after sending tid %d on c%d", tid, c.ID()), cd.take(&cd.gotNew))
}

func faultsOn(e scEnv, m *msgr.Messenger, c *msgr.Connection, target error) int {
	n := 0
	for _, f := range e.Faults(m) {
		if (c == nil || f.conn == c) && (target == nil || errors.Is(f.err, target)) {
			n++
		}
	}
	return n
}

// settled reports whether m's only live connection is c.
func onlyConnection(m *msgr.Messenger, c *msgr.Connection) bool {
	cs := m.Connections()
	return len(cs) == 1 && cs[0] == c
}

func checkExactlyOnce(t *testing.T, e scEnv, what string, got []uint64, n int) {
	t.Helper()
	want := make([]uint64, n)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: %s: got tids %v, want 1..%d exactly once, in order", e.Desc(), what, got, n)
	}
}

// ---------------------------------------------------------------------------------------
// Scenarios

// SimpleTest: round trip (connected, session count 1, peer is an OSD); Connection::mark_down
// ⇒ not connected; after the server shut down, sending on the marked-down connection is
// refused and a new connection never connects (it is refused and keeps failing); the loopback
// connection delivers to ourselves with our own source. Between 1 and 3, as in Ceph, the server
// rebinds outside the ten ports it was told to avoid, with a new nonce, and a new session works.
func scSimple(t *testing.T, e scEnv) {
	fast := e.Rand().IntN(2) == 0
	srv, sd := e.Messenger(serverOpts(fast, nil))
	cli, cd := e.Messenger(clientOpts(fast, nil))

	// 1. simple round trip
	conn := connectTo(t, cli, srv)
	roundTrip(t, e, conn, cd, 1)
	if !conn.IsConnected() {
		t.Fatalf("%s: not connected after a round trip: %v", e.Desc(), conn.State())
	}
	wantCount(t, e, conn, 1, "client session")
	if conn.PeerType() != wire.EntityOSD {
		t.Fatalf("%s: peer type %v, want osd", e.Desc(), conn.PeerType())
	}
	sconn := get(sd, &sd.lastAcceptConn)
	if sconn == nil || sconn.PeerType() != wire.EntityClient {
		t.Fatalf("%s: server accepted no client connection", e.Desc())
	}
	wantCount(t, e, sconn, 1, "server session")

	// 2. rebind to a new port (avoiding the next ten), with a new nonce, and round trip again
	before := srv.MyAddr()
	var avoid []uint16
	for i := range uint16(10) {
		avoid = append(avoid, before.Port()+i)
	}
	if err := srv.Rebind(avoid...); err != nil {
		t.Fatalf("%s: rebind: %v", e.Desc(), err)
	}
	after := srv.MyAddr()
	if slices.Contains(avoid, after.Port()) || after.Nonce != before.Nonce+msgr.RebindNonceStep {
		t.Fatalf("%s: rebind from %v to %v (avoiding %v)", e.Desc(), before, after, avoid)
	}
	e.WaitFor("the old session to end", func() bool { return !conn.IsConnected() })
	conn = connectTo(t, cli, srv)
	cd.clear(&cd.gotNew)
	roundTrip(t, e, conn, cd, 7)
	wantCount(t, e, conn, 1, "client session after rebind")

	// 3. mark down
	conn.MarkDown()
	if conn.IsConnected() || conn.State() != proto.StateClosed {
		t.Fatalf("%s: after mark_down: %v", e.Desc(), conn.State())
	}

	// 4. failed connection. Ceph sends on the marked-down connection, which proves little; a
	// session open when the server shuts down must end not connected too.
	live := connectTo(t, cli, srv)
	if live == conn {
		t.Fatalf("%s: connect_to returned the marked-down connection", e.Desc())
	}
	roundTrip(t, e, live, cd, 2)
	e.Shutdown(srv)
	if err := conn.SendMessage(ping(3)); !errors.Is(err, msgr.ErrConnectionClosed) {
		t.Fatalf("%s: send on a marked-down connection: %v, want ErrConnectionClosed", e.Desc(), err)
	}
	_ = live.SendMessage(ping(4)) // may already be closed
	e.WaitFor("the session open at the server's shutdown to end", func() bool { return !live.IsConnected() })
	conn2 := connectTo(t, cli, srv)
	if conn2 == conn || conn2 == live {
		t.Fatalf("%s: connect_to returned a closed connection", e.Desc())
	}
	mustSend(t, e, conn2, ping(5))
	e.WaitFor("a new connection to the stopped server to fail", func() bool { return faultsOn(e, cli, conn2, nil) > 0 })
	if e.Sim() {
		// Over epoll another test may have taken the port meanwhile; here it is surely closed.
		e.WaitFor("a refused event", func() bool { return get(cd, &cd.refused) > 0 })
	}
	if e.Within(time.Second, conn2.IsConnected) {
		t.Fatalf("%s: connected to a server that was shut down", e.Desc())
	}

	// 5. loopback connection
	lc := cli.LocalConnection()
	if !lc.IsLocal() || !lc.IsConnected() {
		t.Fatalf("%s: loopback connection: local %v, state %v", e.Desc(), lc.IsLocal(), lc.State())
	}
	cd.clear(&cd.gotNew)
	mustSend(t, e, lc, ping(6))
	e.WaitFor("loopback delivery", cd.take(&cd.gotNew))
	wantCount(t, e, lc, 1, "loopback session")
	got := cd.received(lc)
	if len(got) != 1 || got[0].msg.Header.Src != clientM1 || got[0].msg.Header.Tid != 6 {
		t.Fatalf("%s: loopback delivered %d messages, first from %v", e.Desc(), len(got), got[0].msg.Header.Src)
	}
	e.Shutdown(cli)
}

// NameAddrTest (Octopus/Pacific-era revs): the client's view of the server's address is the
// server's address; the address the server accepted the client from is the one the client
// learned for itself; and connect_to(that address) on the server is the accepted session
// (count 1) — with a server that registers its clients (stateful_server, or
// stateless_registered_server, the newer OSD default).
func scNameAddr(t *testing.T, e scEnv) {
	pol := proto.StatefulServer(0)
	if e.Rand().IntN(2) == 0 {
		pol = proto.StatelessRegisteredServer(0)
	}
	fast := e.Rand().IntN(2) == 0
	srv, sd := e.Messenger(serverOpts(fast, map[wire.EntityType]proto.Policy{wire.EntityClient: pol}))
	cli, cd := e.Messenger(clientOpts(fast, nil))
	conn := connectTo(t, cli, srv)
	roundTrip(t, e, conn, cd, 1)
	wantCount(t, e, conn, 1, "client session")
	if conn.PeerAddr() != srv.MyAddr() {
		t.Fatalf("%s: client sees the server at %v, server is %v", e.Desc(), conn.PeerAddr(), srv.MyAddr())
	}
	accepted := get(sd, &sd.lastAccept)
	if accepted != cli.MyAddr() {
		t.Fatalf("%s: server accepted the client as %v, client is %v", e.Desc(), accepted, cli.MyAddr())
	}
	sconn, err := srv.ConnectTo(wire.EntityClient, accepted)
	if err != nil || sconn != get(sd, &sd.lastAcceptConn) {
		t.Fatalf("%s: server connect_to(%v) is not the accepted session (%v)", e.Desc(), accepted, err)
	}
	wantCount(t, e, sconn, 1, "server session")
	e.Shutdown(srv, cli)
}

// FeatureTest: the server requires bit 13 (and bits 0–9, MSG_ADDR2, SERVER_NAUTILUS) from
// clients. A client lacking it never connects: the server answers FEATURES, which the client
// takes as a fault — a lossy client (test_msgr's) is closed by it and hears a reset, a
// lossless one keeps retrying and being rejected. A client advertising it (and bit 14)
// connects, and both ends negotiate exactly the client's features.
func scFeature(t *testing.T, e scEnv) {
	var supported uint64
	for i := 0; i < 10; i++ {
		supported |= 1 << i
	}
	supported |= wire.FeatureMsgAddr2 | wire.FeatureMaskServerNautilus
	required := supported | 1<<13
	all := required | 1<<14

	sp := pStateSrv
	sp.FeaturesRequired = required
	fast := e.Rand().IntN(2) == 0
	srv, sd := e.Messenger(serverOpts(fast, map[wire.EntityType]proto.Policy{wire.EntityClient: sp}))

	// 1. support less than required: lossy client
	lossy := pLossyCli
	lossy.FeaturesSupported = supported
	cli, cd := e.Messenger(clientOpts(fast, map[wire.EntityType]proto.Policy{wire.EntityOSD: lossy}))
	conn := connectTo(t, cli, srv)
	_ = conn.SendMessage(ping(1))
	e.WaitFor("the client to be rejected", func() bool { return faultsOn(e, cli, conn, proto.ErrRejected) > 0 })
	e.WaitFor("the lossy client connection to close", func() bool { return conn.State() == proto.StateClosed })
	e.WaitFor("a reset event on the client", func() bool { return get(cd, &cd.resets) > 0 })
	for _, f := range e.Faults(cli) {
		if f.state != proto.StateConnectingSendConnectMsg || !errors.Is(f.err, proto.ErrRejected) {
			t.Fatalf("%s: unexpected client fault in %v: %v", e.Desc(), f.state, f.err)
		}
	}
	if conn.IsConnected() || get(cd, &cd.connects) != 0 || len(cd.received(nil)) != 0 {
		t.Fatalf("%s: a client lacking required features connected", e.Desc())
	}
	e.Shutdown(cli)

	// 1b. the same with a lossless client: rejected again and again, never connected
	lossless := proto.LosslessClient(0)
	lossless.FeaturesSupported = supported
	cli2, cd2 := e.Messenger(clientOpts(fast, map[wire.EntityType]proto.Policy{wire.EntityOSD: lossless}))
	conn = connectTo(t, cli2, srv)
	mustSend(t, e, conn, ping(2))
	e.WaitFor("three rejections", func() bool { return faultsOn(e, cli2, conn, proto.ErrRejected) >= 3 })
	if conn.IsConnected() || conn.State() == proto.StateClosed || get(cd2, &cd2.connects) != 0 {
		t.Fatalf("%s: lossless client without the required features: %v, %d connects", e.Desc(), conn.State(), get(cd2, &cd2.connects))
	}
	if n := get(sd, &sd.accepts); n != 0 || len(sd.received(nil)) != 0 {
		t.Fatalf("%s: server accepted %d sessions from clients lacking required features", e.Desc(), n)
	}
	e.Shutdown(cli2)

	// 2. supported meets required
	ok := pLossyCli
	ok.FeaturesSupported = all
	cli3, cd3 := e.Messenger(clientOpts(fast, map[wire.EntityType]proto.Policy{wire.EntityOSD: ok}))
	conn = connectTo(t, cli3, srv)
	roundTrip(t, e, conn, cd3, 3)
	wantCount(t, e, conn, 1, "client session")
	if f := conn.Features(); f != all {
		t.Fatalf("%s: client negotiated features %#x, want %#x", e.Desc(), f, all)
	}
	if f := get(sd, &sd.lastAcceptConn).Features(); f != all {
		t.Fatalf("%s: server negotiated features %#x, want %#x", e.Desc(), f, all)
	}
	e.Shutdown(srv, cli3)
}

// TimeoutTest: with ms_connection_idle_timeout 1 s, an open connection is still connected
// after 0.5 s idle and not connected 2.5 s after; the idle timeout is the fault, and the lossy
// client hears a reset.
func scTimeout(t *testing.T, e scEnv) {
	fast := e.Rand().IntN(2) == 0
	so, co := serverOpts(fast, nil), clientOpts(fast, nil)
	so.idle, co.idle = time.Second, time.Second
	srv, sd := e.Messenger(so)
	cli, cd := e.Messenger(co)

	conn := connectTo(t, cli, srv)
	roundTrip(t, e, conn, cd, 1)
	if !conn.IsConnected() || conn.PeerType() != wire.EntityOSD {
		t.Fatalf("%s: after a round trip: %v, peer %v", e.Desc(), conn.State(), conn.PeerType())
	}
	wantCount(t, e, conn, 1, "client session")
	sconn := get(sd, &sd.lastAcceptConn)

	e.Sleep(500 * time.Millisecond)
	if !conn.IsConnected() || !sconn.IsConnected() {
		t.Fatalf("%s: idle timeout fired early: client %v, server %v", e.Desc(), conn.State(), sconn.State())
	}
	if !e.Within(2*time.Second, func() bool { return !conn.IsConnected() && !sconn.IsConnected() }) {
		t.Fatalf("%s: still connected after 2.5 s idle: client %v, server %v", e.Desc(), conn.State(), sconn.State())
	}
	// An idle timer closes the session (the other end may see the socket close first).
	if faultsOn(e, cli, conn, proto.ErrTimeout)+faultsOn(e, srv, sconn, proto.ErrTimeout) == 0 {
		t.Fatalf("%s: no idle timeout (client faults %v, server faults %v)", e.Desc(), e.Faults(cli), e.Faults(srv))
	}
	if n := faultsOn(e, cli, conn, nil); n != 1 {
		t.Fatalf("%s: client faulted %d times, want once", e.Desc(), n)
	}
	e.WaitFor("a reset event on the client", func() bool { return get(cd, &cd.resets) == 1 })
	e.Shutdown(srv, cli)
}

// StatefulTest: stateful_server + lossless_client. After the client's mark_down the server
// keeps the session (count 1); a new client connection is a new session for the client
// (count 1) and makes the server detect the peer's reset (resetcheck: remote reset, its session
// count restarts) while keeping its connection object. After the server's mark_down the
// client reconnects, hears a remote reset (RESETSESSION) and a connect, and carries on.
//
// The server's dispatcher does not fast-dispatch: the remote reset event is queued, so only
// with queued dispatch is it ordered before the first message of the new session.
func scStateful(t *testing.T, e scEnv) {
	pol := map[wire.EntityType]proto.Policy{wire.EntityClient: proto.StatefulServer(0)}
	srv, sd := e.Messenger(serverOpts(false, pol))
	cpol := map[wire.EntityType]proto.Policy{wire.EntityOSD: proto.LosslessClient(0)}
	cli, cd := e.Messenger(clientOpts(e.Rand().IntN(2) == 0, cpol))

	// 1. server standby
	conn := connectTo(t, cli, srv)
	roundTrip(t, e, conn, cd, 1)
	wantCount(t, e, conn, 1, "client session")
	conn.MarkDown()
	if conn.IsConnected() {
		t.Fatalf("%s: connected after mark_down", e.Desc())
	}
	first := get(sd, &sd.lastAcceptConn)
	sconn, err := srv.ConnectTo(wire.EntityClient, get(sd, &sd.lastAccept))
	if err != nil || sconn != first {
		t.Fatalf("%s: server connect_to(last accepted addr) is not the accepted session (%v)", e.Desc(), err)
	}
	wantCount(t, e, sconn, 1, "server session kept") // don't lose state

	sd.clear(&sd.gotNew)
	conn = connectTo(t, cli, srv)
	roundTrip(t, e, conn, cd, 2)
	wantCount(t, e, conn, 1, "new client session")
	e.WaitFor("server got_new", sd.take(&sd.gotNew))
	e.WaitFor("server got_remote_reset", sd.take(&sd.gotRemoteReset))
	sconn, _ = srv.ConnectTo(wire.EntityClient, get(sd, &sd.lastAccept))
	if sconn != first {
		t.Fatalf("%s: the server's session object changed on reconnect (lossless replace keeps it)", e.Desc())
	}
	wantCount(t, e, sconn, 1, "server session after the peer's reset")

	// 2. client reconnect
	if get(cd, &cd.gotRemoteReset) {
		t.Fatalf("%s: client got a remote reset before the server's mark_down", e.Desc())
	}
	cd.clear(&cd.gotConnect, &cd.gotNew, &cd.gotRemoteReset)
	sconn.MarkDown()
	if sconn.IsConnected() {
		t.Fatalf("%s: server connection connected after mark_down", e.Desc())
	}
	e.WaitFor("client got_remote_reset", cd.take(&cd.gotRemoteReset))
	e.WaitFor("client got_connect", cd.take(&cd.gotConnect))
	e.WaitFor("client connected", conn.IsConnected)
	roundTrip(t, e, conn, cd, 3)
	wantCount(t, e, conn, 1, "client session after reset") // resetcheck happened
	sconn2, _ := srv.ConnectTo(wire.EntityClient, get(sd, &sd.lastAccept))
	if sconn2 == sconn {
		t.Fatalf("%s: server connect_to returned the marked-down connection", e.Desc())
	}
	wantCount(t, e, sconn2, 1, "new server session")
	e.Shutdown(srv, cli)
}

// StatelessTest: stateless_server + lossy_client. The server loses state when the client marks
// down (the new connection is a new session, count 1 on both ends); after the server's
// mark_down a client keepalive makes the client connection close; a new connection works.
func scStateless(t *testing.T, e scEnv) {
	fast := e.Rand().IntN(2) == 0
	srv, sd := e.Messenger(serverOpts(fast, map[wire.EntityType]proto.Policy{wire.EntityClient: pStateSrv}))
	cli, cd := e.Messenger(clientOpts(fast, map[wire.EntityType]proto.Policy{wire.EntityOSD: pLossyCli}))

	// 1. server loses state
	conn := connectTo(t, cli, srv)
	roundTrip(t, e, conn, cd, 1)
	wantCount(t, e, conn, 1, "client session")
	first := get(sd, &sd.lastAcceptConn)
	conn.MarkDown()
	if conn.IsConnected() {
		t.Fatalf("%s: connected after mark_down", e.Desc())
	}
	sd.clear(&sd.gotNew)
	conn = connectTo(t, cli, srv)
	roundTrip(t, e, conn, cd, 2)
	wantCount(t, e, conn, 1, "new client session")
	sconn := get(sd, &sd.lastAcceptConn)
	if sconn == nil || sconn == first {
		t.Fatalf("%s: the stateless server reused its session", e.Desc())
	}
	e.WaitFor("server got_new", sd.take(&sd.gotNew))
	wantCount(t, e, sconn, 1, "server session")

	// 2. client lossy
	sconn.MarkDown()
	if sconn.IsConnected() {
		t.Fatalf("%s: server connection connected after mark_down", e.Desc())
	}
	conn.SendKeepalive()
	e.WaitFor("the lossy client connection to close", func() bool { return conn.State() == proto.StateClosed })
	conn2 := connectTo(t, cli, srv)
	if conn2 == conn {
		t.Fatalf("%s: connect_to returned the closed connection", e.Desc())
	}
	roundTrip(t, e, conn2, cd, 3)
	wantCount(t, e, conn2, 1, "third client session")
	e.Shutdown(srv, cli)
}

// AnonTest: two anonymous connections to the same server are distinct on both ends, each a
// session of its own (count 1 after a round trip, 2 after another), and both work. (The
// lifecycle test checks that connect_to never returns an anonymous connection.)
func scAnon(t *testing.T, e scEnv) {
	fast := e.Rand().IntN(2) == 0
	srv, sd := e.Messenger(serverOpts(fast, map[wire.EntityType]proto.Policy{wire.EntityClient: pStateSrv}))
	cli, cd := e.Messenger(clientOpts(fast, map[wire.EntityType]proto.Policy{wire.EntityOSD: pLossyCli}))

	var cons, scons [2]*msgr.Connection
	for i := range cons {
		c, err := cli.ConnectToAnon(wire.EntityOSD, srv.MyAddr())
		if err != nil {
			t.Fatal(err)
		}
		cons[i] = c
		roundTrip(t, e, c, cd, uint64(i+1))
		wantCount(t, e, c, 1, fmt.Sprintf("anonymous session %d", i))
		scons[i] = get(sd, &sd.lastAcceptConn)
	}
	if cons[0] == cons[1] || scons[0] == nil || scons[0] == scons[1] {
		t.Fatalf("%s: anonymous connections are not distinct", e.Desc())
	}
	if scons[0].PeerAddr() != scons[1].PeerAddr() {
		t.Fatalf("%s: the two server sessions see different client addresses", e.Desc())
	}
	for i, c := range cons {
		roundTrip(t, e, c, cd, uint64(i+3))
	}
	for i := range cons {
		wantCount(t, e, cons[i], 2, fmt.Sprintf("anonymous session %d", i))
		wantCount(t, e, scons[i], 2, fmt.Sprintf("server session %d", i))
	}
	for _, c := range cons {
		c.MarkDown()
		if c.IsConnected() {
			t.Fatalf("%s: connected after mark_down", e.Desc())
		}
	}
	e.WaitFor("the server sessions to close", func() bool {
		return scons[0].State() == proto.StateClosed && scons[1].State() == proto.StateClosed
	})
	e.Shutdown(srv, cli)
}

// ClientStandbyTest: stateful_server + lossless_peer. After the server's mark_down the idle
// client goes standby (it does not reconnect by itself); a new message makes it reconnect,
// learn of the reset (remote reset; that message is lost with the session) and connect; the
// next message is delivered on fresh sessions (count 1 on both ends).
func scClientStandby(t *testing.T, e scEnv) {
	fast := e.Rand().IntN(2) == 0
	srv, sd := e.Messenger(serverOpts(false, map[wire.EntityType]proto.Policy{wire.EntityClient: proto.StatefulServer(0)}))
	cli, cd := e.Messenger(clientOpts(fast, map[wire.EntityType]proto.Policy{wire.EntityOSD: proto.LosslessPeer(0)}))

	conn := connectTo(t, cli, srv)
	roundTrip(t, e, conn, cd, 1)
	wantCount(t, e, conn, 1, "client session")
	// The Ceph test assumes the server acknowledged the ping by now; an unacknowledged
	// message would be resent at once instead of the client going standby.
	e.WaitFor("the client's message to be acknowledged", func() bool { return conn.Queued() == 0 })
	sconn, _ := srv.ConnectTo(wire.EntityClient, get(sd, &sd.lastAccept))
	if sconn != get(sd, &sd.lastAcceptConn) {
		t.Fatalf("%s: server connect_to(last accepted addr) is not the accepted session", e.Desc())
	}
	if get(cd, &cd.gotRemoteReset) {
		t.Fatalf("%s: early remote reset", e.Desc())
	}
	cd.clear(&cd.gotConnect)
	sconn.MarkDown()
	if sconn.IsConnected() {
		t.Fatalf("%s: server connection connected after mark_down", e.Desc())
	}
	e.Sleep(300 * time.Millisecond)
	if s := conn.State(); s != proto.StateStandby {
		t.Fatalf("%s: client connection %v after the server's mark_down, want STANDBY", e.Desc(), s)
	}
	mustSend(t, e, conn, ping(2))
	e.WaitFor("client got_remote_reset", cd.take(&cd.gotRemoteReset))
	e.WaitFor("client got_connect", cd.take(&cd.gotConnect))
	e.WaitFor("client connected", conn.IsConnected)
	cd.clear(&cd.gotNew)
	roundTrip(t, e, conn, cd, 3)
	wantCount(t, e, conn, 1, "client session after the reset")
	sconn2, _ := srv.ConnectTo(wire.EntityClient, get(sd, &sd.lastAccept))
	wantCount(t, e, sconn2, 1, "new server session")
	if tids := sd.tidsFrom(clientM1); !slices.Equal(tids, []uint64{1, 3}) {
		t.Fatalf("%s: server got tids %v, want [1 3] (2 is lost with the reset session)", e.Desc(), tids)
	}
	e.Shutdown(srv, cli)
}

// MessageTest: a very large front (≈800 KB, in an MCommand) and a very large data section
// (780 KiB, in an MPing) cross a stateful_server/lossless_peer session intact, crcs on.
func scMessage(t *testing.T, e scEnv) {
	fast := e.Rand().IntN(2) == 0
	srv, sd := e.Messenger(serverOpts(fast, map[wire.EntityType]proto.Policy{wire.EntityClient: proto.StatefulServer(0)}))
	cli, cd := e.Messenger(clientOpts(fast, map[wire.EntityType]proto.Policy{wire.EntityOSD: proto.LosslessPeer(0)}))
	big := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz"), 1024*30)
	conn := connectTo(t, cli, srv)

	// 1. a very large front
	cmd := wire.NewMessage(wire.MsgCommand, big)
	cmd.Header.Tid = 1
	mustSend(t, e, conn, cmd)
	e.WaitFor("the answer to the large front", cd.take(&cd.gotNew))

	// 2. a very large data section
	p := ping(2)
	p.Data = big
	mustSend(t, e, conn, p)
	e.WaitFor("the answer to the large data", cd.take(&cd.gotNew))

	got := sd.received(nil)
	if len(got) != 2 {
		t.Fatalf("%s: server got %d messages, want 2", e.Desc(), len(got))
	}
	m1, m2 := got[0].msg, got[1].msg
	if m1.Header.Type != wire.MsgCommand || !bytes.Equal(m1.Front, big) || len(m1.Data) != 0 {
		t.Fatalf("%s: large front arrived as type %d with %d+%d bytes", e.Desc(), m1.Header.Type, len(m1.Front), len(m1.Data))
	}
	if m2.Header.Type != wire.MsgPing || !bytes.Equal(m2.Data, big) || len(m2.Front) != 0 {
		t.Fatalf("%s: large data arrived as type %d with %d+%d bytes", e.Desc(), m2.Header.Type, len(m2.Front), len(m2.Data))
	}
	for _, m := range []*msgr.Message{m1, m2} {
		if m.Footer.Flags&wire.FooterNoCRC != 0 || m.VerifyFooter(true, true) != nil {
			t.Fatalf("%s: message %d arrived without valid crcs (footer %+v)", e.Desc(), m.Header.Tid, m.Footer)
		}
	}
	if len(cd.received(conn)) != 2 {
		t.Fatalf("%s: client got %d answers, want 2", e.Desc(), len(cd.received(conn)))
	}
	e.Shutdown(srv, cli)
}

// markdownDispatcher is test_msgr's MarkdownDispatcher: it never fast-dispatches; when a
// message arrives and it knows another connection, it marks that one down.
type markdownDispatcher struct {
	msgr.NopDispatcher
	mu       sync.Mutex
	conns    []*msgr.Connection // in insertion order (Ceph: a set ordered by pointer)
	lastMark bool
	count    atomic.Uint64
}

func (d *markdownDispatcher) insert(c *msgr.Connection) {
	if !slices.Contains(d.conns, c) {
		d.conns = append(d.conns, c)
	}
}

func (d *markdownDispatcher) erase(c *msgr.Connection) {
	if i := slices.Index(d.conns, c); i >= 0 {
		d.conns = slices.Delete(d.conns, i, i+1)
	}
}

func (d *markdownDispatcher) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.count.Add(1)
	d.insert(c)
	if len(d.conns) < 2 && !d.lastMark {
		return true
	}
	d.lastMark = true
	for _, other := range d.conns {
		if other != c {
			other.MarkDown()
			d.erase(other)
			break
		}
	}
	if len(d.conns) == 0 {
		d.lastMark = false
	}
	return true
}

func (d *markdownDispatcher) HandleReset(c *msgr.Connection) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.erase(c)
	return true
}

func (d *markdownDispatcher) HandleRemoteReset(c *msgr.Connection) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.erase(c)
}

// MarkdownTest: two servers (osd.0 twice) share a MarkdownDispatcher; every iteration the
// client sends an MPing to each; whenever a message arrives the servers mark down the other
// connection. Progress must never stall: no iteration may see no message at all more than
// three times in a row (Ceph waits 1 s per iteration and 0.5 s more after a stalled one).
func scMarkdown(t *testing.T, e scEnv) {
	sdisp, cdisp := &markdownDispatcher{}, &markdownDispatcher{}
	s1o, s2o := serverOpts(false, nil), serverOpts(false, nil)
	s1o.dispatcher, s2o.dispatcher = sdisp, sdisp
	co := clientOpts(false, nil)
	co.dispatcher = cdisp
	srv1, _ := e.Messenger(s1o)
	srv2, _ := e.Messenger(s2o)
	cli, _ := e.Messenger(co)

	iters, wait := 1000, time.Second
	if !e.Sim() {
		iters, wait = 200, 20*time.Millisecond
	}
	var last uint64
	stalled, maxStalled := 0, 0
	for i := 0; i < iters; i++ {
		c1, c2 := connectTo(t, cli, srv1), connectTo(t, cli, srv2)
		_ = c1.SendMessage(ping(uint64(2*i + 1))) // may be closed already (Ceph drops silently)
		if e.Sim() && e.Rand().IntN(2) == 0 {
			// Ceph's dispatcher sleeps up to 0.5 ms here and there: vary the interleaving.
			e.Sleep(time.Duration(e.Rand().IntN(500)) * time.Microsecond)
			c2 = connectTo(t, cli, srv2)
		}
		_ = c2.SendMessage(ping(uint64(2*i + 2)))
		e.Within(wait, func() bool { return sdisp.count.Load() > last+1 })
		n := sdisp.count.Load()
		if n == last {
			stalled++
		} else {
			stalled = 0
		}
		last = n
		maxStalled = max(maxStalled, stalled)
		if stalled > 0 {
			e.Sleep(500 * time.Millisecond)
		}
		if stalled > 3 {
			dumpConnections(t, []*msgr.Messenger{srv1, srv2, cli})
			t.Fatalf("%s: iteration %d: no message dispatched for %d iterations (%d so far)", e.Desc(), i, stalled, n)
		}
	}
	if last < uint64(iters) {
		t.Fatalf("%s: only %d of %d messages dispatched", e.Desc(), last, 2*iters)
	}
	t.Logf("%s: %d of %d messages dispatched, at most %d stalled iterations in a row", e.Desc(), last, 2*iters, maxStalled)
	e.Shutdown(srv1, srv2, cli)
}

// ConnectionRaceTest: two lossless peers (client.-1 and osd.0, both bound) connect to each
// other at the same time and each sends one MPing. Both end connected, each connection
// object returned by connect_to is the session and dispatched exactly one message, peer types
// are right, nothing is duplicated or reset, and each side ends with that one connection.
func scConnectionRace(t *testing.T, e scEnv) {
	pol := proto.LosslessPeerReuse(0) // as Ceph's test
	if e.Rand().IntN(2) == 0 {
		pol = proto.LosslessPeer(0)
	}
	fast := e.Rand().IntN(2) == 0
	co := clientOpts(fast, map[wire.EntityType]proto.Policy{wire.EntityOSD: pol})
	co.bind, co.server = true, false
	so := serverOpts(fast, map[wire.EntityType]proto.Policy{wire.EntityClient: pol})
	so.server = false
	srv, sd := e.Messenger(so)
	cli, cd := e.Messenger(co)

	// Start the two sides at the same moment, or one up to ~3 one-way latencies after the
	// other, so the second connect meets the first in any of its handshake states.
	first, second := func() *msgr.Connection { return connectTo(t, cli, srv) }, func() *msgr.Connection { return connectTo(t, srv, cli) }
	firstTid, secondTid := uint64(1), uint64(2)
	if e.Rand().IntN(2) == 0 {
		first, second, firstTid, secondTid = second, first, secondTid, firstTid
	}
	c1 := first()
	mustSend(t, e, c1, ping(firstTid))
	if e.Sim() && e.Rand().IntN(3) > 0 {
		e.Sleep(time.Duration(e.Rand().IntN(600)) * time.Microsecond)
	}
	c2 := second()
	mustSend(t, e, c2, ping(secondTid))
	c2s, s2c := c1, c2
	if firstTid == 2 {
		c2s, s2c = c2, c1
	}
	e.WaitFor("client got_new", cd.take(&cd.gotNew))
	e.WaitFor("server got_new", sd.take(&sd.gotNew))

	if !s2c.IsConnected() || s2c.PeerType() != wire.EntityClient {
		t.Fatalf("%s: s2c %v, peer %v", e.Desc(), s2c.State(), s2c.PeerType())
	}
	wantCount(t, e, s2c, 1, "s2c session")
	if !c2s.IsConnected() || c2s.PeerType() != wire.EntityOSD {
		t.Fatalf("%s: c2s %v, peer %v", e.Desc(), c2s.State(), c2s.PeerType())
	}
	wantCount(t, e, c2s, 1, "c2s session")

	// Let a WAIT backoff (ms_max_backoff, 1 s) and any retransmission play out.
	e.Sleep(3 * time.Second)
	if got := cd.tidsFrom(osd0); !slices.Equal(got, []uint64{2}) {
		t.Fatalf("%s: client dispatched %v, want exactly [2]", e.Desc(), got)
	}
	if got := sd.tidsFrom(clientM1); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("%s: server dispatched %v, want exactly [1]", e.Desc(), got)
	}
	if get(cd, &cd.remoteResets)+get(sd, &sd.remoteResets) != 0 {
		t.Fatalf("%s: a session was reset in the race", e.Desc())
	}
	if !c2s.IsConnected() || !s2c.IsConnected() || !onlyConnection(cli, c2s) || !onlyConnection(srv, s2c) {
		dumpConnections(t, []*msgr.Messenger{srv, cli})
		t.Fatalf("%s: after the race: c2s %v, s2c %v", e.Desc(), c2s.State(), s2c.State())
	}
	e.Shutdown(srv, cli)
}

// ReconnectTest (test_msgr's is v2 only; this is its msgr1 reading): stateful_server +
// lossless_peer. The client's socket fails in the middle of a stream of pings and answers;
// the client reconnects into the same sessions (same connection objects, no reset of either
// side) and every ping and every answer is dispatched exactly once, in order.
func scReconnect(t *testing.T, e scEnv) {
	fast := e.Rand().IntN(2) == 0
	srv, sd := e.Messenger(serverOpts(false, map[wire.EntityType]proto.Policy{wire.EntityClient: proto.StatefulServer(0)}))
	co := clientOpts(fast, map[wire.EntityType]proto.Policy{wire.EntityOSD: proto.LosslessPeer(0)})
	co.bind = true
	cli, cd := e.Messenger(co)

	const n = 40
	conn := connectTo(t, cli, srv)
	roundTrip(t, e, conn, cd, 1)
	sconn := get(sd, &sd.lastAcceptConn)
	for tid := uint64(2); tid <= n; tid++ {
		mustSend(t, e, conn, ping(tid))
	}
	k := 2 + e.Rand().IntN(n-2)
	e.WaitFor(fmt.Sprintf("the server to get %d pings", k), func() bool { return len(sd.received(nil)) >= k })
	if e.FailSockets(cli, srv) == 0 {
		t.Fatalf("%s: no socket to fail", e.Desc())
	}
	e.WaitFor("the injected failure to make the client fault", func() bool { return faultsOn(e, cli, conn, nil) > 0 })
	// One more ping: a client with nothing left to send goes standby, and the server (whose
	// answers may still be queued) waits for it — as in Ceph.
	mustSend(t, e, conn, ping(n+1))
	e.WaitFor("every ping and answer", func() bool {
		return len(sd.received(nil)) >= n+1 && len(cd.received(nil)) >= n+1
	})
	e.WaitFor("the client to be acknowledged", func() bool { return conn.Queued() == 0 })
	checkExactlyOnce(t, e, "server", sd.tidsFrom(clientM1), n+1)
	checkExactlyOnce(t, e, "client", cd.tidsFrom(osd0), n+1)
	if get(cd, &cd.remoteResets)+get(sd, &sd.remoteResets) != 0 {
		t.Fatalf("%s: a session was reset by a plain reconnect", e.Desc())
	}
	if !conn.IsConnected() || get(sd, &sd.lastAcceptConn) != sconn {
		t.Fatalf("%s: after the reconnect: client %v, server session replaced: %v", e.Desc(), conn.State(), get(sd, &sd.lastAcceptConn) != sconn)
	}
	e.Shutdown(srv, cli)
}

// losslessPeers builds two bound lossless messengers, a (client.-1, policy ap toward OSDs)
// and b (osd.0, policy bp toward clients), with one session between them used both ways.
func losslessPeers(t *testing.T, e scEnv, ap, bp proto.Policy) (a, b *msgr.Messenger, ad, bd *fakeDispatcher, ab, ba *msgr.Connection) {
	fast := e.Rand().IntN(2) == 0
	ao := clientOpts(fast, map[wire.EntityType]proto.Policy{wire.EntityOSD: ap})
	ao.bind = true
	bo := serverOpts(fast, map[wire.EntityType]proto.Policy{wire.EntityClient: bp})
	bo.server = false
	b, bd = e.Messenger(bo)
	a, ad = e.Messenger(ao)
	ab = connectTo(t, a, b)
	mustSend(t, e, ab, ping(1))
	e.WaitFor("the first ping", bd.take(&bd.gotNew))
	ba = connectTo(t, b, a)
	if ba != get(bd, &bd.lastAcceptConn) {
		t.Fatalf("%s: connect_to back to the peer is not the accepted session", e.Desc())
	}
	mustSend(t, e, ba, ping(1))
	e.WaitFor("the first ping back", ad.take(&ad.gotNew))
	return a, b, ad, bd, ab, ba
}

// ReconnectRaceTest (msgr1 reading of test_msgr's v2 test): lossless_peer on both sides, both
// with messages queued when their socket fails, so both reconnect at once and race with equal
// connect_seq. The race resolves, both sessions survive (no reset, same objects), and every
// message is dispatched exactly once, in order, both ways.
func scReconnectRace(t *testing.T, e scEnv) {
	a, b, ad, bd, ab, ba := losslessPeers(t, e, proto.LosslessPeer(0), proto.LosslessPeer(0))
	const n = 30
	for tid := uint64(2); tid <= n; tid++ {
		mustSend(t, e, ab, ping(tid))
		mustSend(t, e, ba, ping(tid))
	}
	k := 2 + e.Rand().IntN(n/2)
	e.WaitFor("some pings", func() bool { return len(bd.received(nil)) >= k || len(ad.received(nil)) >= k })
	e.FailSockets(a, b)
	e.WaitFor("every message", func() bool { return len(ad.received(nil)) >= n && len(bd.received(nil)) >= n })
	e.WaitFor("both sides acknowledged", func() bool { return ab.Queued() == 0 && ba.Queued() == 0 })
	checkExactlyOnce(t, e, "a from b", ad.tidsFrom(osd0), n)
	checkExactlyOnce(t, e, "b from a", bd.tidsFrom(clientM1), n)
	if get(ad, &ad.remoteResets)+get(bd, &bd.remoteResets) != 0 {
		t.Fatalf("%s: a session was reset", e.Desc())
	}
	// Idle lossless peers may be standing by: that is still the one session.
	e.WaitFor("one session each side", func() bool { return onlyConnection(a, ab) && onlyConnection(b, ba) })
	e.Shutdown(a, b)
}

// LosslessInjectTest (a small SyntheticInjectTest): the lossless policy pairs of test_msgr's
// inject tests — lossless_peer, lossless_peer_reuse, stateful_server/lossless_client and
// stateful_server/lossless_peer — with messages streaming both ways while sockets are failed
// again and again at random moments, often in the middle of a handshake. Nothing is lost,
// duplicated or reordered, and no session is reset.
func scLosslessInject(t *testing.T, e scEnv) {
	pairs := []struct {
		name   string
		ap, bp proto.Policy
	}{
		{"lossless_peer", proto.LosslessPeer(0), proto.LosslessPeer(0)},
		{"lossless_peer_reuse", proto.LosslessPeerReuse(0), proto.LosslessPeerReuse(0)},
		{"stateful_server/lossless_client", proto.LosslessClient(0), proto.StatefulServer(0)},
		{"stateful_server/lossless_peer", proto.LosslessPeer(0), proto.StatefulServer(0)},
	}
	pair := pairs[e.Rand().IntN(len(pairs))]
	a, b, ad, bd, ab, ba := losslessPeers(t, e, pair.ap, pair.bp)
	rounds, perRound := 15, 8
	if !e.Sim() {
		rounds = 6
	}
	tid := uint64(1)
	sizes := map[uint64]int{} // data bytes of each tid (the same both ways)
	send := func(tid uint64) {
		size := e.Rand().IntN(64)
		if e.Rand().IntN(10) == 0 {
			size = 64<<10 + e.Rand().IntN(448<<10) // some large ones, as test_msgr's payloads
		}
		sizes[tid] = size
		for _, c := range []*msgr.Connection{ab, ba} {
			m := ping(tid)
			m.Data = payload(tid, size)
			mustSend(t, e, c, m)
		}
	}
	for r := 0; r < rounds; r++ {
		for i := 0; i < perRound; i++ {
			tid++
			send(tid)
		}
		if e.Rand().IntN(3) > 0 {
			// Let the session come back first (or most of the way), so the failure hits an
			// open session or a handshake rather than a backoff.
			e.Within(3*time.Second, func() bool { return ab.IsConnected() && ba.IsConnected() })
		}
		if e.Rand().IntN(2) == 0 {
			e.Sleep(time.Duration(e.Rand().IntN(600)) * time.Microsecond) // likely mid-handshake
		} else {
			e.Sleep(time.Duration(e.Rand().IntN(5000)) * time.Microsecond)
		}
		if e.Rand().IntN(2) == 0 {
			e.FailSockets(a, b)
		} else {
			e.FailSockets(b, a)
		}
	}
	// A last ping from a: an idle standby client would otherwise leave a server's queue waiting.
	tid++
	send(tid)
	n := int(tid)
	what := fmt.Sprintf("every message (%s)", pair.name)
	e.WaitFor(what, func() bool { return len(ad.received(nil)) >= n && len(bd.received(nil)) >= n })
	e.WaitFor("both sides acknowledged", func() bool { return ab.Queued() == 0 && ba.Queued() == 0 })
	checkExactlyOnce(t, e, "a from b ("+pair.name+")", ad.tidsFrom(osd0), n)
	checkExactlyOnce(t, e, "b from a ("+pair.name+")", bd.tidsFrom(clientM1), n)
	if get(ad, &ad.remoteResets)+get(bd, &bd.remoteResets) != 0 {
		t.Fatalf("%s: a session was reset (%s)", e.Desc(), pair.name)
	}
	for _, r := range append(ad.received(nil), bd.received(nil)...) {
		tid := r.msg.Header.Tid
		if tid > 1 && !bytes.Equal(r.msg.Data, payload(tid, sizes[tid])) {
			t.Fatalf("%s: message %d arrived with %d data bytes, not the %d sent", e.Desc(), tid, len(r.msg.Data), sizes[tid])
		}
	}
	e.Shutdown(a, b)
}
