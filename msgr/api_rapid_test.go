package msgr_test

// A rapid state-machine test of the Messenger public API — connect_to (to a peer and to
// ourselves), send_message, Connection.mark_down, mark_down(addr), mark_down_all, shutdown,
// policy changes, plus cut sockets and the passage of (virtual) time — against a reference
// model, over simnet in a world.World: two OSD-like messengers and a client.
//
// The model says what the API must answer at once:
//   - connect_to returns the same connection as long as the one it returned is not closed,
//     and another one once it is; the local connection for our own address; ErrShutdown after
//     shutdown;
//   - send_message succeeds on an open connection and returns ErrConnectionClosed on a closed one;
//   - after mark_down(addr) or mark_down_all the connections it covers are closed, and after
//     Connection.mark_down that one is; nothing closed stays registered (a broken registry
//     rule is reported under the checkers' name for it: registry-duplicate, registry-closed);
//   - a shut-down messenger finishes shutting down;
//
// and the simulator's checkers say what must happen over time, after every step: every
// message sent on a lossless session (both sides' policies lossless) is dispatched exactly once
// and in order per (connection, priority) unless a reset on its connection, a mark-down or a
// shutdown accounts for its loss; lossy ones at most once and in order; no ACK covers a message
// the peer has not read; registry and throttles stay consistent (check.Auditor). A settle action
// lets 30 virtual seconds pass and then requires every lossless message to have arrived.
//
// A lossless_peer session (no reset check) is marked down on both sides together, as Ceph's
// OSDs and its SyntheticWorkload do (see peerSideDown).
//
// Policies change by class, on both sides at once and only when no connection of that class
// is open, so that a session's lossiness is known when a message is sent on it: OSD↔OSD
// lossless_peer or lossless_peer_reuse; client→OSD lossy_client/stateless_server or
// lossless_client/stateful_server.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/netio/inject"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
	"pgregory.net/rapid"
)

func TestMessengerAPI(t *testing.T) {
	rapid.Check(t, testMessengerAPI)
}

// FuzzMessengerAPI is TestMessengerAPI as a native fuzz target (go test -fuzz).
func FuzzMessengerAPI(f *testing.F) {
	for _, seed := range [][]byte{{}, []byte(strings.Repeat("\x03\x01\x00\x07", 16)), []byte("messenger api state machine")} {
		f.Add(seed)
	}
	f.Fuzz(rapid.MakeFuzz(testMessengerAPI))
}

// Policy classes and their options (both sides of a class change together).
const (
	classPeer   = 0 // OSD <-> OSD
	classClient = 1 // client -> OSD, OSD -> client
)

type policyOption struct {
	name     string
	a, b     proto.Policy // OSD's policy for OSDs / client's policy for OSDs; OSD's for clients
	lossless bool
}

var policyOptions = [2][]policyOption{
	{{"lossless_peer", proto.LosslessPeer(0), proto.LosslessPeer(0), true},
		{"lossless_peer_reuse", proto.LosslessPeerReuse(0), proto.LosslessPeerReuse(0), true}},
	{{"lossy_client/stateless_server", proto.LossyClient(0), proto.StatelessServer(0), false},
		{"lossless_client/stateful_server", proto.LosslessClient(0), proto.StatefulServer(0), true}},
}

// apiNode is one messenger of the model.
type apiNode struct {
	name string
	typ  wire.EntityType
	m    *msgr.Messenger
	inj  *inject.Stack
	down bool
}

// apiConn is a connection the API handed out, with what the model knows of it.
type apiConn struct {
	from, to int // node indices (to == from: the local connection)
	c        *msgr.Connection
	lossless bool
}

type apiModel struct {
	t      *rapid.T
	w      *world.World
	check  *check.Checker
	nodes  []*apiNode
	conns  []*apiConn
	last   map[[2]int]*msgr.Connection // what connect_to(from, to) returned last
	option [2]int                      // current policy option per class
	tid    uint64
	log    []string // the actions so far, for failure reports
}

func testMessengerAPI(t *rapid.T) {
	seed := rapid.Uint64().Draw(t, "seed")
	m := newAPIModel(t, seed)
	// Weights: a key per share (rapid draws actions uniformly by key).
	t.Repeat(map[string]func(*rapid.T){
		"connect": m.connect, "connect2": m.connect, "connect3": m.connect,
		"connectSelf": m.connectSelf,
		"send":        m.send, "send2": m.send, "send3": m.send, "send4": m.send, "send5": m.send, "send6": m.send,
		"markDown":   m.anyMarkDown,
		"shutdown":   m.shutdown,
		"setPolicy":  m.setPolicy,
		"cutSockets": m.cutSockets, "cutSockets2": m.cutSockets,
		"step": m.step, "step2": m.step, "step3": m.step, "step4": m.step,
		"settle": m.settle,
		"":       m.invariants,
	})
	m.settle(t)
}

