package msgr

import (
	"testing"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// A connection that delivered messages keeps the lent messages its peer acknowledged (up to
// keepAcked) in its stash across locked sections, cleared, for its next receive; a connection
// that only sends gives them to its center's list (NewMessage lends them again), and so does
// a batch larger than keepAcked. The idle sweep and cleanup give the stash back.
func TestAckedKeptForReceives(t *testing.T) {
	m := &Messenger{bufCaches: make([]bufCache, 1)}
	c := &Connection{m: m, bufs: &m.bufCaches[0], rxMark: homeMark(0)}
	list := &m.bufCaches[0].rx.msgs
	acked := func(n int) []*Message {
		var ms []*Message
		for range n {
			msg := m.NewMessage(wire.MsgPing, nil)
			msg.Data = []byte("the application's")
			msg.Header.Tid = 7
			taken(msg, false)
			if !releasing(msg) {
				t.Fatal("a sent lent message was not released")
			}
			ms = append(ms, msg)
		}
		return ms
	}
	section := func(keep bool, ms []*Message) { // a locked section that recycles ms
		c.mu.mu.Lock()
		c.rxKeep = keep
		c.recycled = append(c.recycled, ms...)
		c.unlock()
	}

	section(false, acked(1))
	if len(c.rxStash) != 0 || len(*list) != 1 {
		t.Fatalf("a sender's acknowledged message: %d in the stash, %d in the list; want 0, 1", len(c.rxStash), len(*list))
	}
	*list = (*list)[:0]

	one := acked(1)[0]
	section(true, []*Message{one})
	if len(c.rxStash) != 1 || c.rxStash[0] != one || len(*list) != 0 {
		t.Fatalf("a receiver's acknowledged message: %d in the stash, %d in the list; want it alone in the stash", len(c.rxStash), len(*list))
	}
	if one.Data != nil || one.Header.Tid != 0 || *markOf(one)&markState != markFree {
		t.Fatal("the kept message was not cleared and marked free")
	}
	if c.rxKeep {
		t.Fatal("rxKeep outlived the recycling it allowed")
	}
	c.mu.mu.Lock()
	got := c.rxGet()
	c.unlock()
	if got != one || *markOf(got) != c.rxMark || len(c.rxStash) != 0 || len(*list) != 0 {
		t.Fatalf("the next receive did not take the kept message from the stash (same %v, mark %d)", got == one, *markOf(got))
	}

	section(true, acked(keepAcked+1))
	if len(c.rxStash) != 0 || len(*list) != keepAcked+1 {
		t.Fatalf("a batch of %d: %d in the stash, %d in the list; want 0, %d", keepAcked+1, len(c.rxStash), len(*list), keepAcked+1)
	}
	*list = (*list)[:0]

	section(true, acked(1))
	c.mu.mu.Lock() // the sweep's releaseIdle, without a core
	c.returnStash()
	c.mu.mu.Unlock()
	if len(c.rxStash) != 0 || len(*list) != 1 {
		t.Fatalf("returnStash: %d in the stash, %d in the list; want 0, 1", len(c.rxStash), len(*list))
	}
}
