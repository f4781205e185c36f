package msgr

import (
	"testing"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// A Lender takes lenderBatch messages from the messenger's list under one lock, lends them
// one at a time marked lent, takes the next batch when its stock is out, and gives back what
// it holds on Close.
func TestLenderTakesBatchesAndGivesBack(t *testing.T) {
	m := &Messenger{}
	const free = lenderBatch + 8
	for range free {
		msg := &Message{}
		clearFree(msg)
		m.rxFree.msgs = append(m.rxFree.msgs, msg)
	}
	l := m.NewLender()
	first := l.NewMessage(wire.MsgPing, []byte("x"))
	if got := *markOf(first) & markState; got != markLent {
		t.Fatalf("lent message marked %d, want markLent", got)
	}
	if first.Header.Type != wire.MsgPing || first.Header.Version != 1 || string(first.Front) != "x" {
		t.Fatalf("lent message %+v", first.Header)
	}
	if n, k := len(m.rxFree.msgs), len(l.stock); n != free-lenderBatch || k != lenderBatch-1 {
		t.Fatalf("after one message: %d in the messenger's list, %d in the lender's stock; want %d and %d",
			n, k, free-lenderBatch, lenderBatch-1)
	}
	for range lenderBatch { // the rest of the stock, and the first of the next batch
		l.NewMessage(wire.MsgPing, nil)
	}
	if n, k := len(m.rxFree.msgs), len(l.stock); n != 0 || k != 7 {
		t.Fatalf("after a batch and one: %d in the messenger's list, %d in the stock; want 0 and 7", n, k)
	}
	l.Close()
	if n, k := len(m.rxFree.msgs), len(l.stock); n != 7 || k != 0 {
		t.Fatalf("after Close: %d in the messenger's list, %d in the stock; want 7 and 0", n, k)
	}
	// Lent and not sent, a lender's message is released as NewMessage's is, without its sections.
	m.Release(first)
	if got := *markOf(first) & markState; got != markFree || first.Front != nil {
		t.Fatalf("released: mark %d, front %q; want markFree and none", got, first.Front)
	}
	// An empty messenger: the lender makes new messages.
	if msg := (&Messenger{}).NewLender().NewMessage(wire.MsgPing, nil); msg == nil || *markOf(msg)&markState != markLent {
		t.Fatalf("a lender of an empty list returned %v", msg)
	}
}

// BenchmarkLend is one lent message taken and given back (Release, unsent), by
// Messenger.NewMessage (a lock each way) and by a Lender (a lock per 32 to take): the lock
// a Lender saves, in time, on one goroutine and without contention.
func BenchmarkLend(b *testing.B) {
	for _, lender := range []bool{false, true} {
		name := "NewMessage"
		if lender {
			name = "Lender"
		}
		b.Run(name, func(b *testing.B) {
			m := &Messenger{}
			newMessage := m.NewMessage
			if lender {
				newMessage = m.NewLender().NewMessage
			}
			warm := make([]*Message, 1024) // a free list of 1024, as a sender's in steady state
			for i := range warm {
				warm[i] = m.NewMessage(wire.MsgPing, nil)
			}
			for _, msg := range warm {
				m.Release(msg)
			}
			m.Release(newMessage(wire.MsgPing, nil))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				m.Release(newMessage(wire.MsgPing, nil))
			}
		})
	}
}
