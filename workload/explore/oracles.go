package explore

import (
	"slices"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/harness"
)

// The checks explore adds to the simulator's, each closing a gap the mutation score found:
// the order across priorities (InvPrioOrder, with Variant.Priorities) and the acceptor's ready
// timeout (InvReadyTimeout, always on; Variant.ReadyTimeout makes the acceptor's timeout the
// one that ends a held-up handshake), from seed 1's sample; from seed 2's, what a keepalive
// carries and that it is sent (InvKeepalive), when a connection reconnects (InvBackoff), that
// acknowledged messages are reported so (InvAcked), all three always on, and that a
// dispatched message holds its throttle unit (InvThrottleHeld, with Variant.Throttled).

// InvPrioOrder: of messages queued on one connection at the same time, the higher priority is
// written first (Ceph's out_q is a map by priority, and _get_next_outgoing takes from its
// highest; within a priority FIFO, which lossless-order and lossy-order check). The delivery
// checker checks order only within a priority because the receiver's dispatch queue orders by
// priority too: a sender that wrote the burst lowest first would still have it dispatched
// highest first when all three arrive at once. So the acceptor checks the order the burst was
// written in, by the message seqs the connector gave it.
const InvPrioOrder = "prio-order"

// InvPrioOrderDoc states InvPrioOrder in one line.
const InvPrioOrderDoc = "messages queued on a connection together are written highest priority first: a burst's message of higher priority never has a higher seq than one of lower priority"

// InvReadyTimeout: a connection accepting a socket that has not opened a session within
// ms_connection_ready_timeout faults (Ceph's AsyncConnection::tick: !is_connected() past
// connect_timeout_us), which closes the half-open accepted connection. The acceptor's
// connections must leave the accepting states (START_ACCEPT..ACCEPTING_WAIT_CONNECT_MSG_AUTH)
// within the ready timeout plus readySlack of entering them.
const InvReadyTimeout = "ready-timeout"

// InvReadyTimeoutDoc states InvReadyTimeout in one line.
const InvReadyTimeoutDoc = "an accepted connection leaves the accepting states (opens or faults) within ms_connection_ready_timeout of entering them"

// burstPrios are Variant.Priorities' burst, in the order it is sent: lowest first, so that a
// queue that kept send order, or inverted the priorities, writes it in the wrong order.
var burstPrios = [...]uint16{wire.PrioLow, wire.PrioDefault, wire.PrioHigh}

// prioBurst is the burst's messages: their ids as sent, and as the acceptor dispatched them.
type prioBurst struct {
	sent []uint64
	got  []burstMsg
}

// burstMsg is a dispatched message of the burst.
type burstMsg struct {
	id   uint64
	prio uint16
	seq  uint64
}

// dispatched checks m against the burst's messages dispatched before it (InvPrioOrder), if it
// is one of the burst. The burst is sent once, on one connection; a message of it that is
// dispatched at all was written in the session it was queued in (a session reset discards
// the queue), so the seqs of its messages compare.
func (b *prioBurst) dispatched(h *harness.Run, m *msgr.Message) {
	if !b.isBurst(m.Header.Tid) {
		return
	}
	got := burstMsg{id: m.Header.Tid, prio: m.Header.Priority, seq: m.Header.Seq}
	for _, o := range b.got {
		if wrongOrder(o, got) || wrongOrder(got, o) {
			h.Check.Violate(InvPrioOrder, int64(h.W.Now()), "id %d (priority %d) written as seq %d, id %d (priority %d) as seq %d: queued together, the higher priority goes first",
				o.id, o.prio, o.seq, got.id, got.prio, got.seq)
		}
	}
	b.got = append(b.got, got)
}

// wrongOrder reports whether hi has the higher priority of the two and yet the later seq.
func wrongOrder(hi, lo burstMsg) bool { return hi.prio > lo.prio && hi.seq > lo.seq }

func (b *prioBurst) isBurst(id uint64) bool {
	for _, s := range b.sent {
		if s == id && id != 0 {
			return true
		}
	}
	return false
}

// readySlack is how much later than its ready timeout InvReadyTimeout lets an accepted
// connection leave the accepting states: the timer fires at the deadline in simulation; the
// slack is far below the second by which Variant.ReadyTimeout's connector times out later.
const readySlack = 250 * time.Millisecond

// readyWatch is what InvReadyTimeout knows: the acceptor's connections in the accepting
// states, and since when (a slice: a handful of connections per run, and a deterministic
// order for the violations).
type readyWatch struct {
	open []acceptingConn
}