func newAPIModel(t *rapid.T, seed uint64) *apiModel {
	w := world.New(seed, simnet.Config{Latency: 100 * time.Microsecond}, false)
	m := &apiModel{t: t, w: w, check: check.NewChecker(), last: map[[2]int]*msgr.Connection{}}
	audit := check.NewAuditor(m.check, m.now)
	w.AfterStep = audit.AfterStep
	for i, name := range []wire.EntityName{wire.NewName(wire.EntityOSD, 0), wire.NewName(wire.EntityOSD, 1),
		wire.NewName(wire.EntityClient, 4100)} {
		n := m.addNode(i, name)
		audit.Add(n.name, n.m)
	}
	return m
}

func (m *apiModel) now() int64 { return int64(m.w.Now()) }

func (m *apiModel) addNode(i int, name wire.EntityName) *apiNode {
	ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
	n := &apiNode{name: name.String(), typ: name.Type}
	n.inj = inject.New(m.w.AddHost(n.name, ip), inject.Options{Controllable: true})
	msg, err := msgr.New(msgr.Config{Name: name, Stack: n.inj, Runtime: m.w, Rand: m.w.Rand(), ClusterProtocol: 10,
		MaxBackoff: time.Second, Tracer: func(ev msgr.TraceEvent) { m.trace(n, ev) }})
	if err != nil {
		m.t.Fatal(err)
	}
	n.m = msg
	m.nodes = append(m.nodes, n)
	m.applyPolicies(n)
	if n.typ == wire.EntityOSD {
		if err := msg.Bind(netip.AddrPortFrom(ip, 0)); err != nil {
			m.t.Fatal(err)
		}
	}
	if err := msg.Start(); err != nil {
		m.t.Fatal(err)
	}
	msg.AddDispatcherTail(&apiDispatcher{m: m, n: n, fast: i%2 == 0})
	return n
}

// applyPolicies sets n's policies from the current option of each class.
func (m *apiModel) applyPolicies(n *apiNode) {
	peer, client := policyOptions[classPeer][m.option[classPeer]], policyOptions[classClient][m.option[classClient]]
	if n.typ == wire.EntityOSD {
		n.m.SetPolicy(wire.EntityOSD, peer.a)
		n.m.SetPolicy(wire.EntityClient, client.b)
		return
	}
	n.m.SetPolicy(wire.EntityOSD, client.a)
}

// trace feeds the checker what only the messenger sees: reads, acknowledgements, drops, resets.
func (m *apiModel) trace(n *apiNode, ev msgr.TraceEvent) {
	switch ev.Kind {
	case msgr.TraceDeliver:
		m.check.Received(n.name, ev.Msg.Header.Tid)
	case msgr.TraceAcked:
		m.check.Acked(ev.Msg.Header.Tid, m.now())
	case msgr.TraceDrop:
		m.check.Dropped(ev.Msg.Header.Tid)
	case msgr.TraceConnEvent:
		if ev.Event == proto.EventReset || ev.Event == proto.EventRemoteReset {
			m.check.ForgiveConn(n.name, ev.Conn.ID())
		}
	}
}

func (m *apiModel) logf(format string, args ...any) {
	m.log = append(m.log, fmt.Sprintf("%v ", m.w.Now())+fmt.Sprintf(format, args...))
}

func (m *apiModel) fail(format string, args ...any) {
	m.t.Fatalf("%s\nactions:\n  %s", fmt.Sprintf(format, args...), strings.Join(m.log, "\n  "))
}

// pair draws a connectable pair: OSD to OSD, or the client to an OSD.
func (m *apiModel) pair(t *rapid.T) (int, int) {
	p := rapid.SampledFrom([][2]int{{0, 1}, {1, 0}, {2, 0}, {2, 1}}).Draw(t, "pair")
	return p[0], p[1]
}

func (m *apiModel) class(from, to int) int {
	if m.nodes[from].typ == wire.EntityOSD && m.nodes[to].typ == wire.EntityOSD {
		return classPeer
	}
	return classClient
}

