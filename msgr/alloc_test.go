//go:build linux

package msgr_test

import (
	"net/netip"
	"runtime"
	"strconv"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// releasingDispatcher fast-dispatches every message, releases it, and signals each batch.
type releasingDispatcher struct {
	msgr.NopDispatcher
	batch int
	n     int
	done  chan struct{}
}

func (d *releasingDispatcher) CanFastDispatchAny() bool           { return true }
func (d *releasingDispatcher) CanFastDispatch(*msgr.Message) bool { return true }
func (d *releasingDispatcher) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	c.Messenger().Release(m)
	if d.n++; d.n%d.batch == 0 {
		d.done <- struct{}{}
	}
}

// queuedDispatcher takes every message through the dispatch queue (Dispatch), releases it,
// and signals each batch.
type queuedDispatcher struct{ releasingDispatcher }

func (d *queuedDispatcher) CanFastDispatchAny() bool           { return false }
func (d *queuedDispatcher) CanFastDispatch(*msgr.Message) bool { return false }
func (d *queuedDispatcher) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	d.FastDispatch(c, m)
	return true
}

// TestMessengerDataPathAllocs pins the messenger's data path over real TCP at zero
// allocations per message: with the application's messages built beforehand and received
// ones released, queueing, framing, writing, reading, parsing, verifying, dispatching and
// acknowledging allocate nothing in steady state (the event loops, the deferred write, the
// lent buffers, the sent list).
// With Config.SendInline the same holds for messages written from the sender's goroutine,
// and with a dispatcher that is not fast for messages taken through the dispatch queue.
// With messages lent by the messenger (NewMessage) instead of built beforehand, sending
// allocates nothing either: acknowledged messages come back to the free list.
func TestMessengerDataPathAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation changes allocations")
	}
	t.Run("posted", func(t *testing.T) { dataPathAllocs(t, false, false, false, false) })
	t.Run("inline", func(t *testing.T) { dataPathAllocs(t, true, false, false, false) })
	t.Run("queued", func(t *testing.T) { dataPathAllocs(t, false, true, false, false) })
	t.Run("lent", func(t *testing.T) { dataPathAllocs(t, false, false, true, false) })
	t.Run("lender", func(t *testing.T) { dataPathAllocs(t, false, false, true, true) })
}

func dataPathAllocs(t *testing.T, inline, queued, lent, lender bool) {
	const batch, runs = 64, 50
	rd := &releasingDispatcher{batch: batch, done: make(chan struct{}, 1)}
	var d msgr.Dispatcher = rd
	if queued {
		d = &queuedDispatcher{releasingDispatcher{batch: batch, done: rd.done}}
	}
	cli, conn := newTCPPair(t, inline, d)
	newMessage := cli.NewMessage
	if lender {
		newMessage = cli.NewLender().NewMessage
	}
	payload := make([]byte, 4096)
	msgs := make([]*msgr.Message, (runs+12)*batch) // built before measuring
	for i := range msgs {
		msgs[i] = wire.NewMessage(wire.MsgOSDOp, nil)
		msgs[i].Data = payload
	}
	next := 0
	sendBatch := func() {
		for inline && conn.Queued() != 0 {
			runtime.Gosched() // the batch before acknowledged: the first send of this one goes inline
		}
		for lent && conn.Queued() > batch {
			// At most one batch unacknowledged: the free list, grown while warming up,
			// holds this batch's messages (Queued counts a message until it is recycled).
			runtime.Gosched()
		}
		for range batch {
			msg := msgs[next]
			if lent {
				msg = newMessage(wire.MsgOSDOp, nil)
				msg.Data = payload
			}
			if err := conn.SendMessage(msg); err != nil {
				t.Fatal(err)
			}
			next++
		}
		<-rd.done // (a lost batch hangs until the test binary's timeout)
	}
	for range 10 {
		sendBatch() // warm: handshake, buffers, free lists, slices
	}
	got := testing.AllocsPerRun(runs, sendBatch)
	if got != 0 {
		t.Fatalf("%v allocations per batch of %d messages, want 0", got, batch)
	}
	if n := cli.Metrics().MessagesInline; inline && n == 0 {
		t.Fatalf("no message was sent inline")
	}
}

// newTCPPair starts a server messenger osd.0 dispatching to d and a client osd.1 over epoll
// on loopback (one worker each, lossless, 64 KiB prefetch), connects the client to the
// server and returns the client and its connection; both are shut down by tb's cleanup.
func newTCPPair(tb testing.TB, inline bool, d msgr.Dispatcher) (*msgr.Messenger, *msgr.Connection) {
	tb.Helper()
	return newTCPPairWith(tb, inline, d, &releasingDispatcher{batch: 1 << 30})
}