type acceptingConn struct {
	id    uint64
	since time.Duration
}

// accepting reports whether s is one of the acceptor's handshake states (START_ACCEPT ..
// ACCEPTING_WAIT_CONNECT_MSG_AUTH), in which the ready timeout is armed.
func accepting(s proto.State) bool {
	return s >= proto.StateStartAccept && s <= proto.StateAcceptingWaitConnectMsgAuth
}

// observe takes a trace event of the acceptor's messenger.
func (w *readyWatch) observe(h *harness.Run, ev *msgr.TraceEvent) {
	if ev.Kind != msgr.TraceState || ev.Conn == nil || accepting(ev.From) == accepting(ev.To) {
		return
	}
	w.step(h, ev.Conn.ID(), ev.To, h.W.Now())
}

// step takes connection id's entering or leaving the accepting states (for state to) at now.
func (w *readyWatch) step(h *harness.Run, id uint64, to proto.State, now time.Duration) {
	if accepting(to) {
		w.open = append(w.open, acceptingConn{id: id, since: now})
		return
	}
	for i, c := range w.open {
		if c.id == id {
			w.check(h, c, now, to.String())
			w.open = append(w.open[:i], w.open[i+1:]...)
			return
		}
	}
}

// check reports c if it stayed in the accepting states past its deadline (left them for to
// at now).
func (w *readyWatch) check(h *harness.Run, c acceptingConn, now time.Duration, to string) {
	if now-c.since <= readyTimeout+readySlack {
		return
	}
	h.Check.Violate(InvReadyTimeout, int64(now), "acceptor conn %d: accepting since %v, still at %v (then %s): its ready timeout is %v",
		c.id, c.since, now, to, readyTimeout)
}

// finish reports the connections still accepting past their deadline when the run ends.
func (w *readyWatch) finish(h *harness.Run) {
	for _, c := range w.open {
		w.check(h, c, h.W.Now(), "still accepting")
	}
}

// tracer is the node's messenger tracer: the harness's, watched for InvBackoff, and the
// acceptor's for InvReadyTimeout too (observing only: the run's schedule is the same).
func (n *node) tracer() func(msgr.TraceEvent) {
	h := n.sc.h
	t := h.Tracer(n)
	return func(ev msgr.TraceEvent) {
		if n.side == Acceptor {
			n.sc.ready.observe(h, &ev)
		}
		n.sc.x.backoff.observe(n.side, &ev, h.W.Now())
		t(ev)
	}
}

// InvKeepalive: what a keepalive carries and that it is sent. A KEEPALIVE2 carries its
// sender's wall clock when it is written (Ceph's append_keepalive_or_ack: ceph_clock_now()),
// and a KEEPALIVE2_ACK echoes the stamp of a KEEPALIVE2 its sender read (the peer's
// Connection.LastKeepaliveAck is what a MonClient judges a session's health by), so a time of
// the run: not later than the ACK, not before the run began. (Not checked against the stamps
// written: a keepalive written before the frame tracker can walk the stream, right after a
// connect, is not seen.) A keepalive asked for (Connection.SendKeepalive) on a connection
// that no fault point, session reset or mark-down interrupts is written: the connector
// writes a KEEPALIVE2 after the request.
const InvKeepalive = "keepalive"

// InvKeepaliveDoc states InvKeepalive in one line.
const InvKeepaliveDoc = "a KEEPALIVE2 carries its sender's wall clock when written, a KEEPALIVE2_ACK a time of the run, and a keepalive asked for on a connection nothing interrupts is written"

// stampSlack is how much older than its write a KEEPALIVE2's stamp may be: the stamp is taken
// when the frame is encoded, which can come before the socket takes the bytes.
const stampSlack = time.Second

// keepaliveWatch is what InvKeepalive knows: the connector's keepalive requests.
type keepaliveWatch struct {
	asks []keepaliveAsk
}

// keepaliveAsk is a SendKeepalive: when, and how many KEEPALIVE2 frames the connector had
// begun writing then.
type keepaliveAsk struct {
	at      time.Duration
	written int
}