func (m *apiModel) connect(t *rapid.T) {
	from, to := m.pair(t)
	f, dst := m.nodes[from], m.nodes[to]
	c, err := f.m.ConnectTo(dst.typ, dst.m.MyAddr())
	m.logf("%s connect_to %s -> %v", f.name, dst.name, connDesc(c, err))
	if f.down {
		if !errors.Is(err, msgr.ErrShutdown) {
			m.fail("connect_to on a shut-down messenger: %v, want ErrShutdown", err)
		}
		return
	}
	if err != nil || c == nil || c.IsLocal() {
		m.fail("connect_to %s: %v (local %v)", dst.name, err, c != nil && c.IsLocal())
	}
	key := [2]int{from, to}
	if prev := m.last[key]; prev != nil {
		if !prev.IsClosed() && prev != c {
			m.fail("%s: connect_to returned connection %d while %d, still open, is registered", check.InvRegistryDup, c.ID(), prev.ID())
		}
		if prev.IsClosed() && prev == c {
			m.fail("%s: connect_to returned connection %d, which is closed (still registered)", check.InvRegistryClosed, c.ID())
		}
	}
	m.last[key] = c
	m.remember(from, to, c, policyOptions[m.class(from, to)][m.option[m.class(from, to)]].lossless)
}

func connDesc(c *msgr.Connection, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case c == nil:
		return "none"
	}
	return fmt.Sprintf("conn %d", c.ID())
}

// remember records a connection the API handed out (once).
func (m *apiModel) remember(from, to int, c *msgr.Connection, lossless bool) {
	for _, x := range m.conns {
		if x.c == c {
			return
		}
	}
	m.conns = append(m.conns, &apiConn{from: from, to: to, c: c, lossless: lossless})
}

func (m *apiModel) connectSelf(t *rapid.T) {
	i := rapid.IntRange(0, len(m.nodes)-1).Draw(t, "node")
	n := m.nodes[i]
	c, err := n.m.ConnectTo(n.typ, n.m.MyAddr())
	m.logf("%s connect_to itself -> %v", n.name, connDesc(c, err))
	if n.down {
		if !errors.Is(err, msgr.ErrShutdown) {
			m.fail("connect_to itself after shutdown: %v", err)
		}
		return
	}
	if err != nil || c != n.m.LocalConnection() || !c.IsLocal() {
		m.fail("connect_to our own address did not return the local connection: %v", err)
	}
	m.remember(i, i, c, true)
}

// send sends a burst of 1 to 8 messages on one connection, at the default priority or 200.
func (m *apiModel) send(t *rapid.T) {
	if len(m.conns) == 0 {
		return // no connection yet (a no-op, not a skip: a fuzzer's bytes may draw it every time)
	}
	x := m.drawConn(t)
	n := rapid.IntRange(1, 8).Draw(t, "messages")
	for i := 0; i < n; i++ {
		prio := rapid.SampledFrom([]uint16{wire.PrioDefault, 200}).Draw(t, "priority")
		m.sendOne(x, prio)
	}
}

// drawConn draws a connection the API handed out: mostly an open one to a peer, sometimes
// any open one (the local connection too), sometimes any at all (closed ones too).
func (m *apiModel) drawConn(t *rapid.T) *apiConn {
	var open []*apiConn
	for _, x := range m.conns {
		if !x.c.IsClosed() {
			open = append(open, x)
		}
	}
	var remote []*apiConn
	for _, x := range open {
		if !x.c.IsLocal() {
			remote = append(remote, x)
		}
	}
	switch k := rapid.IntRange(0, 9).Draw(t, "which"); {
	case k > 2 && len(remote) > 0:
		return rapid.SampledFrom(remote).Draw(t, "conn")
	case k > 0 && len(open) > 0:
		return rapid.SampledFrom(open).Draw(t, "conn")
	}
	return rapid.SampledFrom(m.conns).Draw(t, "conn")
}

