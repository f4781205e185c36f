//go:build linux

package msgr_test

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// newInlineNode is a messenger over epoll with Config.SendInline as given and a recorder.
func newInlineNode(t *testing.T, num int64, inline bool, fast bool) *realNode {
	t.Helper()
	rt := &event.GoRuntime{}
	m, err := msgr.New(msgr.Config{
		Name: wire.NewName(wire.EntityOSD, num), Stack: epoll.New(epoll.Options{}), Runtime: rt,
		Rand: detrand.NewSeeded(uint64(num) + 11), ClusterProtocol: 10, SendInline: inline,
	})
	if err != nil {
		t.Fatal(err)
	}
	m.SetPolicy(wire.EntityOSD, proto.LosslessPeer(0))
	if err := m.Bind(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(fast)
	m.AddDispatcherTail(rec)
	return &realNode{m: m, rec: rec, rt: rt}
}

// TestInlineSendsInOrder: with SendInline, messages sent one at a time on an idle connection
// (each waits for the previous one to arrive) are written from the caller's goroutine, and
// bursts sent back to back, some large, arrive complete and in order, interleaved with the
// inline ones.
func TestInlineSendsInOrder(t *testing.T) {
	for _, fast := range []bool{true, false} {
		a, b := newInlineNode(t, 1, true, false), newInlineNode(t, 2, true, fast)
		c, err := a.m.ConnectTo(wire.EntityOSD, b.m.MyAddr())
		if err != nil {
			t.Fatal(err)
		}
		tid := uint64(0)
		send := func(size int) {
			tid++
			m := wire.NewMessage(wire.MsgPing, []byte("x"))
			m.Header.Tid = tid
			m.Data = make([]byte, size)
			if err := c.SendMessage(m); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "the session", c.IsConnected)
		for round := 0; round < 40; round++ {
			send(0) // on an idle connection: the previous round arrived and was acknowledged
			want := int(tid)
			waitFor(t, "the idle send", func() bool { return b.rec.count() == want })
			waitFor(t, "its ACK", func() bool { return c.Queued() == 0 })
			for i := 0; i < round%7; i++ {
				send((i % 3) * 40 << 10) // a burst: 0, 40 KiB, 80 KiB
			}
		}
		want := int(tid)
		waitFor(t, "every message", func() bool { return b.rec.count() == want })
		checkInOrder(t, 0, b.rec.tids("osd.1"), want)
		// An idle send goes inline unless the center happens to hold the connection just then
		// (a timer, or the end of the step that published the ACK): most of them do.
		if n := a.m.Metrics().MessagesInline; n < 20 {
			t.Errorf("fast=%v: %d messages sent inline, want at least 20 of the 40 idle sends", fast, n)
		}
		if n := b.m.Metrics().MessagesInline; n != 0 {
			t.Errorf("fast=%v: the receiver sent %d messages inline, want 0 (it sends nothing)", fast, n)
		}
		a.stop()
		b.stop()
	}
}

// TestInlineConcurrentSenders: several goroutines send on one connection at once, with
// SendInline, while the peer's replies keep its center busy; every message arrives once and
// each sender's messages arrive in the order it sent them.
func TestInlineConcurrentSenders(t *testing.T) {
	const senders, each = 4, 400
	a, b := newInlineNode(t, 1, true, true), newInlineNode(t, 2, true, true)
	defer a.stop()
	defer b.stop()
	c, err := a.m.ConnectTo(wire.EntityOSD, b.m.MyAddr())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the session", c.IsConnected)
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= each; i++ {
				m := wire.NewMessage(wire.MsgPing, []byte("y"))
				m.Header.Tid = uint64(s)<<32 | uint64(i)
				if i%50 == 0 {
					m.Data = make([]byte, 64<<10)
				}
				if i%50 == 0 {
					// Let the session drain now and then (every sender pauses here until
					// everything sent is acknowledged): the next sends find it idle and the
					// first of them goes inline while the others race it.
					for deadline := time.Now().Add(20 * time.Second); c.Queued() != 0; time.Sleep(time.Millisecond) {
						if time.Now().After(deadline) {
							t.Error("the session never drained")
							return
						}
					}
				}
				if err := c.SendMessage(m); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, "every message", func() bool { return b.rec.count() == senders*each })
	next := make([]uint64, senders)
	for _, tid := range b.rec.tids("osd.1") {
		s, i := tid>>32, tid&0xffffffff
		if s >= senders || i != next[s]+1 {
			t.Fatalf("sender %d: message %d after %d", s, i, next[min(s, senders-1)])
		}
		next[s] = i
	}
	if n := a.m.Metrics().MessagesInline; n == 0 {
		t.Errorf("no message of %d was sent inline", senders*each)
	} else {
		t.Logf("%d of %d messages sent inline", n, senders*each)
	}
}
