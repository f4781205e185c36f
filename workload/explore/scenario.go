package explore

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/sim/harness"
)

// Policy is how the scenario's two messengers treat each other: the connector's policy toward
// the acceptor's entity type, and the acceptor's toward the connector's.
type Policy struct {
	Name     string
	Doc      string
	connType wire.EntityType
	accType  wire.EntityType
	conn     func(uint64) proto.Policy
	acc      func(uint64) proto.Policy
	// byAddr: the acceptor answers through connect_to the connector's address (a peer), not
	// on the connection the message came in on (a server).
	byAddr bool
}

// Policies are the policies explore runs every point under.
var Policies = []Policy{
	{Name: "lossy-client", Doc: "a client (lossy_client) and a server (stateless_server)",
		connType: wire.EntityClient, accType: wire.EntityOSD, conn: proto.LossyClient, acc: proto.StatelessServer},
	{Name: "lossless-peer", Doc: "two OSDs (lossless_peer)",
		connType: wire.EntityOSD, accType: wire.EntityOSD, conn: proto.LosslessPeer, acc: proto.LosslessPeer, byAddr: true},
	{Name: "lossless-peer-reuse", Doc: "two OSDs (lossless_peer_reuse)",
		connType: wire.EntityOSD, accType: wire.EntityOSD, conn: proto.LosslessPeerReuse, acc: proto.LosslessPeerReuse, byAddr: true},
	{Name: "stateful-server", Doc: "a lossless client (lossless_client) and a stateful server (stateful_server)",
		connType: wire.EntityClient, accType: wire.EntityOSD, conn: proto.LosslessClient, acc: proto.StatefulServer},
}

// lossless reports whether both sides keep their sessions across faults.
func (p Policy) lossless() bool { return !p.conn(0).Lossy && !p.acc(0).Lossy }

// InvFaultLoss is the invariant explore adds to the simulator's: the scenario's messengers
// never crash, restart or mark each other down, so the only trouble is the fault points, and
// msgr1 recovers a lossless session from a socket fault without losing a message (it
// reconnects, and the SEQ exchange or RETRY_SESSION resumes it). A message lost with a
// session reset to excuse it (which lossless-loss accepts) is a bug here: the reset was not
// needed. It is what a fault in a handshake step that bumps connect_seq (Ceph PR #25343) does:
// the peer answers RESETSESSION and the queued messages are dropped.
const InvFaultLoss = "fault-loss"

// InvFaultLossDoc states InvFaultLoss in one line.
const InvFaultLossDoc = "with only socket faults (explore's points) and both messengers up, no lossless message is lost, even with a session reset to excuse it"

// PolicyNamed is the policy called name.
func PolicyNamed(name string) (Policy, bool) {
	for _, p := range Policies {
		if p.Name == name {
			return p, true
		}
	}
	return Policy{}, false
}

// The scenario's timing. The messengers' timeouts are short so that a blocked stream times the
// peer out within seconds of virtual time.
const (
	readyTimeout = 2 * time.Second // ms_connection_ready_timeout: the handshake's deadline
	idleTimeout  = 4 * time.Second // ms_connection_idle_timeout
	// StallFor is how long a stall holds a stream: longer than a round trip and the first
	// reconnect backoff, shorter than every timeout.
	StallFor = 300 * time.Millisecond
	// BlockFor is how long a block holds a stream: past both timeouts of the peer.
	BlockFor = idleTimeout + readyTimeout + time.Second
)

// scenario is the workload every point runs: the connector sends messages and a keepalive to
// the acceptor, which answers each message; both check everything they receive.
type scenario struct {
	h     *harness.Run
	pol   Policy
	x     *explorer
	nodes [2]*node

	markDownAt time.Duration // a test's: the connector marks the acceptor down then
	v          Variant       // the opt-in changes of the scenario (zero: none)

	burst   prioBurst    // with Variant.Priorities: the burst's messages, as the acceptor got them
	restart restartWatch // with Variant.PeerRestart: the connector's power cut and restart
	cuts    int          // with Variant.ChallengeCuts: the acceptor's handshakes still to cut
	ready   readyWatch   // the acceptor's connections in the accepting states (InvReadyTimeout)
	// resets are when either node heard of a session reset (a reset or remote_reset event).
	resets []time.Duration
}

// node is one side: a messenger on its own simulated host (one incarnation, but for
// Variant.PeerRestart's connector).
type node struct {
	sc    *scenario
	side  Side
	ename wire.EntityName
	name  string // for the checker's streams, e.g. "osd.0"
	inc   string // its incarnation, e.g. "osd.0#1"
	incN  int    // its incarnation's number (1, then 2 after Variant.PeerRestart's restart)
	nonce uint32 // the nonce its next messenger takes (0: its own)
	down  bool   // it lost power (Variant.PeerRestart) and is not back yet: it sends nothing
	ip    netip.Addr
	m     *msgr.Messenger
	pol   proto.Policy // toward the other side
	auth  msgr.Auth    // with Variant.Cephx: its cephx
}