func (m *apiModel) sendOne(x *apiConn, prio uint16) {
	m.tid++
	msg := wire.NewMessage(wire.MsgPing, binary.LittleEndian.AppendUint64(nil, m.tid))
	msg.Header.Tid, msg.Header.Priority = m.tid, prio
	from, to := m.nodes[x.from], m.nodes[x.to]
	closed := x.c.IsClosed()
	m.check.SentOn(from.name, to.name, x.c.ID(), prio, m.tid, x.lossless)
	err := x.c.SendMessage(msg)
	m.logf("%s send tid %d prio %d on conn %d to %s: %v", from.name, m.tid, prio, x.c.ID(), to.name, err)
	switch {
	case closed && !errors.Is(err, msgr.ErrConnectionClosed):
		m.fail("send on closed connection %d: %v, want ErrConnectionClosed", x.c.ID(), err)
	case !closed && err != nil:
		m.fail("send on open connection %d: %v", x.c.ID(), err)
	}
	if err != nil {
		m.check.Dropped(m.tid)
	}
}

// anyMarkDown is one of Connection.mark_down, mark_down(addr) and mark_down_all.
func (m *apiModel) anyMarkDown(t *rapid.T) {
	switch rapid.IntRange(0, 2).Draw(t, "which") {
	case 0:
		m.connMarkDown(t)
	case 1:
		m.markDown(t)
	default:
		m.markDownAll(t)
	}
}

func (m *apiModel) connMarkDown(t *rapid.T) {
	if len(m.conns) == 0 {
		return // no connection yet (a no-op, not a skip: a fuzzer's bytes may draw it every time)
	}
	x := rapid.SampledFrom(m.conns).Draw(t, "conn")
	m.logf("%s conn %d mark_down", m.nodes[x.from].name, x.c.ID())
	x.c.MarkDown()
	m.check.ForgiveConn(m.nodes[x.from].name, x.c.ID())
	if !x.c.IsLocal() && !x.c.IsClosed() {
		m.fail("connection %d not closed by its mark_down", x.c.ID())
	}
	m.peerSideDown(m.nodes[x.from], x.c)
}

// peerSideDown marks the peer's side of c's session down too when the session has no reset
// check (lossless_peer), as Ceph's OSDs (told by the OSD map) and its SyntheticWorkload do:
// marked down on one side only, the other side would retransmit its unacknowledged messages to
// the next session, which dispatches them a second time (msgr1-protocol.md quirk Q10).
func (m *apiModel) peerSideDown(n *apiNode, c *msgr.Connection) {
	if c.IsLocal() || m.classOf(n, c) != classPeer || policyOptions[classPeer][m.option[classPeer]].a.Resetcheck {
		return
	}
	for _, p := range m.nodes {
		if p == n || p.down || p.m.MyAddr().Nonce != c.PeerAddr().Nonce {
			continue
		}
		pc, err := p.m.ConnectTo(n.typ, n.m.MyAddr())
		if err != nil {
			m.fail("%s connect_to %s: %v", p.name, n.name, err)
		}
		pc.MarkDown()
		m.check.ForgiveConn(p.name, pc.ID())
		m.logf("  and %s conn %d mark_down (lossless_peer: both sides)", p.name, pc.ID())
	}
}

func (m *apiModel) markDown(t *rapid.T) {
	from, to := m.pair(t)
	if rapid.Bool().Draw(t, "reverse") && m.nodes[from].typ == wire.EntityOSD {
		from, to = to, from
	}
	f, dst := m.nodes[from], m.nodes[to]
	before := m.registered(f, dst)
	m.logf("%s mark_down %s (registered: %v)", f.name, dst.name, connDesc(before, nil))
	f.m.MarkDown(dst.m.MyAddr())
	if before != nil {
		m.check.ForgiveConn(f.name, before.ID())
		if !before.IsClosed() {
			m.fail("mark_down(%s) left connection %d open", dst.name, before.ID())
		}
		m.peerSideDown(f, before)
	}
	if c := m.registered(f, dst); c != nil {
		m.fail("%s: after mark_down(%s), connection %d is still registered", check.InvRegistryClosed, dst.name, c.ID())
	}
}

// registered is f's registered connection for dst's address, or nil.
func (m *apiModel) registered(f, dst *apiNode) *msgr.Connection {
	for _, r := range f.m.Registry() {
		if r.Addr == dst.m.MyAddr() {
			return r.Conn
		}
	}
	return nil
}

func (m *apiModel) markDownAll(t *rapid.T) {
	n := m.nodes[rapid.IntRange(0, len(m.nodes)-1).Draw(t, "node")]
	live := n.m.Connections()
	m.logf("%s mark_down_all (%d connections)", n.name, len(live))
	n.m.MarkDownAll()
	for _, c := range live {
		m.check.ForgiveConn(n.name, c.ID())
		if !c.IsClosed() {
			m.fail("mark_down_all left connection %d open", c.ID())
		}
		m.peerSideDown(n, c)
	}
	if r := n.m.Registry(); len(r) != 0 {
		m.fail("%s: mark_down_all left %d connections registered", check.InvRegistryClosed, len(r))
	}
}

