package prototest

import (
	"fmt"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// StateLine describes the connection: state, side, socket, dial, timer and pending replace.
func (n *Node) StateLine() string {
	if n.C == nil {
		return n.Name + ": not started"
	}
	s := fmt.Sprintf("%s: %v", n.Name, n.C.State())
	if n.Crashed {
		s += " crashed"
	}
	if n.C.IsConnector() {
		s += " connector"
	} else {
		s += " acceptor"
	}
	if n.Sock != nil {
		s += fmt.Sprintf(" socket=%d", n.Sock.ID)
	}
	if n.Dialing {
		s += " dialing"
	}
	if at, ok := n.C.NextDeadline(); ok {
		s += fmt.Sprintf(" timer=+%v", at-n.w.Now)
	}
	if n.Handover != nil {
		s += " replace→" + n.Handover.Existing.Name
	}
	return s
}

// SeqsLine describes the session's numbers: sequence numbers, queues, keepalive and
// deliveries.
func (n *Node) SeqsLine() string {
	c := n.C
	if c == nil {
		return n.Name + ": not started"
	}
	out, in, cs, pgs := c.Seqs()
	ins := c.Inspect()
	s := fmt.Sprintf("%s: out_seq=%d in_seq=%d cs=%d pgs=%d gseq=%d queued=%d sent=%d", n.Name, out, in, cs, pgs,
		ins.GlobalSeq, ins.Queued, ins.Sent)
	if c.Policy().Lossy {
		s += " lossy"
	}
	if ka := c.LastKeepaliveAck(); ka != (wire.Timespec{}) {
		s += fmt.Sprintf(" keepalive_ack=%d.%09d", ka.Sec, ka.Nsec)
	}
	return s + fmt.Sprintf(" delivered=%d", len(n.Delivered))
}
