package explore

import (
	"fmt"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/sim/check"
)

// Variant.PeerRestart: the connector's machine loses power right after the acceptor answered
// the connector's second message, and comes back restartAfter later as a new incarnation at
// the same address (same IP, same nonce), which sends a message at once. The acceptor is told
// nothing (simnet's Unplug: no reset, no FIN), so its session with the old incarnation is still
// open, holding the answers the old incarnation never acknowledged, when the new incarnation's
// connect (connect_seq 0) arrives: msgr1's rule for a peer that restarted (Ceph's
// handle_connect_message_2, "accept peer reset": replace the session, after session_reset
// when the acceptor's policy has resetcheck). No other workload reaches that rule with
// unacknowledged messages: the sweeps' crashes reset every connection of the crashed host at
// once, so the survivor faults (and requeues what it sent) before the new incarnation
// connects.

// restartAfter is how long Variant.PeerRestart's connector stays down.
const restartAfter = 250 * time.Microsecond

// InvRestartCarryover: when the acceptor's policy toward the connector has resetcheck or is
// lossy, no message the acceptor sent before the session reset that its peer's restart causes
// is dispatched by the peer's new incarnation. Ceph's session_reset discards the whole out
// queue, sent (unacknowledged) messages included, before the replace; the new incarnation's
// session starts empty. (Without resetcheck, lossless_peer, Ceph replaces without a reset and
// requeues the old session's unacknowledged messages to the new incarnation: allowed.)
const InvRestartCarryover = "restart-carryover"

// InvRestartCarryoverDoc states InvRestartCarryover in one line.
const InvRestartCarryoverDoc = "with resetcheck or a lossy policy, nothing sent to a peer's old incarnation before the session reset its restart causes reaches its new incarnation"

// restartWatch is what Variant.PeerRestart knows: whether the connector lost power and when,
// the acceptor's connections then (its sessions with the old incarnation) and the first
// session reset on each after that, and on which connection and when the acceptor sent each
// message.
type restartWatch struct {
	dispatched int // connector messages the acceptor dispatched
	off        bool
	offAt      time.Duration
	old        map[uint64]time.Duration // the acceptor's connections at offAt: their first reset since (0: none yet)
	sent       map[uint64]sentOn        // by message id
}

// sentOn is where and when the acceptor sent a message.
type sentOn struct {
	conn uint64
	at   time.Duration
}

// acceptorSent records that the acceptor sent message id on its connection conn at now.
func (w *restartWatch) acceptorSent(id, conn uint64, now time.Duration) {
	if w.sent == nil {
		w.sent = map[uint64]sentOn{}
	}
	w.sent[id] = sentOn{conn, now}
}

// powerOff records that the connector lost power at now, while the acceptor had conns.
func (w *restartWatch) powerOff(now time.Duration, conns []uint64) {
	w.offAt = now
	w.old = map[uint64]time.Duration{}
	for _, c := range conns {
		w.old[c] = 0
	}
}

// acceptorReset records a session reset the acceptor heard of on its connection conn at now.
func (w *restartWatch) acceptorReset(conn uint64, now time.Duration) {
	if at, ok := w.old[conn]; ok && at == 0 {
		w.old[conn] = now
	}
}

// carriedOver reports whether message id, which incarnation inc of the connector dispatches,
// is one the acceptor sent on a session with the old incarnation before that session's reset
// (InvRestartCarryover), and if so where and when.
func (w *restartWatch) carriedOver(inc int, id uint64) (sentOn, time.Duration, bool) {
	s, ok := w.sent[id]
	if inc < 2 || !ok {
		return s, 0, false
	}
	reset, old := w.old[s.conn]
	return s, reset, old && (reset == 0 || s.at < reset)
}

// resetsOld reports whether pol's acceptor resets (or drops) what its session with a
// restarted peer held: a lossy session is replaced after a reset, a lossless one with
// resetcheck is reset before it is replaced.
func (pol Policy) resetsOld() bool {
	a := pol.acc(0)
	return a.Lossy || a.Resetcheck
}

// restartDispatched runs on the acceptor's dispatch of one of the connector's messages, after
// its answer was sent: the second cuts the connector's power.
func (sc *scenario) restartDispatched() {
	w := &sc.restart
	w.dispatched++
	if w.dispatched == 2 && !w.off {
		w.off = true
		sc.h.W.Schedule(sc.h.W.Now(), sc.nodes[Connector].powerOff)
	}
}

// checkCarryover checks a message the connector dispatches (InvRestartCarryover).
func (n *node) checkCarryover(m *msgr.Message) {
	sc := n.sc
	if !sc.v.PeerRestart || !sc.pol.resetsOld() {
		return
	}
	if s, reset, bad := sc.restart.carriedOver(n.incN, m.Header.Tid); bad {
		r := "not reset since"
		if reset > 0 {
			r = fmt.Sprintf("reset at %v", reset)
		}
		sc.h.Check.Violate(InvRestartCarryover, int64(sc.h.W.Now()), "%s dispatches id %d, which %s sent at %v on conn %d, its session with the incarnation that lost power at %v (%s): policy %s discards it",
			n.inc, m.Header.Tid, n.peer().inc, s.at, s.conn, sc.restart.offAt, r, sc.pol.Name)
	}
}

// powerOff cuts the node's power: its messenger stops where it is, its host leaves the
// network without a word to its peers, and a new incarnation comes restartAfter later.
func (n *node) powerOff() {
	sc := n.sc
	h := sc.h
	h.Note(n.inc, "power off (the peer is told nothing)")
	var conns []uint64
	for _, c := range n.peer().m.AppendConnections(nil) {
		conns = append(conns, c.ID())
	}
	sc.restart.powerOff(h.W.Now(), conns)
	n.down = true
	h.Audit.Remove(n.m)
	for _, c := range n.m.Centers() {
		h.W.Stop(c)
	}
	h.W.Net.Unplug(n.ip)
	h.Check.ForgiveNode(n.name)
	h.Check.Abandoned(n.name)   // its power went: its messenger reports nothing more
	sc.x.backoff.forget(n.side) // the old incarnation's connections reconnect no more
	h.W.Schedule(h.W.Now()+restartAfter, n.restart)
}

// restarted reports whether the connector is up: Variant.PeerRestart's run goes on until it
// came back.
func (sc *scenario) restarted() bool { return !sc.nodes[Connector].down }

// restart brings the node back as its next incarnation, at the same address, and sends a
// message at once.
func (n *node) restart() {
	sc := n.sc
	n.nonce = n.m.MyAddr().Nonce
	n.incN++
	n.inc = fmt.Sprintf("%s#%d", n.name, n.incN)
	sc.x.names[n.side] = n.inc
	if err := n.start(); err != nil {
		sc.h.Check.Violate(check.InvNoProgress, int64(sc.h.W.Now()), "restart %s: %v", n.inc, err)
		return
	}
	n.down = false
	n.send()
}