func (m *apiModel) shutdown(t *rapid.T) {
	if len(m.log) < 20 {
		return // shut down only late in a run: a dead messenger ends most of what can be tested
	}
	n := m.nodes[rapid.IntRange(0, len(m.nodes)-1).Draw(t, "node")]
	m.logf("%s shutdown", n.name)
	n.m.Shutdown()
	n.down = true
	m.check.ForgiveNode(n.name)
	for _, c := range n.m.Connections() {
		if !c.IsClosed() {
			m.fail("shutdown left connection %d open", c.ID())
		}
	}
	if err := n.m.Start(); !errors.Is(err, msgr.ErrShutdown) {
		m.fail("start after shutdown: %v", err)
	}
}

func (m *apiModel) setPolicy(t *rapid.T) {
	class := rapid.IntRange(classPeer, classClient).Draw(t, "class")
	opt := rapid.IntRange(0, len(policyOptions[class])-1).Draw(t, "option")
	for _, n := range m.nodes {
		for _, c := range n.m.Connections() {
			if !c.IsClosed() && m.classOf(n, c) == class {
				return // a connection of the class is open
			}
		}
	}
	m.option[class] = opt
	m.logf("policies %d -> %s", class, policyOptions[class][opt].name)
	for _, n := range m.nodes {
		m.applyPolicies(n)
	}
}

func (m *apiModel) classOf(n *apiNode, c *msgr.Connection) int {
	if n.typ == wire.EntityOSD && c.PeerType() == wire.EntityOSD {
		return classPeer
	}
	return classClient
}

func (m *apiModel) cutSockets(t *rapid.T) {
	n := m.nodes[rapid.IntRange(0, len(m.nodes)-1).Draw(t, "node")]
	cut := n.inj.CutAll()
	m.logf("%s: %d sockets cut", n.name, cut)
}

// step lets the world make up to n scheduling decisions.
func (m *apiModel) step(t *rapid.T) {
	n := rapid.IntRange(1, 100).Draw(t, "steps")
	m.logf("step %d", n)
	for i := 0; i < n; i++ {
		more, err := m.w.Step()
		if err != nil {
			m.fail("step: %v", err)
		}
		if !more {
			return
		}
	}
}

// settle lets 30 virtual seconds pass; then every lossless message must have arrived (or its
// loss be accounted for) and every shut-down messenger be done.
func (m *apiModel) settle(t *rapid.T) {
	m.logf("settle")
	expired := false
	m.w.Schedule(m.w.Now()+30*time.Second, func() { expired = true })
	if err := m.w.RunUntil(func() bool { return expired }, m.w.Now()+time.Minute, 5_000_000); err != nil {
		m.fail("settle: %v", err)
	}
	for _, n := range m.nodes {
		if n.down {
			m.check.ForgiveNode(n.name) // what was sent to it since it went down
			if !n.m.Finished() {
				m.fail("%s shut down 30 s ago and has not finished", n.name)
			}
		}
	}
	if p := m.check.PendingLossless(); p > 0 {
		m.check.Finish(m.now())
		m.fail("%d lossless messages not delivered after 30 s: %v", p, m.check.Violations())
	}
}

// invariants: nothing the checkers watch after every step has been violated.
func (m *apiModel) invariants(*rapid.T) {
	if vs := m.check.Violations(); len(vs) > 0 {
		m.fail("invariants violated: %v", vs)
	}
}

// apiDispatcher records dispatched messages with the checker.
type apiDispatcher struct {
	msgr.NopDispatcher
	m    *apiModel
	n    *apiNode
	fast bool
}

func (d *apiDispatcher) CanFastDispatchAny() bool                         { return d.fast }
func (d *apiDispatcher) CanFastDispatch(*msgr.Message) bool               { return d.fast }
func (d *apiDispatcher) FastDispatch(c *msgr.Connection, m *msgr.Message) { d.Dispatch(c, m) }

func (d *apiDispatcher) Dispatch(_ *msgr.Connection, m *msgr.Message) bool {
	intact := len(m.Front) == 8 && binary.LittleEndian.Uint64(m.Front) == m.Header.Tid
	d.m.check.Dispatched(d.n.name, m.Header.Tid, intact, d.m.now())
	return true
}
