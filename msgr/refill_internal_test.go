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

// A side whose lends take one message at a time from a short center's list, seedAfter times
// without a trade, gets seedBatch more messages in the messenger's list once (seedFree), so
// that its lends take from there and the messages it releases pile up for a trade; a trade
// starts the count again.
func TestRefillSeedsAfterOneTakes(t *testing.T) {
	m := &Messenger{bufCaches: make([]bufCache, 1)}
	r := &m.bufCaches[0].rx
	oneTake := func() {
		msg := &Message{}
		clearFree(msg)
		r.putBare(msg, &m.rxFree) // the message a dispatcher just released
		if got := m.NewMessage(wire.MsgPing, nil); got != msg {
			t.Fatal("NewMessage did not take the released message alone")
		}
	}
	for range seedAfter - 1 {
		oneTake()
	}
	if n := len(m.rxFree.msgs); n != 0 {
		t.Fatalf("seeded after %d one-message takes: %d in the messenger's list", seedAfter-1, n)
	}
	oneTake()
	if n := len(m.rxFree.msgs); n != seedBatch || m.rxFree.empty.Load() {
		t.Fatalf("after %d one-message takes: %d in the messenger's list (empty flag %v); want %d, false",
			seedAfter, n, m.rxFree.empty.Load(), seedBatch)
	}
	for i := range seedBatch {
		if got := m.NewMessage(wire.MsgPing, nil); got == nil || *markOf(got)&markState != markLent {
			t.Fatalf("lend %d from the seeded list returned %v", i, got)
		}
		msg := &Message{}
		clearFree(msg)
		r.putBare(msg, &m.rxFree) // released meanwhile: they pile up in the center's list
	}
	m.NewMessage(wire.MsgPing, nil) // the messenger's list is empty: a trade
	if r.oneTakes != 0 || len(m.rxFree.msgs) != seedBatch-1 {
		t.Fatalf("after the trade: %d one-message takes counted, %d in the messenger's list; want 0, %d",
			r.oneTakes, len(m.rxFree.msgs), seedBatch-1)
	}
}
