package proto

import (
	"slices"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Inspect and Pending report exactly what the connection holds: the fuzz harnesses
// (fuzz/protofuzz) bound a connection's memory and check its queues through them, and their
// own tests change only what Inspect returned, so Inspect must not hide anything. The
// connection is built without a Host: neither method calls it.
func TestInspectReportsWhatTheConnHolds(t *testing.T) {
	c := newConn(Config{PrefetchSize: 1000}, nil)
	if got := c.Inspect(); got != (Inspection{PrefetchSize: 1000}) {
		t.Fatalf("a fresh connection: %+v", got)
	}
	msg := func(tid uint64, prio uint16) *wire.Message {
		m := wire.NewMessage(wire.MsgPing, nil)
		m.Header.Tid, m.Header.Priority = tid, prio
		return m
	}
	c.globalSeq, c.onceReady, c.keepalive = 7, true, true
	c.sent.push(msg(1, 127))
	c.queue.requeue([]*wire.Message{msg(2, 127)})
	c.queue.push(msg(4, 127))
	c.queue.push(msg(3, 200))
	c.in.buf = make([]byte, 1000)
	c.authorizer = make([]byte, 33)
	c.expectInto(make([]byte, 1<<20), (*Conn).handleSection)
	c.rx.msg = msg(9, 1)
	c.rx.msg.Header.FrontLen = 77
	want := Inspection{GlobalSeq: 7, OnceReady: true, Queued: 3, Sent: 1, KeepalivePending: true,
		ReadWant: 1 << 20, PrefetchHeld: true, PrefetchLen: 1000, PrefetchSize: 1000, AuthorizerLen: 33,
		Receiving: true, ReceivingHeader: c.rx.msg.Header}
	if got := c.Inspect(); got != want {
		t.Errorf("Inspect:\n got %+v\nwant %+v", got, want)
	}
	c.expect(wire.HeaderLen, (*Conn).handleSection)
	if got := c.Inspect().ReadWant; got != wire.HeaderLen {
		t.Errorf("ReadWant while gathering a header: %d", got)
	}
	var tids []uint64
	for _, m := range c.Pending() {
		tids = append(tids, m.Header.Tid)
	}
	if want := []uint64{1, 2, 3, 4}; !slices.Equal(tids, want) {
		t.Errorf("Pending: tids %v, want %v (sent, requeued, then by priority)", tids, want)
	}
	if len(c.Pending()) != c.Queued() {
		t.Errorf("Pending has %d messages, Queued says %d", len(c.Pending()), c.Queued())
	}
}

// IsOpen is true exactly for OPENED and the states of reading a message.
func TestIsOpen(t *testing.T) {
	for _, s := range AllStates() {
		want := s >= StateOpened && s <= StateReadFooterAndDispatch
		if s.IsOpen() != want {
			t.Errorf("%v.IsOpen() = %v", s, s.IsOpen())
		}
	}
}
