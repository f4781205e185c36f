package sim

import (
	"hash/fnv"
	"sync"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/workload/synthetic"
)

// WorkloadChecker feeds a Checker from a synthetic workload — it is the workload's Observer —
// and from its messengers' traces (Trace), in the simulator and over real TCP alike. It is
// safe for concurrent use: over epoll the callbacks come from every messenger's workers.
//
// How it accounts for losses (see Checker), per connection: a reset or remote-reset event on
// a connection forgives what its node sent on that connection before the event; a connection
// the workload marks down forgives what was sent on it, and on every connection the peer
// still has with the node, which also become orphans (their later messages may be lost) until
// they see a connect, accept, reset or remote-reset event.
type WorkloadChecker struct {
	mu      sync.Mutex
	check   *check.Checker
	now     func() int64
	nodes   map[*msgr.Messenger]*synthetic.Node
	byNonce map[uint32]*synthetic.Node
	digest  map[uint64]uint64 // message id -> content digest, until dispatched
	// partial: the caller feeds deliveries, acknowledgements and drops to the Checker itself
	// (the simulator's nodes do); Trace then handles connection events only.
	partial bool
}

// NewWorkloadChecker returns a checker adapter reporting to check, stamping with now().
func NewWorkloadChecker(check *check.Checker, now func() int64) *WorkloadChecker {
	return &WorkloadChecker{check: check, now: now, nodes: make(map[*msgr.Messenger]*synthetic.Node),
		byNonce: make(map[uint32]*synthetic.Node), digest: make(map[uint64]uint64)}
}

// AddNode tells the checker that m is node n's messenger (before m starts).
func (k *WorkloadChecker) AddNode(n *synthetic.Node, m *msgr.Messenger) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.nodes[m] = n
	k.byNonce[m.MyAddr().Nonce] = n
}

func (k *WorkloadChecker) name(n *synthetic.Node) string {
	if n == nil {
		return "?"
	}
	return n.Name
}

// Sent implements synthetic.Observer.
func (k *WorkloadChecker) Sent(from, peer *synthetic.Node, c *msgr.Connection, m *msgr.Message, lossless bool) {
	d := digest(m)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.digest[m.Header.Tid] = d
	k.check.SentOn(from.Name, k.name(peer), c.ID(), m.Header.Priority, m.Header.Tid, lossless)
}

// NotSent implements synthetic.Observer.
func (k *WorkloadChecker) NotSent(_ *synthetic.Node, m *msgr.Message) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.check.Dropped(m.Header.Tid)
}

// Dispatched implements synthetic.Observer.
func (k *WorkloadChecker) Dispatched(to *synthetic.Node, _ *msgr.Connection, m *msgr.Message) {
	d := digest(m)
	k.mu.Lock()
	defer k.mu.Unlock()
	want, ok := k.digest[m.Header.Tid]
	delete(k.digest, m.Header.Tid)
	k.check.Dispatched(k.name(to), m.Header.Tid, !ok || want == d, k.now())
}

// MarkedDown implements synthetic.Observer.
func (k *WorkloadChecker) MarkedDown(by, peer *synthetic.Node, c *msgr.Connection) {
	var orphans []*msgr.Connection
	if peer != nil {
		nonce := by.M.MyAddr().Nonce
		for _, pc := range peer.M.Connections() {
			if pc.PeerAddr().Nonce == nonce {
				orphans = append(orphans, pc)
			}
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.check.ForgiveConn(by.Name, c.ID())
	if peer == nil {
		return
	}
	for _, pc := range orphans {
		k.check.ForgiveConn(peer.Name, pc.ID())
		k.check.Orphan(peer.Name, pc.ID())
	}
}

// Violation implements synthetic.Observer.
func (k *WorkloadChecker) Violation(name, detail string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.check.Violate(name, k.now(), "%s", detail)
}

// Trace takes a messenger's trace event (install it as the messengers' Config.Tracer, or call
// it from one).
func (k *WorkloadChecker) Trace(ev msgr.TraceEvent) {
	switch ev.Kind {
	case msgr.TraceConnEvent, msgr.TraceDeliver, msgr.TraceAcked, msgr.TraceDrop:
	default:
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch ev.Kind {
	case msgr.TraceConnEvent:
		k.connEvent(ev)
	case msgr.TraceDeliver:
		if !k.partial {
			k.check.Received(k.name(k.nodes[ev.Msgr]), ev.Msg.Header.Tid)
		}
	case msgr.TraceAcked:
		if !k.partial {
			k.check.Acked(ev.Msg.Header.Tid, k.now())
		}
	case msgr.TraceDrop:
		if !k.partial {
			k.check.Dropped(ev.Msg.Header.Tid)
		}
	}
}

// connEvent: a reset forgives what was sent before it; any session event ends an orphan.
func (k *WorkloadChecker) connEvent(ev msgr.TraceEvent) {
	n := k.nodes[ev.Msgr]
	if n == nil || ev.Conn == nil {
		return
	}
	k.check.Unorphan(n.Name, ev.Conn.ID())
	if ev.Event == proto.EventReset || ev.Event == proto.EventRemoteReset {
		k.check.ForgiveConn(n.Name, ev.Conn.ID())
	}
}

// Checker returns the underlying checker; over real TCP, use it only once the messengers
// are shut down (it is not safe for concurrent use).
func (k *WorkloadChecker) Checker() *check.Checker { return k.check }

// PendingLossless is Checker.PendingLossless, safe while the messengers run.
func (k *WorkloadChecker) PendingLossless() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.check.PendingLossless()
}

// ForgiveStranded accounts for the messages of sessions nobody will ever resume: a
// connection of a server (a policy that never reconnects) in STANDBY with messages queued,
// whose peer has no live connection registered for it — the peer marked the session down,
// possibly before this side had even finished accepting it (the bytes it had already sent
// opened the session here after the mark-down, so MarkedDown could not see it). Call it once
// the workload has quiesced; it returns how many connections it found.
func (k *WorkloadChecker) ForgiveStranded(nodes []*synthetic.Node) int {
	var stranded []strandedConn
	for _, n := range nodes {
		for _, c := range n.M.Connections() {
			if c.IsClosed() || c.State() != proto.StateStandby || c.Queued() == 0 || !n.M.Policy(c.PeerType()).Server {
				continue
			}
			if peer := k.nodeByNonce(c.PeerAddr().Nonce); peer != nil && !hasSession(peer.M, n.M.MyAddr()) {
				stranded = append(stranded, strandedConn{n.Name, c.ID()})
			}
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, x := range stranded {
		k.check.ForgiveConn(x.node, x.conn)
		k.check.Orphan(x.node, x.conn)
	}
	return len(stranded)
}

// strandedConn is a node's connection ForgiveStranded found.
type strandedConn struct {
	node string
	conn uint64
}

func (k *WorkloadChecker) nodeByNonce(nonce uint32) *synthetic.Node {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.byNonce[nonce]
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

// MissingLossless is Checker.MissingLossless, safe while the messengers run.
func (k *WorkloadChecker) MissingLossless(n int) []check.Missing {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.check.MissingLossless(n)
}

// digest is a content fingerprint of a message's sections.
func digest(m *msgr.Message) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(m.Front)
	_, _ = h.Write(m.Middle)
	_, _ = h.Write(m.Data)
	return h.Sum64() ^ uint64(m.Header.Type)<<48
}
