//go:build linux

package msgr

import (
	"sync/atomic"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// echoDispatcher answers every message with a 0-byte one from its fast dispatcher, as an rr
// server does.
type echoDispatcher struct {
	NopDispatcher
	n atomic.Int64
}

func (d *echoDispatcher) CanFastDispatchAny() bool      { return true }
func (d *echoDispatcher) CanFastDispatch(*Message) bool { return true }
func (d *echoDispatcher) FastDispatch(c *Connection, m *Message) {
	c.Messenger().Release(m)
	d.n.Add(1)
	_ = c.SendMessage(c.Messenger().NewMessage(wire.MsgOSDOpReply, nil))
}

// connRecorder counts what it is given and remembers the connection it came on.
type connRecorder struct {
	countingDispatcher
	conn atomic.Pointer[Connection]
}

func (d *connRecorder) FastDispatch(c *Connection, m *Message) {
	d.conn.Store(c)
	d.countingDispatcher.FastDispatch(c, m)
}

// With Config.ReplyWhileReading, a connection alone on its center that is sent many 4 KiB
// requests at once writes the replies to each 64 KiB it read before reading on: every read
// that completes a request is followed by a write, and a 64 KiB read completes at most 16
// of these 4,171-byte frames, so 64 requests take at least 4 writes of replies. (Without
// it the replies leave once the input is drained: usually in one or two writes, depending
// on how the requests arrive, which this test cannot pin.)
func TestReplyWhileReadingWritesPerRead(t *testing.T) {
	const n, size = 64, 4096
	log := &writeLog{Stack: epoll.New(epoll.Options{}), chunk: epoll.DefaultWriteChunk}
	rt := &event.GoRuntime{}
	mk := func(num int64, stack netio.Stack, d Dispatcher, rwr bool) *Messenger {
		return startOSD(t, Config{Name: wire.NewName(wire.EntityOSD, num), Stack: stack, Runtime: rt,
			Rand: detrand.NewSeeded(uint64(num) + 9), Workers: 1, ClusterProtocol: 10,
			PrefetchSize: 64 << 10, ReplyWhileReading: rwr}, num == 0, d)
	}
	rec := &connRecorder{}
	echo := &echoDispatcher{}
	srv := mk(0, epoll.New(epoll.Options{}), rec, false)
	cli := mk(1, log, echo, true) // the replier: its sockets' writes are logged
	defer stopPair(rt, cli, srv)
	c, err := cli.ConnectTo(wire.EntityOSD, srv.MyAddr())
	if err != nil {
		t.Fatal(err)
	}
	wait := waiter(t)
	if err := c.SendMessage(cli.NewMessage(wire.MsgOSDOp, nil)); err != nil {
		t.Fatal(err)
	}
	wait("the session", func() bool { return rec.conn.Load() != nil && c.Queued() == 0 })
	sc := rec.conn.Load()
	wait("the server's side", func() bool { return sc.Queued() == 0 })
	// Hold the server's center while the requests are sent: its flush then writes them in
	// one Writev (no early writes: they carry more than earlyWriteBytes).
	held, release := make(chan struct{}), make(chan struct{})
	sc.center.Post(func() {
		close(held)
		<-release
	})
	<-held
	payload := make([]byte, size)
	for i := range n {
		m := srv.NewMessage(wire.MsgOSDOp, nil)
		m.Header.Tid = uint64(i)
		m.Data = payload
		if err := sc.SendMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	log.record(true)
	close(release)
	wait("every reply", func() bool { return echo.n.Load() == n && rec.n.Load() == n+1 })
	got := log.recorded()
	log.record(false)
	if len(got) < 4 {
		t.Fatalf("the replies to %d requests of %d bytes left in %d writes %v, want at least 4", n, size, len(got), got)
	}
}
