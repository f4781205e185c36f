package msgr

import (
	"testing"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// NewMessage, finding the messenger's list empty, takes a message alone from a center's list
// that holds at most refillOne (a request/response server's released request), trades lists
// with a longer one, and skips the messenger's list while it is known to be empty, until
// something is added to it.
func TestNewMessageRefill(t *testing.T) {
	m := &Messenger{bufCaches: make([]bufCache, 2)}
	free := func() *Message {
		msg := &Message{}
		clearFree(msg)
		return msg
	}
	one := free()
	m.bufCaches[1].rx.putBare(one, &m.rxFree)
	if got := m.NewMessage(wire.MsgPing, nil); got != one {
		t.Fatalf("NewMessage did not take the one message of the second center's list")
	}
	if n, k := len(m.bufCaches[1].rx.msgs), len(m.rxFree.msgs); n != 0 || k != 0 || !m.rxFree.empty.Load() {
		t.Fatalf("after taking one: %d in the center's list, %d in the messenger's (empty flag %v); want 0, 0, true",
			n, k, m.rxFree.empty.Load())
	}

	const long = refillOne + 3
	for range long {
		m.bufCaches[0].rx.putBare(free(), &m.rxFree)
	}
	if got := m.NewMessage(wire.MsgPing, nil); got == nil || *markOf(got)&markState != markLent {
		t.Fatalf("NewMessage returned %v", got)
	}
	if n, k := len(m.bufCaches[0].rx.msgs), len(m.rxFree.msgs); n != 0 || k != long-1 || m.rxFree.empty.Load() {
		t.Fatalf("after a trade: %d in the center's list, %d in the messenger's (empty flag %v); want 0, %d, false",
			n, k, m.rxFree.empty.Load(), long-1)
	}
	for range long - 1 {
		m.NewMessage(wire.MsgPing, nil)
	}
	fresh := m.NewMessage(wire.MsgPing, nil) // all lists empty: a new message
	if !m.rxFree.empty.Load() {
		t.Fatal("the messenger's list is empty, its flag is not set")
	}
	m.Release(fresh) // lent, not sent: back to the messenger's list, which clears the flag
	if m.rxFree.empty.Load() || len(m.rxFree.msgs) != 1 {
		t.Fatalf("after a Release: empty flag %v, %d in the messenger's list; want false, 1",
			m.rxFree.empty.Load(), len(m.rxFree.msgs))
	}
	if got := m.NewMessage(wire.MsgPing, nil); got != fresh {
		t.Fatal("NewMessage did not take the released message from the messenger's list")
	}
}
