package sim

import (
	"fmt"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/world"
)

// A simNode is its messenger's Dispatcher: it checks every dispatched message, answers
// clients, and accounts resets to the checker.

func (n *simNode) CanFastDispatchAny() bool                       { return n.fast }
func (n *simNode) CanFastDispatch(*msgr.Message) bool             { return n.fast }
func (n *simNode) FastPreprocess(*msgr.Connection, *msgr.Message) {}
func (n *simNode) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	n.Dispatch(c, m)
}

func (n *simNode) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	s := n.s
	s.check.Dispatched(n.incName(), m.Header.Tid, intact(m), int64(s.w.Now()))
	if s.w.Trace.Keeping() {
		s.w.Trace.AddMark(world.Mark{At: s.w.Now(), Kind: "dispatch", Node: n.incName(), Peer: m.Header.Src.String(),
			ID: m.Header.Tid, Conn: c.ID(), Text: fmt.Sprintf("seq %d", m.Header.Seq)})
	}
	if n.osd && m.Header.Src.Type == wire.EntityClient && m.Header.Type == wire.MsgPing && n.alive {
		n.sendOn(c, m.Header.Src.String(), false)
	}
	if n.m != nil {
		// Hand the message back for reuse, as a production dispatcher would: a later receive
		// overwrites it, so a messenger that still used a released message would corrupt
		// what it delivers next, and the checker's content check would catch it.
		n.m.Release(m)
	}
	return true
}

func (n *simNode) HandleConnect(c *msgr.Connection)     { n.opened(c) }
func (n *simNode) HandleFastConnect(*msgr.Connection)   {}
func (n *simNode) HandleAccept(c *msgr.Connection)      { n.opened(c) }
func (n *simNode) HandleFastAccept(*msgr.Connection)    {}
func (n *simNode) HandleReset(c *msgr.Connection) bool  { n.reset(c); return true }
func (n *simNode) HandleRemoteReset(c *msgr.Connection) { n.reset(c) }
func (n *simNode) HandleRefused(*msgr.Connection) bool  { return false }

func (n *simNode) opened(c *msgr.Connection) {
	if n.s.opened[c] {
		n.s.stats.Reconnects++
	}
	n.s.opened[c] = true
}

// reset accounts the loss of what this node sent to the peer before now.
func (n *simNode) reset(c *msgr.Connection) {
	if n.s.phase == PhaseShutdown {
		return
	}
	n.s.stats.SessionResets++
	if peer := n.s.byAddr[c.PeerAddr()]; peer != nil {
		n.s.check.Forgive(n.name, peer.name)
	}
}

// trace folds a messenger's trace events into the world's trace hash and log, and tells the
// checker about dropped messages.
func (n *simNode) trace(ev msgr.TraceEvent) {
	w := n.s.w
	if !n.record(ev) {
		n.s.check.Acked(ev.Msg.Header.Tid, int64(w.Now()))
		return
	}
	switch ev.Kind {
	case msgr.TraceDrop:
		n.s.check.Dropped(ev.Msg.Header.Tid)
	case msgr.TraceDeliver:
		n.s.check.Received(n.incName(), ev.Msg.Header.Tid)
	}
}

// record folds a trace event into the world's trace hash, the run's statistics and the
// readable log. TraceAcked is left out (false): it follows from the ACK frames already traced.
func (n *simNode) record(ev msgr.TraceEvent) bool {
	w := n.s.w
	if ev.Kind == msgr.TraceAcked {
		return false
	}
	var conn, seq uint64
	if ev.Conn != nil {
		conn = ev.Conn.ID()
	}
	if ev.Msg != nil {
		seq = ev.Msg.Header.Seq
	}
	w.Trace.Add(world.TagMsgrEvent, uint64(n.idx), uint64(n.inc), uint64(ev.Kind), conn, uint64(ev.From), uint64(ev.To), seq)
	n.s.observe(ev)
	switch ev.Kind {
	case msgr.TraceFault:
		n.s.stats.ConnFaults++
	case msgr.TraceHeld:
		n.s.held++
	}
	if w.Trace.Keeping() {
		n.log(ev, conn)
	}
	return true
}

func (n *simNode) log(ev msgr.TraceEvent, conn uint64) { logTraceEvent(n.s.w, n.incName(), ev, conn) }

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
