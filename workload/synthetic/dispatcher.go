package synthetic

import (
	"bytes"
	"fmt"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// dispatcher is Ceph's SyntheticDispatcher, shared by every messenger of the workload: it
// fast-dispatches MPing and MCommand, answers each PING with a PONG of the same payload, and
// checks each PONG against the pending PINGs of its connection.
type dispatcher struct{ w *Workload }

func (d *dispatcher) CanFastDispatchAny() bool { return true }

func (d *dispatcher) CanFastDispatch(m *msgr.Message) bool {
	return m.Header.Type == wire.MsgPing || m.Header.Type == wire.MsgCommand
}

func (d *dispatcher) FastPreprocess(*msgr.Connection, *msgr.Message) {}

func (d *dispatcher) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	w := d.w
	node := w.nodeFor(c)
	w.obs.Dispatched(node, c, m)
	if m.Header.Type == wire.MsgCommand {
		return // MCommand only disturbs the ordering
	}
	pl, err := DecodePayload(m.Data)
	if err != nil {
		w.obs.Violation(InvPayload, fmt.Sprintf("%s conn %d: message %v: %v", node.Name, c.ID(), m, err))
		return
	}
	if pl.Who == Ping {
		d.reply(node, c, pl)
		return
	}
	d.checkPong(node, c, pl)
}

// reply answers a PING with a PONG carrying the same payload, on the same connection.
func (d *dispatcher) reply(node *Node, c *msgr.Connection, pl Payload) {
	w := d.w
	pl.Who = Pong
	m := wire.NewMessage(wire.MsgPing, nil)
	m.Data = pl.Encode()
	w.mu.Lock()
	w.stats.Pongs++
	w.mu.Unlock()
	w.send(node, w.PeerOf(c), c, m)
}

// checkPong matches a PONG with the oldest pending PING of its connection (Ceph's
// ASSERT_EQ(conn_sent[con].front(), seq) and contents_equal), if its PING is still pending.
func (d *dispatcher) checkPong(node *Node, c *msgr.Connection, pl Payload) {
	w := d.w
	w.mu.Lock()
	defer w.mu.Unlock()
	want, ok := w.sent[pl.Seq]
	if !ok {
		return // forgotten (drop, reset, connect, accept) or never tracked (lossy)
	}
	w.stats.PongsChecked++
	q := w.connSent[c]
	if len(q) == 0 || q[0] != pl.Seq {
		front := "none"
		if len(q) > 0 {
			front = fmt.Sprint(q[0])
		}
		w.obs.Violation(InvFIFO, fmt.Sprintf("%s conn %d: PONG %d arrived while the oldest pending PING is %s",
			node.Name, c.ID(), pl.Seq, front))
	}
	if !bytes.Equal(pl.Data, want) {
		w.obs.Violation(InvPayload, fmt.Sprintf("%s conn %d: PONG %d carries %d bytes that differ from the PING's %d",
			node.Name, c.ID(), pl.Seq, len(pl.Data), len(want)))
	}
	for i, s := range q {
		if s == pl.Seq {
			w.connSent[c] = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	delete(w.sent, pl.Seq)
}

// Dispatch is never reached: everything the workload sends is fast-dispatched.
func (d *dispatcher) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	node := d.w.nodeFor(c)
	d.w.obs.Dispatched(node, c, m)
	d.w.obs.Violation(InvDispatch, fmt.Sprintf("%s conn %d: %v took the normal dispatch path", node.Name, c.ID(), m))
	return true
}

// nodeFor is the node c belongs to (a placeholder for a connection of no node of ours).
func (w *Workload) nodeFor(c *msgr.Connection) *Node {
	if n := w.NodeOf(c.Messenger()); n != nil {
		return n
	}
	return &Node{Index: -1, Name: "?"}
}

// forget drops c's pending PINGs on a connection event (Ceph forgets them on connect,
// accept and remote reset; on reset it also drops the connection).
func (d *dispatcher) forget(c *msgr.Connection, count *int, drop bool) {
	w := d.w
	w.mu.Lock()
	defer w.mu.Unlock()
	*count++
	w.clearPendingLocked(c)
	if drop {
		w.removeLocked(c)
	}
}

func (d *dispatcher) HandleFastConnect(c *msgr.Connection) { d.forget(c, &d.w.stats.Connects, false) }
func (d *dispatcher) HandleFastAccept(c *msgr.Connection)  { d.forget(c, &d.w.stats.Accepts, false) }
func (d *dispatcher) HandleRemoteReset(c *msgr.Connection) {
	d.forget(c, &d.w.stats.RemoteResets, false)
}
func (d *dispatcher) HandleConnect(*msgr.Connection)      {}
func (d *dispatcher) HandleAccept(*msgr.Connection)       {}
func (d *dispatcher) HandleRefused(*msgr.Connection) bool { return false }

// HandleReset is workload->handle_reset: the connection leaves the available ones.
func (d *dispatcher) HandleReset(c *msgr.Connection) bool {
	d.forget(c, &d.w.stats.Resets, true)
	return true
}