// newTCPPairWith is newTCPPair with the client dispatching to cd.
func newTCPPairWith(tb testing.TB, inline bool, d, cd msgr.Dispatcher) (*msgr.Messenger, *msgr.Connection) {
	tb.Helper()
	rt := &event.GoRuntime{}
	stack := epoll.New(epoll.Options{})
	mk := func(n int64, bind bool, disp msgr.Dispatcher) *msgr.Messenger {
		m, err := msgr.New(msgr.Config{Name: wire.NewName(wire.EntityOSD, n), Stack: stack, Runtime: rt,
			Rand: detrand.NewSeeded(uint64(n) + 1), Workers: 1, ClusterProtocol: 10, PrefetchSize: 64 << 10, SendInline: inline})
		if err != nil {
			tb.Fatal(err)
		}
		m.SetPolicy(wire.EntityOSD, proto.LosslessPeer(0))
		if bind {
			if err := m.Bind(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
				tb.Fatal(err)
			}
		}
		if err := m.Start(); err != nil {
			tb.Fatal(err)
		}
		m.AddDispatcherTail(disp)
		return m
	}
	srv := mk(0, true, d)
	cli := mk(1, false, cd)
	tb.Cleanup(func() {
		cli.Shutdown()
		srv.Shutdown()
		cli.Wait()
		srv.Wait()
		rt.Wait()
	})
	conn, err := cli.ConnectTo(wire.EntityOSD, srv.MyAddr())
	if err != nil {
		tb.Fatal(err)
	}
	return cli, conn
}

// BenchmarkMessengerOneway is one message through the whole real stack over loopback TCP:
// SendMessage from the benchmark's goroutine, posted to the client's event loop, framed with
// its crcs, written, read and parsed by the server's loop, fast-dispatched and released, and
// acknowledged. Messages go in batches (the sender waits for each batch's dispatch): with 64
// per batch the event loops' per-step costs are shared by many messages, with 1 every message
// takes its own steps (wakeups, timer, interest) on both sides. Three batches of messages are
// reused in turn once acknowledged, so the op allocates nothing. Used under callgrind for the
// instructions per message of the messenger (see BENCHMARKS.md, issue 18).
func BenchmarkMessengerOneway(b *testing.B) { benchOnewayCells(b, false) }

// BenchmarkMessengerOnewayLent is BenchmarkMessengerOneway with messages lent by the client
// (NewMessage) instead of the ring: each goes back to the free list when acknowledged.
func BenchmarkMessengerOnewayLent(b *testing.B) { benchOnewayCells(b, true) }

// BenchmarkMessengerOnewayLender is BenchmarkMessengerOnewayLent with the messages lent by a
// Lender of the benchmark's goroutine: one lock of the free list per 32 messages.
func BenchmarkMessengerOnewayLender(b *testing.B) {
	lenderBench = true
	defer func() { lenderBench = false }() // (-count > 1 runs Lent again after it)
	benchOnewayCells(b, true)
}

// lenderBench makes benchOneway lend through a Lender (set by BenchmarkMessengerOnewayLender).
var lenderBench bool

func benchOnewayCells(b *testing.B, lent bool) {
	for _, size := range []int{0, 4096} {
		for _, batch := range []int{64, 1, 512} {
			b.Run("size="+strconv.Itoa(size)+"/batch="+strconv.Itoa(batch), func(b *testing.B) {
				benchOneway(b, size, batch, lent)
			})
		}
	}
}

func benchOneway(b *testing.B, size, batch int, lent bool) {
	d := &releasingDispatcher{batch: batch, done: make(chan struct{}, 1)}
	cli, conn := newTCPPair(b, false, d)
	newMessage := cli.NewMessage
	if lenderBench {
		newMessage = cli.NewLender().NewMessage
	}
	payload := make([]byte, size)
	var ring [3][]*msgr.Message
	for i := range ring {
		ring[i] = make([]*msgr.Message, batch)
		for j := range ring[i] {
			ring[i][j] = wire.NewMessage(wire.MsgOSDOp, nil)
			ring[i][j].Data = payload
		}
	}
	slot := 0
	sendBatch := func() {
		// Acknowledgements come in order: with at most two batches unacknowledged, the
		// slot's previous batch (three batches ago) is acknowledged.
		for conn.Queued() > 2*batch {
			runtime.Gosched()
		}
		for _, m := range ring[slot%3] {
			if lent {
				m = newMessage(wire.MsgOSDOp, nil)
				m.Data = payload
			} else {
				m.Header.Seq, m.Footer = 0, wire.Footer{}
			}
			if err := conn.SendMessage(m); err != nil {
				b.Fatal(err)
			}
		}
		slot++
		<-d.done
	}
	for range 10 {
		sendBatch() // warm: handshake, buffers, free lists
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += batch {
		sendBatch()
	}
}
