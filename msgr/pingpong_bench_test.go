//go:build linux

package msgr_test

import (
	"strconv"
	"testing"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// replyDispatcher answers every message with a lent message of the same size, from the
// server's event loop (msgr-bench's pingpong server).
type replyDispatcher struct {
	msgr.NopDispatcher
	payload []byte
}

func (d *replyDispatcher) CanFastDispatchAny() bool           { return true }
func (d *replyDispatcher) CanFastDispatch(*msgr.Message) bool { return true }
func (d *replyDispatcher) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	c.Messenger().Release(m)
	r := c.Messenger().NewMessage(wire.MsgOSDOpReply, nil)
	r.Data = d.payload
	_ = c.SendMessage(r)
}

// pingDispatcher takes each reply on the client's event loop and sends the next request
// from there, until left reaches zero.
type pingDispatcher struct {
	msgr.NopDispatcher
	payload []byte
	left    int
	done    chan struct{}
}

func (d *pingDispatcher) CanFastDispatchAny() bool           { return true }
func (d *pingDispatcher) CanFastDispatch(*msgr.Message) bool { return true }
func (d *pingDispatcher) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	c.Messenger().Release(m)
	if d.left--; d.left <= 0 {
		d.done <- struct{}{}
		return
	}
	r := c.Messenger().NewMessage(wire.MsgOSDOp, nil)
	r.Data = d.payload
	_ = c.SendMessage(r)
}

// BenchmarkMessengerPingPong is a round trip over loopback TCP in the shape of msgr-bench's
// pingpong cell (1 connection): a request and its reply, each sent by the fast dispatcher on
// the receiving event loop, so every hop is one wakeup of an idle loop (read, dispatch, write
// with the ACK, park) and no message is posted from another goroutine. Used under callgrind
// for the instructions per round trip (BENCHMARKS.md, issue 18, "Wakeups").
func BenchmarkMessengerPingPong(b *testing.B) {
	for _, size := range []int{0, 4096} {
		b.Run("size="+strconv.Itoa(size), func(b *testing.B) { benchPingPong(b, size) })
	}
}

func benchPingPong(b *testing.B, size int) {
	payload := make([]byte, size)
	ping := &pingDispatcher{payload: payload, done: make(chan struct{}, 1)}
	cli, conn := newTCPPairWith(b, false, &replyDispatcher{payload: payload}, ping)
	// run makes n round trips: the first request from here, the others from the dispatcher.
	// ping.left is written before the send and read by the client's loop after the reply.
	run := func(n int) {
		ping.left = n
		m := cli.NewMessage(wire.MsgOSDOp, nil)
		m.Data = payload
		if err := conn.SendMessage(m); err != nil {
			b.Fatal(err)
		}
		<-ping.done
	}
	run(100) // warm: handshake, buffers, free lists
	b.SetBytes(int64(2 * size))
	b.ReportAllocs()
	b.ResetTimer()
	run(b.N)
}

// rrClient takes each reply on the client's event loop and sends the next request from there,
// lent through its own Lender (msgr-bench's rr client), until sent requests reach total; done
// is signalled at the last reply.
type rrClient struct {
	msgr.NopDispatcher
	payload     []byte
	lender      *msgr.Lender
	sent, total int // sent: requests out (written by the benchmark before the first send)
	got         int
	done        chan struct{}
}

func (d *rrClient) CanFastDispatchAny() bool           { return true }
func (d *rrClient) CanFastDispatch(*msgr.Message) bool { return true }
func (d *rrClient) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	c.Messenger().Release(m)
	if d.got++; d.got == d.total {
		d.done <- struct{}{}
		return
	}
	if d.sent < d.total {
		d.sent++
		r := d.lender.NewMessage(wire.MsgOSDOp, nil)
		r.Data = d.payload
		_ = c.SendMessage(r)
	}
}

// rrDepth is msgr-bench's rr depth (its default outstanding requests per connection).
const rrDepth = 128

// lendingReplier is replyDispatcher with the replies lent through a Lender (a server's
// dispatcher on one connection's center, so one goroutine uses it), made at the first request.
type lendingReplier struct {
	replyDispatcher
	lender *msgr.Lender
}

func (d *lendingReplier) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	c.Messenger().Release(m)
	if d.lender == nil {
		d.lender = c.Messenger().NewLender()
	}
	r := d.lender.NewMessage(wire.MsgOSDOpReply, nil)
	r.Data = d.payload
	_ = c.SendMessage(r)
}

// BenchmarkMessengerRR is msgr-bench's rr cell over loopback TCP (1 connection): 4 KiB
// requests, rrDepth of them outstanding, each 0-byte reply sent by the server's fast
// dispatcher (reply=new: Messenger.NewMessage; reply=lender: through a Lender), each next
// request by the client's fast dispatcher through a Lender. Both sides read a train of
// replies or requests and write the answers in one write, so an op is one round trip of the
// cell's serial schedule. Used under callgrind for the instructions per round trip
// (BENCHMARKS.md, issue 18, "rr at depth 128: the messenger's share (rr, 2026-12-07b)").
func BenchmarkMessengerRR(b *testing.B) {
	b.Run("reply=new", func(b *testing.B) { benchRR(b, false) })
	b.Run("reply=lender", func(b *testing.B) { benchRR(b, true) })
}

func benchRR(b *testing.B, lend bool) {
	payload := make([]byte, 4096)
	d := &rrClient{payload: payload, done: make(chan struct{}, 1)}
	var srvd msgr.Dispatcher = &replyDispatcher{}
	if lend {
		srvd = &lendingReplier{}
	}
	cli, conn := newTCPPairWith(b, false, srvd, d)
	d.lender = cli.NewLender()
	// run makes n round trips (n >= rrDepth): the first rrDepth requests from here with
	// NewMessage (the lender is the client loop's), the others from the dispatcher. d's
	// counters are written before the first send and read by the client's loop after replies.
	run := func(n int) {
		d.sent, d.got, d.total = rrDepth, 0, n
		for range rrDepth {
			m := cli.NewMessage(wire.MsgOSDOp, nil)
			m.Data = payload
			if err := conn.SendMessage(m); err != nil {
				b.Fatal(err)
			}
		}
		<-d.done
	}
	run(4 * rrDepth) // warm: handshake, buffers, free lists
	b.SetBytes(4096)
	b.ReportAllocs()
	b.ResetTimer()
	run(max(b.N, rrDepth))
}