func newScenario(h *harness.Run, pol Policy, x *explorer) *scenario {
	sc := &scenario{h: h, pol: pol, x: x}
	names := [2]wire.EntityName{wire.NewName(pol.connType, 1), wire.NewName(pol.accType, 0)}
	if pol.connType == wire.EntityClient {
		names[Connector] = wire.NewName(wire.EntityClient, 4100)
	}
	for side := range sc.nodes {
		n := &node{sc: sc, side: Side(side), ename: names[side], name: names[side].String(),
			ip: netip.AddrFrom4([4]byte{10, 0, 0, byte(side + 1)})}
		n.inc, n.incN = n.name+"#1", 1
		n.pol = pol.conn(0)
		if n.side == Acceptor {
			n.pol = pol.acc(0)
		}
		sc.nodes[side] = n
		x.names[side] = n.inc
	}
	return sc
}

// Build implements harness.Workload: both messengers, then the connector's sends.
func (sc *scenario) Build() error {
	if sc.v.Cephx {
		if err := sc.setupCephx(); err != nil {
			return err
		}
	}
	for _, n := range sc.nodes {
		if err := n.start(); err != nil {
			return err
		}
	}
	sc.h.LogFaults()
	// The second message follows the first by less than a round trip: it is in flight when the
	// ACK of the first arrives, where an ACK that acknowledges too much shows.
	a := sc.nodes[Connector]
	if sc.v.KeepaliveFirst {
		sc.h.W.Schedule(500*time.Microsecond, a.keepalive)
	}
	first := a.send
	if sc.v.Priorities {
		first = a.sendBurst
	}
	sc.h.W.Schedule(1*time.Millisecond, first)
	sc.h.W.Schedule(1*time.Millisecond+150*time.Microsecond, a.send)
	sc.h.W.Schedule(2*time.Millisecond, a.keepalive)
	sc.h.W.Schedule(3*time.Millisecond, a.sendBig)
	if sc.markDownAt > 0 {
		sc.h.W.Schedule(sc.markDownAt, func() { a.m.MarkDown(a.peer().m.MyAddr()) })
	}
	return nil
}

// start creates the node's messenger. The acceptor binds; the connector binds too when it is a
// peer (a lossless peer may be connected back to).
func (n *node) start() error {
	sc := n.sc
	h := sc.h
	host := h.W.AddHost(n.inc, n.ip)
	st := &stack{Stack: host, x: sc.x, side: n.side}
	if sc.v.ChallengeCuts && n.side == Acceptor {
		st.cuts = &sc.cuts
		sc.cuts = challengeCuts
	}
	cfg := msgr.Config{Name: n.ename, Stack: st, Runtime: h.W, Rand: h.W.Rand(),
		ClusterProtocol: wire.ProtoOSDPeer, Tracer: n.tracer(), ReadyTimeout: readyTimeout, IdleTimeout: idleTimeout,
		Nonce: n.nonce}
	if sc.v.Chunked {
		cfg.Stack = chunkedStack{st}
	}
	sc.v.configure(&cfg, n.side, n.auth)
	m, err := msgr.New(cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", n.inc, err)
	}
	n.m = m
	if sc.v.Throttled && n.side == Acceptor {
		n.pol.ThrottlerMessages = 1
	}
	m.SetPolicy(sc.nodes[n.side.other()].ename.Type, n.pol)
	if n.side == Acceptor || sc.pol.byAddr {
		if err := m.Bind(netip.AddrPortFrom(n.ip, 6800)); err != nil {
			return fmt.Errorf("%s: %w", n.inc, err)
		}
	}
	if err := m.Start(); err != nil {
		return fmt.Errorf("%s: %w", n.inc, err)
	}
	m.AddDispatcherTail(n)
	h.Audit.Add(n.inc, m)
	h.W.Trace.Logf(h.W.Now(), "%s up at %v (%s)", n.inc, m.MyAddr(), sc.pol.Name)
	return nil
}

// peer is the other side's node.
func (n *node) peer() *node { return n.sc.nodes[n.side.other()] }

// conn is the node's connection to its peer (nil while the node is down).
func (n *node) conn() *msgr.Connection {
	if n.down {
		return nil
	}
	p := n.peer()
	c, err := n.m.ConnectTo(p.ename.Type, p.m.MyAddr())
	if err != nil {
		n.sc.h.Check.Violate(check.InvNoProgress, int64(n.sc.h.W.Now()), "%s connect_to %v: %v", n.name, p.m.MyAddr(), err)
		return nil
	}
	return c
}

