//go:build linux

package msgr_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/netio/inject"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// newInjectNode is an OSD-like messenger on the epoll stack wrapped for fault injection.
func newInjectNode(t *testing.T, id int64, seed uint64, opts inject.Options, delay *msgr.InjectDelay) (*realNode, *inject.Stack) {
	t.Helper()
	opts.Rand = detrand.NewSeeded(seed + 100)
	st := inject.New(epoll.New(epoll.Options{}), opts)
	rt := &event.GoRuntime{}
	m, err := msgr.New(msgr.Config{
		Name: wire.NewName(wire.EntityOSD, id), Stack: st, Runtime: rt, Rand: detrand.NewSeeded(seed),
		ClusterProtocol: 10, InjectDelay: delay,
		InitialBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
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
	rec := newRecorder(false)
	m.AddDispatcherTail(rec)
	return &realNode{m: m, rec: rec, rt: rt}, st
}

// exchange sends n messages each way between two lossless peers, in rounds of 10 (so that
// sockets see many operations, and injected failures hit every phase), and checks that each
// side dispatched the other's exactly once and in order.
func exchange(t *testing.T, a, b *realNode, n int) {
	t.Helper()
	ab, err := a.m.ConnectTo(wire.EntityOSD, b.m.MyAddr())
	if err != nil {
		t.Fatal(err)
	}
	ba, err := b.m.ConnectTo(wire.EntityOSD, a.m.MyAddr())
	if err != nil {
		t.Fatal(err)
	}
	for sent := 0; sent < n; {
		for i := 0; i < 10 && sent < n; i++ {
			sent++
			for _, c := range []*msgr.Connection{ab, ba} {
				msg := wire.NewMessage(wire.MsgPing, []byte("x"))
				msg.Header.Tid = uint64(sent)
				if err := c.SendMessage(msg); err != nil {
					t.Fatal(err)
				}
			}
		}
		waitFor(t, "the round", func() bool { return a.rec.count() == sent && b.rec.count() == sent })
	}
	checkInOrder(t, 0, a.rec.tids(b.m.Name().String()), n)
	checkInOrder(t, 0, b.rec.tids(a.m.Name().String()), n)
}

// ms_inject_internal_delays on the real stack: with sockets failing one operation in 40,
// sessions reconnect and replace over and over while every accept decision, open and replace
// is delayed; lossless sessions still deliver everything exactly once, in order.
func TestInternalDelaysOnEpoll(t *testing.T) {
	opts := inject.Options{SocketFailures: 40, InternalDelays: 2 * time.Millisecond}
	a, sa := newInjectNode(t, 0, 1, opts, nil)
	b, sb := newInjectNode(t, 1, 2, opts, nil)
	exchange(t, a, b, 1000)
	at := func(p string) uint64 { return sa.DelaysAt(p) + sb.DelaysAt(p) }
	t.Logf("socket failures injected %d; internal delays: accept-lookup %d, open %d, replace %d, learned-addr %d",
		sa.Injected()+sb.Injected(), at(netio.DelayAcceptLookup), at(netio.DelayOpen), at(netio.DelayReplace), at(netio.DelayLearnedAddr))
	if sa.Injected()+sb.Injected() == 0 || at(netio.DelayAcceptLookup) == 0 || at(netio.DelayOpen) == 0 {
		t.Fatal("no socket failure or no internal delay at accept and open was injected")
	}
	a.stop()
	b.stop()
}

// ms_inject_delay_* on the real stack: half the messages from OSDs are held back up to 3 ms
// (center timers on the epoll runtime), with sockets failing too; delivery stays exactly once
// and FIFO per connection, held messages are flushed on resets, and the counters see them.
func TestDispatchDelaysOnEpoll(t *testing.T) {
	delay := &msgr.InjectDelay{Types: []wire.EntityType{wire.EntityOSD}, Probability: detrand.OneIn(2), Max: 3 * time.Millisecond}
	opts := inject.Options{SocketFailures: 60}
	a, sa := newInjectNode(t, 0, 3, opts, delay)
	b, sb := newInjectNode(t, 1, 4, opts, delay)
	exchange(t, a, b, 1000)
	ma, mb := a.m.Metrics(), b.m.Metrics()
	t.Logf("socket failures injected %d; messages delayed %d + %d", sa.Injected()+sb.Injected(), ma.Delayed, mb.Delayed)
	if ma.Delayed == 0 || mb.Delayed == 0 {
		t.Fatalf("no message was delayed (%d, %d)", ma.Delayed, mb.Delayed)
	}
	waitFor(t, "held messages to drain", func() bool {
		for _, c := range append(a.m.Connections(), b.m.Connections()...) {
			if c.Held() != 0 {
				return false
			}
		}
		return true
	})
	a.stop()
	b.stop()
}
