package explore

import (
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/harness"
)

// Two checks explore adds to the simulator's, each closing a gap the mutation score found:
// the order across priorities (InvPrioOrder, with Variant.Priorities) and the acceptor's ready
// timeout (InvReadyTimeout, always on; Variant.ReadyTimeout makes the acceptor's timeout the
// one that ends a held-up handshake).

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

// tracer is the node's messenger tracer: the harness's, the acceptor's watched for
// InvReadyTimeout too (observing only: the run's schedule is the same).
func (n *node) tracer() func(msgr.TraceEvent) {
	h := n.sc.h
	t := h.Tracer(n)
	if n.side != Acceptor {
		return t
	}
	return func(ev msgr.TraceEvent) {
		n.sc.ready.observe(h, &ev)
		t(ev)
	}
}
