package harness

import (
	"fmt"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
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
	return func(ev msgr.TraceEvent) { r.Trace(who, ev) }
}

// Trace is the one path every messenger trace event of a run takes: it is folded into the
// world's trace hash (TagMsgrEvent: the messenger, its incarnation, the event's kind,
// connection, states and message seq), counted (coverage, the histories' sessions, the run's
// statistics), told to the checker (a message read, acknowledged or dropped), and written to
// the readable trace. TraceAcked is not folded into the hash: it follows from the ACK frames
// already traced; nor is TraceReach: a probe only counts (coverage) what the traced events
// already show.
func (r *Run) Trace(who Traced, ev msgr.TraceEvent) {
	w := r.W
	switch ev.Kind {
	case msgr.TraceAcked:
		r.Check.Acked(ev.Msg.Header.Tid, int64(w.Now()))
		return
	case msgr.TraceReach:
		r.reached(who, ev)
		return
	}
	var conn, seq uint64
	if ev.Conn != nil {
		conn = ev.Conn.ID()
	}
	if ev.Msg != nil {
		seq = ev.Msg.Header.Seq
	}
	id, inc := who.TraceID()
	w.Trace.Add(world.TagMsgrEvent, id, inc, uint64(ev.Kind), conn, uint64(ev.From), uint64(ev.To), seq)
	r.Cov.Observe(ev)
	r.Histories.Traced(ev)
	switch ev.Kind {
	case msgr.TraceDrop:
		r.Check.Dropped(ev.Msg.Header.Tid)
	case msgr.TraceDeliver:
		r.Check.Received(who.Receiver(), ev.Msg.Header.Tid)
	case msgr.TraceFault:
		r.Stats.ConnFaults++
	case msgr.TraceHeld:
		r.held++
	}
	if w.Trace.Keeping() {
		logTraceEvent(w, who.Receiver(), ev, conn)
	}
}

// logTraceEvent renders a messenger trace event into the readable trace.
func logTraceEvent(w *world.World, who string, ev msgr.TraceEvent, conn uint64) {
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

// reached counts a probe (coverage) and writes it to the readable trace.
func (r *Run) reached(who Traced, ev msgr.TraceEvent) {
	r.Cov.Observe(ev)
	if !r.W.Trace.Keeping() {
		return
	}
	var conn uint64
	if ev.Conn != nil {
		conn = ev.Conn.ID()
	}
	r.W.Trace.Logf(r.W.Now(), "%s conn %d: reach %v", who.Receiver(), conn, ev.Probe)
}
