package synthetic

import (
	"hash/fnv"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
)

// Checker feeds a check.Checker from the workload — it is the workload's Observer — and from
// its messengers' traces (Trace), in the simulator and over real TCP alike.
//
// How it accounts for losses (see check.Checker), per connection: a reset or remote-reset
// event on a connection forgives what its node sent on that connection before the event; a
// connection the workload marks down forgives what was sent on it, and on every connection
// the peer still has with the node, which also become orphans (their later messages may be
// lost) until they see a connect, accept, reset or remote-reset event.
//
// Like check.Checker it does not lock: in the simulator everything runs on one goroutine.
// Over real TCP, where every messenger's workers call Trace, the caller serializes its calls,
// and must not hold its lock while calling into a messenger (messengers trace while holding
// their own locks): the two methods that ask messengers something are therefore split in a
// query that touches no state of the Checker (PeerSessions, Stranded) and an update that asks
// no messenger (ForgetMarkedDown, ForgiveOrphans).
type Checker struct {
	check  *check.Checker
	now    func() int64
	nodes  map[*msgr.Messenger]*Node
	digest map[uint64]uint64 // message id -> content digest, until dispatched
	// connEventsOnly: the caller feeds deliveries, acknowledgements and drops to the
	// check.Checker itself (the simulator's trace path does); Trace handles connection events.
	connEventsOnly bool
	// attributed, when set, says whether the reset event just traced on a connection was
	// attributed to a cause (the simulator's reset attribution): a spurious reset excuses
	// nothing.
	attributed func(*msgr.Connection) bool
}

// AttributeResets makes a reset event forgive what was sent on its connection only when
// attributed reports it was attributed to a cause (call it right after the event is traced).
func (k *Checker) AttributeResets(attributed func(*msgr.Connection) bool) { k.attributed = attributed }

// NewChecker returns a checker adapter reporting to k, stamping with now().
func NewChecker(k *check.Checker, now func() int64) *Checker {
	return &Checker{check: k, now: now, nodes: make(map[*msgr.Messenger]*Node), digest: make(map[uint64]uint64)}
}

// ConnEventsOnly makes Trace handle connection events only: the caller tells the check.Checker
// about deliveries, acknowledgements and drops itself (the simulator's trace path does).
func (k *Checker) ConnEventsOnly() { k.connEventsOnly = true }

// AddNode tells the checker that m is node n's messenger (before m starts).
func (k *Checker) AddNode(n *Node, m *msgr.Messenger) { k.nodes[m] = n }

func (k *Checker) name(n *Node) string {
	if n == nil {
		return "?"
	}
	return n.Name
}

// Sent implements Observer.
func (k *Checker) Sent(from, peer *Node, c *msgr.Connection, m *msgr.Message, lossless bool) {
	k.digest[m.Header.Tid] = digest(m)
	k.check.SentOn(from.Name, k.name(peer), c.ID(), m.Header.Priority, m.Header.Tid, lossless)
}

// NotSent implements Observer.
func (k *Checker) NotSent(_ *Node, m *msgr.Message) { k.check.Dropped(m.Header.Tid) }

// Dispatched implements Observer.
func (k *Checker) Dispatched(to *Node, _ *msgr.Connection, m *msgr.Message) {
	d := digest(m)
	want, ok := k.digest[m.Header.Tid]
	delete(k.digest, m.Header.Tid)
	k.check.Dispatched(k.name(to), m.Header.Tid, !ok || want == d, k.now())
}

// MarkedDown implements Observer: ForgetMarkedDown with the peer's sessions with by.
func (k *Checker) MarkedDown(by, peer *Node, c *msgr.Connection) {
	k.ForgetMarkedDown(by, peer, c, PeerSessions(by, peer))
}

// PeerSessions lists peer's connections with by (nil when peer is): those by's mark-down
// orphans. It asks peer's messenger, and touches no Checker.
func PeerSessions(by, peer *Node) []*msgr.Connection {
	if peer == nil {
		return nil
	}
	var sessions []*msgr.Connection
	nonce := by.M.MyAddr().Nonce
	for _, pc := range peer.M.Connections() {
		if pc.PeerAddr().Nonce == nonce {
			sessions = append(sessions, pc)
		}
	}
	return sessions
}

// ForgetMarkedDown accounts for by marking its connection c with peer down: what by sent on c
// may be lost, and so may what peer sent and sends on sessions (PeerSessions) until they see
// a session event. It asks no messenger.
func (k *Checker) ForgetMarkedDown(by, peer *Node, c *msgr.Connection, sessions []*msgr.Connection) {
	k.check.ForgiveConn(by.Name, c.ID())
	if peer == nil {
		return
	}
	for _, pc := range sessions {
		k.check.ForgiveConn(peer.Name, pc.ID())
		k.check.Orphan(peer.Name, pc.ID())
	}
}

