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