func (n *node) send()    { n.sendOn(n.conn(), 0) }
func (n *node) sendBig() { n.sendOn(n.conn(), 6000) }

// sendBurst sends Variant.Priorities' burst: one message at each of burstPrios, in that
// order, on the connection it creates, so all three are queued before anything is written.
func (n *node) sendBurst() {
	c := n.conn()
	for _, prio := range burstPrios {
		n.sc.burst.sent = append(n.sc.burst.sent, n.sendPrio(c, 0, prio))
	}
}

func (n *node) keepalive() {
	if c := n.conn(); c != nil {
		n.sc.x.ka.ask(n.sc.h.W.Now(), n.sc.x.written[n.side]["keepalive2"])
		c.SendKeepalive()
	}
}

// keepaliveExcused reports whether something may have cut the connector's connection after a
// keepalive requested at at, so that the keepalive need not be written (InvKeepalive): a
// mark-down, a session reset since, a fault point that fired since (the keepalive waits for
// the session to open, however late), or one that fired before at and held a stream (what a
// hold takes is not walked, and is lost to the fault that ends it).
func (sc *scenario) keepaliveExcused(at time.Duration) bool {
	if sc.markDownAt > 0 || sc.restart.off && sc.restart.offAt >= at {
		return true
	}
	for _, r := range sc.resets {
		if r >= at {
			return true
		}
	}
	x := sc.x
	for i, p := range x.points {
		if !x.fired[i] || (x.firedAt[i] < at && p.Action == Reset) {
			continue
		}
		return true
	}
	return false
}

// sendOn sends one message on c (front and middle, and a data section of data bytes if
// data > 0), recording it with the checker if the messenger took it.
func (n *node) sendOn(c *msgr.Connection, data int) { n.sendPrio(c, data, 0) }

// sendPrio is sendOn at priority prio (0: the messenger's default) and returns the message's
// id (0: none sent).
func (n *node) sendPrio(c *msgr.Connection, data int, prio uint16) uint64 {
	if c == nil {
		return 0
	}
	h := n.sc.h
	id := h.NextID()
	data = n.sc.v.data(id, data)
	m := wire.NewMessage(wire.MsgPing, n.sc.v.front(id))
	m.Middle = n.sc.v.middle(id, data)
	if data > 0 {
		m.Data = pattern(id, 7, data)
	}
	if n.sc.v.oneByte(id, data) {
		m.Front, m.Middle = []byte{byte(id)}, nil
	}
	m.Header.Tid, m.Header.Priority = id, prio
	lossless := !n.pol.Lossy
	h.Check.SentOn(n.name, n.peer().name, check.SessionID(n.incN, c.ID()), m.Header.Priority, id, lossless)
	if n.sc.v.PeerRestart && n.side == Acceptor {
		n.sc.restart.acceptorSent(id, c.ID(), h.W.Now())
	}
	h.W.Trace.Logf(h.W.Now(), "%s conn %d: send id %d (lossless %v)", n.inc, c.ID(), id, lossless)
	if err := c.SendMessage(m); err != nil {
		h.Check.Dropped(id)
	}
	return id
}

// pattern is n bytes that start with the message id and follow from it (mul varies it per
// section), so a receiver can tell whether the content arrived intact.
func pattern(id uint64, mul uint64, n int) []byte {
	b := make([]byte, max(n, 8))
	binary.LittleEndian.PutUint64(b, id)
	for i := 8; i < len(b); i++ {
		b[i] = byte(id*31*mul + uint64(i))
	}
	return b
}

func intact(m *msgr.Message) bool {
	id := m.Header.Tid
	ok := func(b []byte, mul uint64) bool {
		if len(b) == 0 {
			return true
		}
		return len(b) >= 8 && string(b) == string(pattern(id, mul, len(b)))
	}
	return len(m.Front) > 0 && ok(m.Front, 1) && ok(m.Middle, 3) && ok(m.Data, 7)
}

// Safety implements harness.Workload: run until every send and every hold was issued.
func (sc *scenario) Safety() bool {
	if err := sc.h.RunUntil(sc.h.AllIssued, BlockFor+time.Minute); err != nil {
		sc.h.StepFailed(check.InvNoProgress, err, "safety phase")
		return false
	}
	return true
}

