package harness

import (
	"errors"
	"fmt"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/sim/world"
)

// Traced is how one messenger of a workload appears in the trace: TraceID says which
// messenger and incarnation its events fold into the hash as, Receiver names that incarnation
// to the checker and in the readable trace (e.g. "osd.1#2").
type Traced interface {
	TraceID() (messenger, incarnation uint64)
	Receiver() string
}

// Tracer is the msgr.Config.Tracer of a messenger of who: it sends every event down the one
// path, Trace.
func (r *Run) Tracer(who Traced) func(msgr.TraceEvent) {
	return func(ev msgr.TraceEvent) { r.trace(who, &ev) }
}

// Trace is the one path every messenger trace event of a run takes: it is folded into the
// world's trace hash (TagMsgrEvent: the messenger, its incarnation, the event's kind,
// connection, states and message seq), counted (coverage, the histories' sessions, the run's
// statistics), told to the checker (a message read, acknowledged or dropped), and written to
// the readable trace. TraceAcked is not folded into the hash: it follows from the ACK frames
// already traced; nor is TraceDiscard, which follows from the resets, faults, mark-downs and
// shutdowns traced (and from a lossy session's writes); nor is TraceReach: a probe only counts (coverage) what the traced events
// already show; nor is TraceMarkDown, which only tells the reset attribution (Sessions) who
// marked a session down.
func (r *Run) Trace(who Traced, ev msgr.TraceEvent) { r.trace(who, &ev) }

// trace is Trace with the event by pointer: about nine events per simulated message, each
// copied into every call it was passed to by value.
func (r *Run) trace(who Traced, ev *msgr.TraceEvent) {
	w := r.W
	id, inc := who.TraceID()
	switch ev.Kind {
	case msgr.TraceAcked:
		r.Check.Acked(ev.Msg.Header.Tid, int64(w.Now()))
		r.Check.ReadOn(ev.Conn, int64(w.Now()))
		return
	case msgr.TraceDiscard:
		r.Check.Discarded(ev.Msg.Header.Tid)
		return
	case msgr.TraceReach:
		r.reached(who, ev)
		return
	case msgr.TraceMarkDown:
		r.Sessions.MarkedDown(check.EventConn{Msgr: id, Inc: inc, Conn: ev.Conn.ID()}, ev.Msgr.MyAddr().Nonce, ev.Conn.PeerAddr().Nonce)
		return
	}
	if id >= uint64(len(r.incDense)) || !r.incDense[id].seen || r.incDense[id].last.inc != inc {
		r.incarnation(id, inc, ev.Msgr) // else the incarnation's first event was traced already
	}
	var conn, seq uint64
	if ev.Conn != nil {
		conn = ev.Conn.ID()
	}
	if ev.Msg != nil {
		seq = ev.Msg.Header.Seq
	}
	w.Trace.Add7(world.TagMsgrEvent, id, inc, uint64(ev.Kind), conn, uint64(ev.From), uint64(ev.To), seq)
	switch ev.Kind {
	case msgr.TraceState:
		if r.Cfg.Coverage != nil { // else Cov is noCoverage
			r.Cov.ObserveState(ev.From, ev.To)
		}
		if step := connStep(ev.To); step != 0 { // handshake steps only: accept-dial
			r.Sessions.Step(check.EventConn{Msgr: id, Inc: inc, Conn: conn}, step)
		}
	case msgr.TraceFault, msgr.TraceDecision: // the other kinds Observe is given
		if r.Cfg.Coverage != nil { // else Cov is noCoverage: not worth copying the event for
			r.Cov.Observe(*ev)
		}
	case msgr.TraceSend, msgr.TraceDrop: // the kinds Histories.Traced looks at
		r.Histories.Traced(*ev)
	}
	switch ev.Kind {
	case msgr.TraceDrop:
		r.Check.Dropped(ev.Msg.Header.Tid)
	case msgr.TraceDeliver:
		r.Check.Received(who.Receiver(), ev.Msg.Header.Tid)
		r.Check.ReadOn(ev.Conn, int64(w.Now()))
	case msgr.TraceFault:
		r.Stats.ConnFaults++
		if errors.Is(ev.Err, proto.ErrIdleTimeout) {
			r.Check.IdleFault(ev.Conn, idleTimeout(ev.Msgr), int64(w.Now()))
		}
	case msgr.TraceHeld:
		r.held++
	case msgr.TraceConnEvent:
		r.connEvent(check.EventConn{Msgr: id, Inc: inc, Conn: conn}, ev)
	}
	if w.Trace.Keeping() {
		logTraceEvent(w, who.Receiver(), ev, conn)
	}
}

// connStep is the handshake step of the accept-dial rule (check.Sessions.Step) that entering
// state to is, or 0.
func connStep(to proto.State) check.ConnStep {
	switch to {
	case proto.StateStartAccept:
		return check.StepAccept
	case proto.StateAcceptingHandledConnectMsg:
		return check.StepOpened
	case proto.StateStartConnect:
		return check.StepConnect
	}
	return 0
}