// Violation implements Observer.
func (k *Checker) Violation(name, detail string) { k.check.Violate(name, k.now(), "%s", detail) }

// Trace takes a messenger's trace event (install it as the messengers' Config.Tracer, or call
// it from one).
func (k *Checker) Trace(ev msgr.TraceEvent) {
	switch ev.Kind {
	case msgr.TraceConnEvent:
		k.connEvent(ev)
	case msgr.TraceDeliver:
		if !k.connEventsOnly {
			k.check.Received(k.name(k.nodes[ev.Msgr]), ev.Msg.Header.Tid)
		}
	case msgr.TraceAcked:
		if !k.connEventsOnly {
			k.check.Acked(ev.Msg.Header.Tid, k.now())
		}
	case msgr.TraceDrop:
		if !k.connEventsOnly {
			k.check.Dropped(ev.Msg.Header.Tid)
		}
	case msgr.TraceDiscard:
		if !k.connEventsOnly {
			k.check.Discarded(ev.Msg.Header.Tid)
		}
	}
}

// connEvent: a reset forgives what was sent before it; any session event ends an orphan.
func (k *Checker) connEvent(ev msgr.TraceEvent) {
	n := k.nodes[ev.Msgr]
	if n == nil || ev.Conn == nil {
		return
	}
	k.check.Unorphan(n.Name, ev.Conn.ID())
	if ev.Event == proto.EventReset || ev.Event == proto.EventRemoteReset {
		if k.attributed != nil && !k.attributed(ev.Conn) {
			return
		}
		k.check.ForgiveConn(n.Name, ev.Conn.ID())
	}
}

// Checker returns the underlying check.Checker.
func (k *Checker) Checker() *check.Checker { return k.check }

// PendingLossless is check.Checker.PendingLossless.
func (k *Checker) PendingLossless() int { return k.check.PendingLossless() }

// MissingLossless is check.Checker.MissingLossless.
func (k *Checker) MissingLossless(n int) []check.Missing { return k.check.MissingLossless(n) }

// ForgiveStranded accounts for the messages of sessions nobody will ever resume (Stranded):
// ForgiveOrphans of what Stranded finds. Call it once the workload has quiesced; it returns how
// many connections it found.
func (k *Checker) ForgiveStranded(nodes []*Node) int {
	stranded := Stranded(nodes)
	k.ForgiveOrphans(stranded)
	return len(stranded)
}

// A NodeConn is one connection of a node.
type NodeConn struct {
	Node string
	Conn uint64
}

// Stranded lists the sessions nobody will ever resume: a connection of a server (a policy
// that never reconnects) in STANDBY with messages queued, whose peer (among nodes) has no live
// connection registered for it — the peer marked the session down, possibly before this side
// had even finished accepting it (the bytes it had already sent opened the session here after
// the mark-down, so MarkedDown could not see it). It asks the messengers, and touches no
// Checker.
func Stranded(nodes []*Node) []NodeConn {
	var stranded []NodeConn
	for _, n := range nodes {
		for _, c := range n.M.Connections() {
			if c.IsClosed() || c.State() != proto.StateStandby || c.Queued() == 0 || !n.M.Policy(c.PeerType()).Server {
				continue
			}
			if peer := nodeByNonce(nodes, c.PeerAddr().Nonce); peer != nil && !hasSession(peer.M, n.M.MyAddr()) {
				stranded = append(stranded, NodeConn{n.Name, c.ID()})
			}
		}
	}
	return stranded
}

// ForgiveOrphans forgives what was sent on each connection, and makes it an orphan (what it
// sends until its next session event may be lost too). It asks no messenger.
func (k *Checker) ForgiveOrphans(conns []NodeConn) {
	for _, x := range conns {
		k.check.ForgiveConn(x.Node, x.Conn)
		k.check.Orphan(x.Node, x.Conn)
	}
}

// nodeByNonce finds the node whose messenger has nonce (the workload draws distinct ones).
func nodeByNonce(nodes []*Node, nonce uint32) *Node {
	for _, n := range nodes {
		if n.M.MyAddr().Nonce == nonce {
			return n
		}
	}
	return nil
}

// hasSession reports whether m has a live connection registered for addr.
func hasSession(m *msgr.Messenger, addr wire.EntityAddr) bool {
	for _, r := range m.Registry() {
		if r.Addr == addr && !r.Conn.IsClosed() {
			return true
		}
	}
	return false
}

// digest is a content fingerprint of a message's sections.
func digest(m *msgr.Message) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(m.Front)
	_, _ = h.Write(m.Middle)
	_, _ = h.Write(m.Data)
	return h.Sum64() ^ uint64(m.Header.Type)<<48
}