// stamp checks the timespec of a KEEPALIVE2 or KEEPALIVE2_ACK that side wrote at wall time
// wall, run time now (the run began at wall time wall-now).
func (w *keepaliveWatch) stamp(h *harness.Run, side Side, frame wire.FrameKind, ts wire.Timespec, wall time.Time, now time.Duration) {
	t := ts.Time()
	switch frame {
	case wire.FrameKeepalive2:
		if t.After(wall) || t.Before(wall.Add(-stampSlack)) {
			h.Check.Violate(InvKeepalive, int64(now), "%v wrote a KEEPALIVE2 stamped %v at wall time %v: not its clock",
				side, t.UTC(), wall.UTC())
		}
	case wire.FrameKeepalive2Ack:
		if t.After(wall) || t.Before(wall.Add(-now)) {
			h.Check.Violate(InvKeepalive, int64(now), "%v wrote a KEEPALIVE2_ACK stamped %v at wall time %v: no KEEPALIVE2 of the run (from %v) has that stamp",
				side, t.UTC(), wall.UTC(), wall.Add(-now).UTC())
		}
	}
}

// ask records a keepalive request of the connector at now, with written KEEPALIVE2 frames
// begun so far.
func (w *keepaliveWatch) ask(now time.Duration, written int) {
	w.asks = append(w.asks, keepaliveAsk{at: now, written: written})
}

// finish checks that every request nothing excuses was followed by a KEEPALIVE2 (written: the
// connector's count at the end). excused reports whether something may have interrupted the
// connection after a request.
func (w *keepaliveWatch) finish(h *harness.Run, written int, excused func(at time.Duration) bool) {
	for _, a := range w.asks {
		if written <= a.written && !excused(a.at) {
			h.Check.Violate(InvKeepalive, int64(h.W.Now()), "keepalive asked for at %v on a connection nothing interrupted, never written (%d KEEPALIVE2 written before, none after)",
				a.at, a.written)
		}
	}
}

// InvBackoff: when a connection reconnects (Ceph's ProtocolV1::fault). A fault while
// connecting backs off ms_initial_backoff, then twice the previous backoff for each further
// such fault, up to ms_max_backoff; a fault on a WAIT reply backs off ms_max_backoff; an open
// session's fault reconnects at once, and it and the session's opening start the doubling
// over. Each of a side's connect attempts that follows such a fault comes when that fault's
// backoff ends.
const InvBackoff = "backoff"

// InvBackoffDoc states InvBackoff in one line.
const InvBackoffDoc = "a reconnect comes ms_initial_backoff after a fault while connecting (doubling per further fault, up to ms_max_backoff), ms_max_backoff after a WAIT, at once after an open session's fault"

// backoffSlack is how far from its backoff's end a reconnect may come: the reconnect timer
// fires at its deadline in simulation, and the connect follows in the same instant.
const backoffSlack = time.Millisecond

// backoffWatch is what InvBackoff knows of each side's connections (a slice: a handful per
// run, and a deterministic order).
type backoffWatch struct {
	conns []backoffConn
	// initial and max are the messengers' ms_initial_backoff and ms_max_backoff.
	initial, max time.Duration
}

// backoffConn is one connection as InvBackoff follows it.
type backoffConn struct {
	side    Side
	id      uint64
	backoff time.Duration // its backoff as msgr1 computes it
	faulted bool          // it faulted, in state from, and has not changed state since
	from    proto.State
	pending bool // a reconnect is due at due
	due     time.Duration
}

func (w *backoffWatch) conn(side Side, id uint64) *backoffConn {
	for i := range w.conns {
		if c := &w.conns[i]; c.side == side && c.id == id {
			return c
		}
	}
	w.conns = append(w.conns, backoffConn{side: side, id: id})
	return &w.conns[len(w.conns)-1]
}

// forget drops side's connections (its messenger is gone: Variant.PeerRestart); the next
// incarnation's connection ids start over.
func (w *backoffWatch) forget(side Side) {
	w.conns = slices.DeleteFunc(w.conns, func(c backoffConn) bool { return c.side == side })
}

// connectingState reports whether s is one of the connector's handshake states
// (START_CONNECT..CONNECTING_SEND_CONNECT_MSG).
func connectingState(s proto.State) bool {
	return s >= proto.StateStartConnect && s <= proto.StateConnectingSendConnectMsg
}

// observe takes a trace event of side's messenger.
func (w *backoffWatch) observe(side Side, ev *msgr.TraceEvent, now time.Duration) {
	if ev.Conn == nil {
		return
	}
	switch ev.Kind {
	case msgr.TraceFault:
		c := w.conn(side, ev.Conn.ID())
		c.faulted, c.from = true, ev.From
	case msgr.TraceState:
		w.state(side, ev.Conn.ID(), ev.From, ev.To, now)
	}
}