// logTraceEvent renders a messenger trace event into the readable trace.
func logTraceEvent(w *world.World, who string, ev *msgr.TraceEvent, conn uint64) {
	switch ev.Kind {
	case msgr.TraceState:
		switch {
		case ev.To == proto.StateStartConnect && ev.From == proto.StateNone:
			w.Trace.Logf(w.Now(), "%s conn %d: %v -> %v (peer %v)", who, conn, ev.From, ev.To, ev.Conn.PeerAddr())
		case ev.To < proto.StateThrottleMessage || ev.To > proto.StateReadFooterAndDispatch:
			w.Trace.Logf(w.Now(), "%s conn %d: %v -> %v", who, conn, ev.From, ev.To)
		}
	case msgr.TraceFault:
		w.Trace.Logf(w.Now(), "%s conn %d: fault in %v: %v", who, conn, ev.From, ev.Err)
		w.Trace.AddMark(world.Mark{At: w.Now(), Kind: "fault", Node: who, Conn: conn, Text: fmt.Sprintf("fault in %v: %v", ev.From, ev.Err)})
	case msgr.TraceDecision:
		w.Trace.Logf(w.Now(), "%s conn %d: accept decision %s (peer %v)", who, conn, ev.Rule, ev.Conn.PeerAddr())
		w.Trace.AddMark(world.Mark{At: w.Now(), Kind: "decision", Node: who, Conn: conn, Text: ev.Rule})
	case msgr.TraceDispatch:
		w.Trace.Logf(w.Now(), "%s conn %d: dispatch %v tid %d fast=%v", who, conn, ev.Msg, ev.Msg.Header.Tid, ev.Fast)
	case msgr.TraceConnEvent:
		w.Trace.Logf(w.Now(), "%s conn %d: event %v", who, conn, ev.Event)
		w.Trace.AddMark(world.Mark{At: w.Now(), Kind: "event", Node: who, Conn: conn, Text: ev.Event.String()})
	case msgr.TraceDrop:
		w.Trace.Logf(w.Now(), "%s conn %d: dropped %v", who, conn, ev.Msg)
	}
}

// incarnation tells the session monitor when a messenger incarnation traces its first event
// (a restart: its sessions, and its peers' sessions with it, may reset).
func (r *Run) incarnation(id, inc uint64, m *msgr.Messenger) {
	if id < maxDenseIncs {
		// Workloads number their messengers from 0: a slice, not a map lookup per event.
		if id >= uint64(len(r.incDense)) {
			r.incDense = append(r.incDense, make([]incSlot, id+1-uint64(len(r.incDense)))...)
		}
		sl := &r.incDense[id]
		if sl.seen && sl.last.inc == inc {
			return
		}
		last, seen := sl.last, sl.seen
		addr := m.MyAddr()
		sl.last, sl.seen = incarnation{inc: inc, addr: addr, m: m}, true
		r.Sessions.Started(addr, last.addr, seen)
		return
	}
	last, seen := r.incs[id]
	if seen && last.inc == inc {
		return
	}
	addr := m.MyAddr()
	r.incs[id] = incarnation{inc: inc, addr: addr, m: m}
	r.Sessions.Started(addr, last.addr, seen)
}

// maxDenseIncs bounds the messenger trace ids whose last incarnation is kept in a slice.
const maxDenseIncs = 1024

// incSlot is a messenger's last incarnation traced, if seen.
type incSlot struct {
	last incarnation
	seen bool
}

// connEvent tells the session monitor of a connection event: sessions opening, and resets to
// attribute (ResetExcused says later whether a reset's loss is accounted for).
func (r *Run) connEvent(ec check.EventConn, ev *msgr.TraceEvent) {
	my, peer := ev.Msgr.MyAddr().Nonce, ev.Conn.PeerAddr().Nonce
	switch ev.Event {
	case proto.EventConnect, proto.EventAccept:
		r.Sessions.Opened(ec, my, peer)
	case proto.EventReset, proto.EventRemoteReset:
		if r.Phase == PhaseShutdown || r.Phase == PhaseDone {
			return
		}
		lossy := ev.Msgr.Policy(ev.Conn.PeerType()).Lossy
		_, ok := r.Sessions.Reset(ec, my, peer, ev.Event == proto.EventRemoteReset, lossy)
		r.excuse[ev.Conn] = append(r.excuse[ev.Conn], ok)
	}
}

// ResetExcused reports whether the reset event being dispatched on c (the oldest not yet
// asked about) was attributed to a cause: only then may a workload forgive what was sent on
// the session. A reset the monitor did not see (during shutdown) is excused.
func (r *Run) ResetExcused(c *msgr.Connection) bool {
	q := r.excuse[c]
	if len(q) == 0 {
		return true
	}
	ok := q[0]
	if len(q) == 1 {
		delete(r.excuse, c)
	} else {
		r.excuse[c] = q[1:]
	}
	return ok
}

// reached counts a probe (coverage) and writes it to the readable trace.
func (r *Run) reached(who Traced, ev *msgr.TraceEvent) {
	r.Cov.Observe(*ev)
	if !r.W.Trace.Keeping() {
		return
	}
	var conn uint64
	if ev.Conn != nil {
		conn = ev.Conn.ID()
	}
	r.W.Trace.Logf(r.W.Now(), "%s conn %d: reach %v", who.Receiver(), conn, ev.Probe)
}

// idleTimeout is the IdleTimeout m's connections run with (the core's default for 0).
func idleTimeout(m *msgr.Messenger) time.Duration {
	if d := m.Config().IdleTimeout; d > 0 {
		return d
	}
	return proto.DefaultIdleTimeout
}
