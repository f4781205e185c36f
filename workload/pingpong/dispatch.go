package pingpong

import (
	"fmt"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/harness"
	"github.com/msgrsim/msgrsim/sim/world"
)

// A node is its messenger's Dispatcher: it checks every dispatched message, answers
// clients, and accounts resets to the checker.

func (n *node) CanFastDispatchAny() bool                       { return n.fast }
func (n *node) CanFastDispatch(*msgr.Message) bool             { return n.fast }
func (n *node) FastPreprocess(*msgr.Connection, *msgr.Message) {}
func (n *node) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	n.Dispatch(c, m)
}

func (n *node) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	h := n.p.h
	h.Check.Dispatched(n.incName(), m.Header.Tid, intact(m), int64(h.W.Now()))
	if h.W.Trace.Keeping() {
		h.W.Trace.AddMark(world.Mark{At: h.W.Now(), Kind: "dispatch", Node: n.incName(), Peer: m.Header.Src.String(),
			ID: m.Header.Tid, Conn: c.ID(), Text: fmt.Sprintf("seq %d", m.Header.Seq)})
	}
	if n.osd && m.Header.Src.Type == wire.EntityClient && m.Header.Type == wire.MsgPing && n.alive {
		n.sendOn(c, n.p.nameOf(m.Header.Src), false)
	}
	if n.m != nil {
		// Hand the message back for reuse, as a production dispatcher would: a later receive
		// overwrites it, so a messenger that still used a released message would corrupt
		// what it delivers next, and the checker's content check would catch it.
		n.m.Release(m)
	}
	return true
}

func (n *node) HandleConnect(c *msgr.Connection)     { n.p.h.Opened(c) }
func (n *node) HandleFastConnect(*msgr.Connection)   {}
func (n *node) HandleAccept(c *msgr.Connection)      { n.p.h.Opened(c) }
func (n *node) HandleFastAccept(*msgr.Connection)    {}
func (n *node) HandleReset(c *msgr.Connection) bool  { n.reset(c); return true }
func (n *node) HandleRemoteReset(c *msgr.Connection) { n.reset(c) }
func (n *node) HandleRefused(*msgr.Connection) bool  { return false }

// reset accounts the loss of what this node sent to the peer before now.
func (n *node) reset(c *msgr.Connection) {
	h := n.p.h
	if h.Phase == harness.PhaseShutdown {
		return
	}
	h.Stats.SessionResets++
	if !h.ResetExcused(c) {
		return // a spurious reset (reported) accounts for no loss
	}
	if peer := n.p.byAddr[c.PeerAddr()]; peer != nil {
		h.Check.Forgive(n.name, peer.name)
	}
}

// TraceID implements harness.Traced: the node's index and incarnation.
func (n *node) TraceID() (uint64, uint64) { return uint64(n.idx), uint64(n.inc) }

// Receiver implements harness.Traced: the current incarnation's name.
func (n *node) Receiver() string { return n.incName() }
