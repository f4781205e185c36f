package msgr_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/netio/inject"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// lendPeer is a simulated messenger over a controllable injecting stack, recording what it
// dispatches (fast, released) and, through its Tracer, what its peers acknowledged.
type lendPeer struct {
	m     *msgr.Messenger
	inj   *inject.Stack
	rec   *recorder
	acked func(*msgr.Message) // called on TraceAcked, before the messenger recycles the message
}

func newLendPeer(t *testing.T, w *world.World, name wire.EntityName, ip string, bind bool) *lendPeer {
	t.Helper()
	p := &lendPeer{rec: newRecorder(true)}
	addr := netip.MustParseAddr(ip)
	p.inj = inject.New(w.AddHost(name.String(), addr), inject.Options{Controllable: true})
	m, err := msgr.New(msgr.Config{Name: name, Stack: p.inj, Runtime: w, Rand: w.Rand(), ClusterProtocol: 10,
		Tracer: func(ev msgr.TraceEvent) {
			if ev.Kind == msgr.TraceAcked && p.acked != nil {
				p.acked(ev.Msg)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	m.SetPolicy(wire.EntityOSD, proto.LosslessPeer(0))
	m.SetPolicy(wire.EntityClient, proto.StatelessServer(0))
	m.SetPolicy(wire.EntityMon, proto.LossyClient(0))
	if bind {
		if err := m.Bind(netip.AddrPortFrom(addr, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	m.AddDispatcherTail(p.rec)
	p.m = m
	return p
}

// TestLentMessagesRecycledOnlyAfterAck: messages from NewMessage go back to the messenger's
// free list when the peer acknowledges them, never while they wait to be resent. osd.0 sends
// lent messages to osd.1 (lossless) while the sockets are cut again and again, so
// unacknowledged messages are requeued and resent; every NewMessage must return a message
// that is not in flight, every acknowledged message must still carry its own tid when it is
// acknowledged (not reused for a later one), and osd.1 must get every tid once, in order.
// Messages must have been reused, and resent.
func TestLentMessagesRecycledOnlyAfterAck(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		w := world.New(seed, simnet.Config{Latency: 50 * time.Microsecond}, false)
		a := newLendPeer(t, w, wire.NewName(wire.EntityOSD, 0), "10.0.0.1", true)
		b := newLendPeer(t, w, wire.NewName(wire.EntityOSD, 1), "10.0.0.2", true)
		c, err := a.m.ConnectTo(wire.EntityOSD, b.m.MyAddr())
		if err != nil {
			t.Fatal(err)
		}
		inflight := map[*msgr.Message]uint64{} // lent, sent, not acknowledged: its tid
		seen := map[*msgr.Message]bool{}
		reused := 0
		a.acked = func(m *msgr.Message) {
			tid, ok := inflight[m]
			if !ok || m.Header.Tid != tid {
				t.Fatalf("seed %d: acknowledged message (tid %d) was not in flight with that tid (%d, %v)", seed, m.Header.Tid, tid, ok)
			}
			delete(inflight, m)
		}
		const n = 400
		front := []byte("lent")
		for i := 1; i <= n; i++ {
			w.Schedule(time.Duration(i)*10*time.Microsecond, func() {
				m := a.m.NewMessage(wire.MsgPing, front)
				if _, ok := inflight[m]; ok {
					t.Fatalf("seed %d: NewMessage returned message tid %d, still in flight", seed, m.Header.Tid)
				}
				if seen[m] {
					reused++
				}
				seen[m] = true
				m.Header.Tid = uint64(i)
				inflight[m] = uint64(i)
				if err := c.SendMessage(m); err != nil {
					t.Fatal(err)
				}
			})
		}
		for k := 1; k <= 8; k++ {
			w.Schedule(time.Duration(k)*500*time.Microsecond, func() { []*lendPeer{a, b}[k%2].inj.CutAll() })
		}
		done := func() bool { return b.rec.count() == n && len(inflight) == 0 }
		if err := w.RunUntil(done, time.Minute, 2_000_000); err != nil {
			t.Fatalf("seed %d: %v (%d received, %d in flight)", seed, err, b.rec.count(), len(inflight))
		}
		checkInOrder(t, seed, b.rec.tids("osd.0"), n)
		if reused == 0 {
			t.Fatalf("seed %d: no message was reused", seed)
		}
		if out := a.m.Metrics().MessagesOut; out <= n {
			t.Fatalf("seed %d: %d messages written for %d sent: nothing was resent", seed, out, n)
		}
	}
}

// takeLent takes k messages from m's free list (NewMessage) and returns them as a set.
func takeLent(m *msgr.Messenger, k int) map[*msgr.Message]bool {
	got := map[*msgr.Message]bool{}
	for range k {
		got[m.NewMessage(wire.MsgPing, nil)] = true
	}
	return got
}

// TestLentMessagesRecycledWhenDropped: lent messages a connection drops without an
// acknowledgement go back to the free list: queued on a session that MarkDown stops, written
// on a lossy session, and sent on a connection that closed before they reached it. A
// message the application made itself is never taken.
func TestLentMessagesRecycledWhenDropped(t *testing.T) {
	w := world.New(1, simnet.Config{Latency: 50 * time.Microsecond}, false)
	a := newLendPeer(t, w, wire.NewName(wire.EntityOSD, 0), "10.0.0.1", true)
	b := newLendPeer(t, w, wire.NewName(wire.EntityOSD, 1), "10.0.0.2", true)
	cl := newLendPeer(t, w, wire.NewName(wire.EntityClient, 4100), "10.0.0.3", false)

	t.Run("markdown", func(t *testing.T) {
		// Nothing listens at port 1: the session never opens and its messages stay queued.
		c, err := a.m.ConnectTo(wire.EntityOSD, wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.2:1"), 9))
		if err != nil {
			t.Fatal(err)
		}
		sent := map[*msgr.Message]bool{}
		for range 5 {
			m := a.m.NewMessage(wire.MsgPing, []byte("queued"))
			sent[m] = true
			if err := c.SendMessage(m); err != nil {
				t.Fatal(err)
			}
		}
		own := wire.NewMessage(wire.MsgPing, nil)
		if err := c.SendMessage(own); err != nil {
			t.Fatal(err)
		}
		until := w.Now() + 5*time.Millisecond
		if err := w.RunUntil(func() bool { return w.Now() >= until }, time.Minute, 1_000_000); err != nil {
			t.Fatal(err)
		}
		if got := takeLent(a.m, 5); mapsOverlap(got, sent) {
			t.Fatal("a queued message was recycled before the connection was marked down")
		}
		c.MarkDown()
		got := takeLent(a.m, 5)
		for m := range sent {
			if !got[m] {
				t.Fatalf("the 5 queued messages were not recycled by MarkDown (%d of them were)", overlap(got, sent))
			}
		}
		if got[own] || takeLent(a.m, 1)[own] {
			t.Fatal("the application's own message was recycled")
		}
	})

	t.Run("lossy", func(t *testing.T) {
		// An OSD serves clients statelessly: the client's session is lossy.
		c, err := cl.m.ConnectTo(wire.EntityOSD, b.m.MyAddr())
		if err != nil {
			t.Fatal(err)
		}
		m := cl.m.NewMessage(wire.MsgPing, []byte("lossy"))
		if err := c.SendMessage(m); err != nil {
			t.Fatal(err)
		}
		if err := w.RunUntil(func() bool { return b.rec.count() == 1 }, time.Minute, 1_000_000); err != nil {
			t.Fatal(err)
		}
		if !takeLent(cl.m, 1)[m] {
			t.Fatal("a lossy session's written message was not recycled")
		}
	})

	t.Run("closed", func(t *testing.T) {
		c, err := a.m.ConnectTo(wire.EntityOSD, b.m.MyAddr())
		if err != nil {
			t.Fatal(err)
		}
		c.MarkDown()
		m := a.m.NewMessage(wire.MsgPing, nil)
		if err := c.SendMessage(m); err == nil {
			t.Fatal("SendMessage on a marked-down connection succeeded")
		}
		// Not taken: still the application's, which gives it back.
		m.Header.Tid = 7
		a.m.Release(m)
		if !takeLent(a.m, 1)[m] {
			t.Fatal("a released unsent message was not reused")
		}
	})
}

func overlap(a, b map[*msgr.Message]bool) int {
	n := 0
	for m := range a {
		if b[m] {
			n++
		}
	}
	return n
}

func mapsOverlap(a, b map[*msgr.Message]bool) bool { return overlap(a, b) > 0 }

// TestLentMessageLocalDelivery: a lent message sent on the loopback connection is delivered
// to the messenger's own dispatcher as a received message, which the dispatcher may release.
func TestLentMessageLocalDelivery(t *testing.T) {
	w := world.New(1, simnet.Config{Latency: 50 * time.Microsecond}, false)
	a := newLendPeer(t, w, wire.NewName(wire.EntityOSD, 0), "10.0.0.1", true)
	m := a.m.NewMessage(wire.MsgPing, []byte("self"))
	m.Header.Tid = 1
	if err := a.m.LocalConnection().SendMessage(m); err != nil {
		t.Fatal(err)
	}
	if err := w.RunUntil(func() bool { return a.rec.count() == 1 }, time.Minute, 1_000_000); err != nil {
		t.Fatal(err)
	}
	a.m.Release(m) // the recorder kept nothing of it
	if !takeLent(a.m, 1)[m] {
		t.Fatal("the released loopback message was not reused")
	}
}

// TestLentMessageMisuse: the mistakes the lending contract forbids panic instead of
// corrupting the free list: sending a lent message twice, releasing one the messenger holds,
// and releasing a message twice.
func TestLentMessageMisuse(t *testing.T) {
	w := world.New(1, simnet.Config{Latency: 50 * time.Microsecond}, false)
	a := newLendPeer(t, w, wire.NewName(wire.EntityOSD, 0), "10.0.0.1", true)
	b := newLendPeer(t, w, wire.NewName(wire.EntityOSD, 1), "10.0.0.2", true)
	c, err := a.m.ConnectTo(wire.EntityOSD, b.m.MyAddr())
	if err != nil {
		t.Fatal(err)
	}
	mustPanic := func(what, want string, f func()) {
		t.Helper()
		defer func() {
			r := recover()
			if s, _ := r.(string); !strings.Contains(s, want) {
				t.Fatalf("%s: panic %v, want one saying %q", what, r, want)
			}
		}()
		f()
	}
	m := a.m.NewMessage(wire.MsgPing, nil)
	if err := c.SendMessage(m); err != nil {
		t.Fatal(err)
	}
	mustPanic("sent twice", "already sent", func() { _ = c.SendMessage(m) })
	mustPanic("released while sent", "was sent", func() { a.m.Release(m) })

	r := a.m.NewMessage(wire.MsgPing, nil)
	a.m.Release(r)
	mustPanic("released twice", "already released", func() { a.m.Release(r) })
	mustPanic("sent after release", "released message", func() { _ = c.SendMessage(r) })
}
