package proto_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// TestSendBatchMatchesSends: SendBatch queues a batch as Send would message by message. Two
// identical sessions get the same rounds of messages (one priority, mixed priorities, empty
// and long batches; the sent and queued lists partly drained between rounds), one through
// Send, the other through SendBatch, and must write the same bytes and deliver the same
// messages; on a closed connection SendBatch queues nothing and says so.
func TestSendBatchMatchesSends(t *testing.T) {
	rounds := [][]uint16{ // the priorities of each round's messages
		{127, 127, 127},
		{127, 200, 127, 64},
		{},
		{64, 64},
		{127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127},
		{200},
		{127, 127, 200, 200, 64, 127},
	}
	byOne, batched := newPipe(t, 64<<10, true, true), newPipe(t, 64<<10, true, true)
	id := 0
	batch := func(prios []uint16) []*wire.Message {
		var ms []*wire.Message
		for _, p := range prios {
			id++
			m := wire.NewMessage(wire.MsgOSDOp, []byte(fmt.Sprintf("message %d", id)))
			m.Header.Priority = p
			ms = append(ms, m)
		}
		return ms
	}
	for i, prios := range rounds {
		for _, m := range batch(prios) {
			if !byOne.a.Send(m) {
				t.Fatalf("round %d: Send refused a message", i)
			}
		}
		id -= len(prios) // the same messages again, for the other session
		if n := batched.a.SendBatch(batch(prios)); n != len(prios) {
			t.Fatalf("round %d: SendBatch queued %d of %d", i, n, len(prios))
		}
		a, b := outputOf(byOne.a), outputOf(batched.a)
		if !bytes.Equal(a, b) {
			t.Fatalf("round %d: SendBatch wrote %d bytes unlike Send's %d", i, len(b), len(a))
		}
		feed(byOne.b, a)
		feed(batched.b, b)
		if i%2 == 0 { // acknowledged every other round: the sent lists drain in steps
			pump(byOne.b, byOne.a)
			pump(batched.b, batched.a)
		}
	}
	if byOne.hb.Count != id || batched.hb.Count != id {
		t.Fatalf("delivered %d by Send, %d by SendBatch, of %d", byOne.hb.Count, batched.hb.Count, id)
	}
	// A batch queued behind a partly written one (Output stops at 4 MiB per batch): the
	// queue's slice is compacted before the append.
	big := func(n int) []*wire.Message {
		ms := batch(make([]uint16, n))
		for _, m := range ms {
			m.Header.Priority = 200 // the first queue's (pushAll's one-append case)
			m.Data = make([]byte, 1<<20)
		}
		return ms
	}
	for _, m := range big(8) {
		byOne.a.Send(m)
	}
	id -= 8
	batched.a.SendBatch(big(8))
	a, b := oneOutput(byOne.a), oneOutput(batched.a)
	for _, m := range big(4) {
		byOne.a.Send(m)
	}
	id -= 4
	batched.a.SendBatch(big(4))
	a, b = append(a, outputOf(byOne.a)...), append(b, outputOf(batched.a)...)
	if !bytes.Equal(a, b) || len(a) < 12<<20 {
		t.Fatalf("behind a partly written batch: SendBatch wrote %d bytes unlike Send's %d", len(b), len(a))
	}
	batched.a.Stop()
	if n := batched.a.SendBatch(batch([]uint16{127, 127})); n != 0 {
		t.Fatalf("SendBatch on a closed connection queued %d", n)
	}
	if s := batched.a.State(); s != proto.StateClosed {
		t.Fatalf("state %v after Stop", s)
	}
}

// outputOf takes all of c's output.
func outputOf(c *proto.Conn) []byte {
	var out []byte
	for iov := c.Output(); len(iov) > 0; iov = c.Output() {
		n := 0
		for _, s := range iov {
			out = append(out, s...)
			n += len(s)
		}
		c.Wrote(n)
	}
	return out
}

// oneOutput takes one Output batch of c and reports it written.
func oneOutput(c *proto.Conn) []byte {
	var out []byte
	for _, s := range c.Output() {
		out = append(out, s...)
	}
	c.Wrote(len(out))
	return out
}

// feed gives stream to c, as much per read as its buffer takes.
func feed(c *proto.Conn, stream []byte) {
	for len(stream) > 0 {
		buf := c.ReadBuf()
		k := copy(buf, stream)
		c.Received(k)
		stream = stream[k:]
	}
}

// TestOutputBatchBound: one Output batch stops at the first message that takes it to 4 MiB
// (maxBatchBytes), so a long queue does not monopolise a writer; the rest follows in the
// next batches, in order, and all of it is delivered.
func TestOutputBatchBound(t *testing.T) {
	p := newPipe(t, 64<<10, true, true)
	const n, size = 10, 1 << 20
	for i := range n {
		m := wire.NewMessage(wire.MsgOSDOp, nil)
		m.Header.Tid = uint64(i)
		m.Data = make([]byte, size)
		p.a.Send(m)
	}
	var batches []int
	var stream []byte
	for {
		b := oneOutput(p.a)
		if len(b) == 0 {
			break
		}
		batches = append(batches, len(b))
		stream = append(stream, b...)
	}
	// 4 messages reach 4 MiB: batches of 4, 4 and 2 messages.
	if len(batches) != 3 || batches[0] < 4*size || batches[0] > 5*size || batches[1] != batches[0] ||
		batches[2] < 2*size || batches[2] > 3*size {
		t.Fatalf("output batches of %v bytes, want 4, 4 and 2 messages of 1 MiB", batches)
	}
	feed(p.b, stream)
	if p.hb.Count != n {
		t.Fatalf("delivered %d of %d", p.hb.Count, n)
	}
}