// state takes connection id's change of state from from to to at now.
func (w *backoffWatch) state(side Side, id uint64, from, to proto.State, now time.Duration) {
	c := w.conn(side, id)
	if c.pending && from == proto.StateStartConnect && to != proto.StateConnecting {
		c.pending = false // no reconnect after all (replaced, closed)
	}
	if to == proto.StateOpened {
		c.backoff = 0
	}
	if !c.faulted {
		return
	}
	c.faulted = false
	if to != proto.StateStartConnect {
		return // standby, closed: no reconnect
	}
	switch {
	case c.from == proto.StateWait:
		c.backoff = w.max
	case !connectingState(c.from):
		c.backoff = 0 // an open session's fault: at once
	case c.backoff == 0:
		c.backoff = w.initial
	default:
		c.backoff = min(2*c.backoff, w.max)
	}
	c.pending, c.due = true, now+c.backoff
}

// connect takes a connect attempt of side at now: it must be the reconnect of a connection
// whose backoff ends now, or, if none is due, a first connect.
func (w *backoffWatch) connect(h *harness.Run, side Side, now time.Duration) {
	var due []time.Duration
	for i := range w.conns {
		c := &w.conns[i]
		if c.side != side || !c.pending {
			continue
		}
		if now >= c.due-backoffSlack && now <= c.due+backoffSlack {
			c.pending = false
			return
		}
		due = append(due, c.due)
	}
	if len(due) > 0 {
		h.Check.Violate(InvBackoff, int64(now), "%v connects at %v; its reconnects are due at %v", side, now, due)
	}
}

// InvThrottleHeld: a message the receiver dispatches holds its unit of its policy's message
// throttle (Ceph takes policy.throttler_messages before it reads a message and puts it back
// only once the message is released), so that the throttle bounds the messages a receiver
// holds. With Variant.Throttled the acceptor's throttle toward the connector is one message.
const InvThrottleHeld = "throttle-held"

// InvThrottleHeldDoc states InvThrottleHeld in one line.
const InvThrottleHeldDoc = "a message being dispatched holds its unit of the receiver's policy message throttle"

// throttleHeld checks, as the node dispatches m, that its policy's message throttle toward
// the peer holds m's unit.
func (n *node) throttleHeld(m *msgr.Message) {
	name := n.peer().ename.Type.String() + "/messages"
	for _, t := range n.m.Throttles() {
		if t.Name == name {
			checkThrottleHeld(n.sc.h, n.inc, m.Header.Tid, name, t.Throttle, true)
			return
		}
	}
	checkThrottleHeld(n.sc.h, n.inc, m.Header.Tid, name, nil, false)
}

// gauge is what throttle-held reads of a throttle.
type gauge interface {
	Current() int64
	Max() int64
}

// checkThrottleHeld checks InvThrottleHeld for message id that receiver inc dispatches: its
// message throttle name (found: the messenger has one) holds at least its unit.
func checkThrottleHeld(h *harness.Run, inc string, id uint64, name string, t gauge, found bool) {
	if !found {
		h.Check.Violate(InvThrottleHeld, int64(h.W.Now()), "%s has no throttle %s", inc, name)
		return
	}
	if cur := t.Current(); cur < 1 {
		h.Check.Violate(InvThrottleHeld, int64(h.W.Now()), "%s dispatches id %d while its throttle %s holds %d units (max %d)",
			inc, id, name, cur, t.Max())
	}
}

// InvAcked: with both sessions lossless and never reset, every message a receiver read is,
// by the end of the run, reported acknowledged by its sender (the messenger's TraceAcked, from
// the protocol core's AckObserver: the sender forgot the message because an ACK or a SEQ
// exchange covered it). ack-unreceived and the checker's redelivery excuse read these
// reports; a sender that stopped making them would leave both checks with nothing to judge.
const InvAcked = "acked"

// InvAckedDoc states InvAcked in one line.
const InvAckedDoc = "with lossless sessions never reset, every message read by its receiver is reported acknowledged by its sender by the end of the run"

// checkAcked checks InvAcked at the end of a run of lossless sessions whose nodes heard of
// resets session resets.
func checkAcked(h *harness.Run, resets int) {
	if received, acked := h.Check.AckCounts(); acked != received && resets == 0 {
		h.Check.Violate(InvAcked, int64(h.W.Now()), "%d messages read by their receivers, %d reported acknowledged by their senders, with no session reset",
			received, acked)
	}
}