// Liveness implements harness.Workload: every lossless message must arrive within a bound.
func (sc *scenario) Liveness() {
	h := sc.h
	h.Heal()
	done := func() bool {
		return h.W.Quiet() && h.Unsettled(sc.live) == 0 && h.Check.PendingLossless() == 0 && sc.restarted()
	}
	if err := h.RunUntil(done, h.W.Now()+h.Cfg.Liveness); err != nil {
		h.StepFailedWith(check.InvLiveness, err, func() string {
			return fmt.Sprintf("%d lossless messages still undelivered, %d unsettled",
				h.Check.PendingLossless(), h.Unsettled(sc.live))
		})
	}
}

func (sc *scenario) live(yield func(*msgr.Messenger) bool) {
	for _, n := range sc.nodes {
		if !yield(n.m) {
			return
		}
	}
}

// Finish implements harness.Workload: after the loss check, no lossless message may have
// been lost at all (InvFaultLoss).
func (sc *scenario) Finish() {
	sc.ready.finish(sc.h)
	sc.x.ka.finish(sc.h, sc.x.written[Connector]["keepalive2"], sc.keepaliveExcused)
	if !sc.pol.lossless() || sc.v.PeerRestart {
		// A restart loses what the old incarnation held and leaves what it read
		// unacknowledged: neither fault-loss nor acked holds (restart-carryover checks what
		// the reset must discard).
		return
	}
	checkAcked(sc.h, len(sc.resets))
	sent, lost := sc.h.Check.LosslessCounts()
	if lost > 0 {
		sc.h.Check.Violate(InvFaultLoss, int64(sc.h.W.Now()), "%d of %d lossless messages never dispatched, excused by a session reset, with only %v injected",
			lost, sent, sc.x.points)
	}
}

// Shutdown implements harness.Workload.
func (sc *scenario) Shutdown() { sc.h.ShutdownAll(sc.live) }

// Models implements harness.Workload: the lossless sessions are model-checked.
func (sc *scenario) Models() (bool, *models.KVHistory) { return true, nil }

// Processes implements harness.Workload: none (explore injects no process faults).
func (sc *scenario) Processes() []fault.Process { return nil }

// Report implements harness.Workload.
func (sc *scenario) Report() string { return "" }

// The node is its messenger's Dispatcher: it checks every message, the acceptor answers each
// of the connector's, and resets are accounted to the checker.

// The connector fast-dispatches (in the reading worker), the acceptor does not (the dispatch
// queue): both paths run.
func (n *node) CanFastDispatchAny() bool                       { return n.side == Connector }
func (n *node) CanFastDispatch(*msgr.Message) bool             { return n.side == Connector }
func (n *node) FastPreprocess(*msgr.Connection, *msgr.Message) {}
func (n *node) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	n.Dispatch(c, m)
}

func (n *node) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	h := n.sc.h
	h.Check.Dispatched(n.inc, m.Header.Tid, n.sc.v.intact(m), int64(h.W.Now()))
	n.sc.burst.dispatched(h, m)
	if n.side == Connector {
		n.checkCarryover(m)
	}
	if n.sc.v.Throttled && n.side == Acceptor {
		n.throttleHeld(m)
	}
	if n.side == Acceptor && h.Phase != harness.PhaseShutdown {
		big := 0
		if len(m.Data) > smallData {
			big = 5000 // the answer to the big message (its data section is 6,000 bytes)
		}
		if n.sc.pol.byAddr {
			n.sendOn(n.conn(), big)
		} else {
			n.sendOn(c, big)
		}
		if n.sc.v.PeerRestart {
			n.sc.restartDispatched()
		}
	}
	n.m.Release(m)
	return true
}

func (n *node) HandleConnect(c *msgr.Connection)     { n.sc.h.Opened(c) }
func (n *node) HandleFastConnect(*msgr.Connection)   {}
func (n *node) HandleAccept(c *msgr.Connection)      { n.sc.h.Opened(c) }
func (n *node) HandleFastAccept(*msgr.Connection)    {}
func (n *node) HandleReset(c *msgr.Connection) bool  { n.reset(c); return true }
func (n *node) HandleRemoteReset(c *msgr.Connection) { n.reset(c) }
func (n *node) HandleRefused(*msgr.Connection) bool  { return false }

// reset accounts the loss of what this node sent to the peer before now.
func (n *node) reset(c *msgr.Connection) {
	h := n.sc.h
	if h.Phase == harness.PhaseShutdown {
		return
	}
	h.Stats.SessionResets++
	n.sc.resets = append(n.sc.resets, h.W.Now())
	if n.side == Acceptor {
		n.sc.restart.acceptorReset(c.ID(), h.W.Now())
	}
	h.Check.Forgive(n.name, n.peer().name) // the scenario's only peer
}

// TraceID implements harness.Traced.
func (n *node) TraceID() (uint64, uint64) { return uint64(n.side), uint64(n.incN) }

// Receiver implements harness.Traced.
func (n *node) Receiver() string { return n.inc }
