package proto_test

import (
	"testing"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// TestTakeWritten: the Conn counts the messages it encodes for writing (what Observer's
// MessageWritten upcall used to report one by one), TakeWritten returns the count since its
// last call, and neither queuing nor receiving nor acknowledging counts.
func TestTakeWritten(t *testing.T) {
	p := newPipe(t, 64<<10, true, true)
	p.a.TakeWritten()
	p.b.TakeWritten()
	const n = 3
	for range n {
		p.a.Send(wire.NewMessage(wire.MsgOSDOp, []byte("front")))
	}
	if got := p.a.TakeWritten(); got != 0 {
		t.Fatalf("TakeWritten after queuing = %d, want 0 (nothing encoded yet)", got)
	}
	pump(p.a, p.b)
	pump(p.b, p.a)
	if got := p.a.TakeWritten(); got != n {
		t.Fatalf("sender's TakeWritten = %d, want %d", got, n)
	}
	if got := p.a.TakeWritten(); got != 0 {
		t.Fatalf("second TakeWritten = %d, want 0", got)
	}
	if got := p.b.TakeWritten(); got != 0 {
		t.Fatalf("receiver's TakeWritten = %d, want 0 (an ACK is not a message)", got)
	}
	if p.hb.Count != n {
		t.Fatalf("delivered %d, want %d", p.hb.Count, n)
	}
}
