//go:build linux

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// msgrContender is our Messenger over the epoll stack with the full protocol: the msgr1
// handshake, lossless OSD↔OSD sessions (sequence numbers, ACKs, the sent list), header and
// data crcs, fast dispatch. Each connection is its own client messenger (osd.1, osd.2, …:
// one lossless session per peer address, as in Ceph), all sharing one worker pool, as the
// messengers of a Ceph process share their NetworkStack workers; the server is osd.0 with its
// own pool.
type msgrContender struct {
	workers  int           // worker centers of the server, and of the shared client pool
	spin     time.Duration // epoll.Options.SpinWait
	prefetch int           // msgr.Config.PrefetchSize
	thread   bool          // epoll.Options.ThreadWait
	inline   bool          // msgr.Config.SendInline (the msgr-inline contender)
	alloc    bool          // a new message per send (wire.NewMessage), not one lent by the messenger (msgr-alloc)
	chunk    int           // epoll.Options.WriteChunk
	lowat    int           // epoll.Options.NotSentLowat
	// replyWhileReading is msgr.Config.ReplyWhileReading (off by default, as in msgr)
	replyWhileReading bool
	lender            bool // each client connection's sender lends through a msgr.Lender
}

func (m msgrContender) name() string {
	switch {
	case m.inline:
		return "msgr-inline"
	case m.alloc:
		return "msgr-alloc"
	}
	return "msgr"
}
func (msgrContender) supports(c cell) bool { return true }

type msgrRun struct {
	l       *load
	rt      *event.GoRuntime
	pool    *event.Pool
	server  *msgr.Messenger
	clients []*msgr.Messenger
	conns   []*msgr.Connection
	senders sync.WaitGroup
	payload []byte
	reply   []byte
	// per connection (client index): what pingpong/rr clients need on their center
	times    []*sendTimes
	creds    []*credit
	replies  []chan struct{} // think: a reply reached the client's center
	err      atomic.Pointer[error]
	prefetch int
	inline   bool
	alloc    bool
	rwr      bool // msgr.Config.ReplyWhileReading
	// lenders[i] lends client connection i's messages (nil: Messenger.NewMessage). One
	// goroutine uses it: the sender goroutine, or the client's center (kickOff's first
	// requests use NewMessage: replies may reach the center while kickOff still sends).
	lenders []*msgr.Lender
}

func (mc msgrContender) start(l *load) (running, error) {
	r := &msgrRun{l: l, rt: &event.GoRuntime{}, payload: pattern(l.cell.size)}
	if l.cell.mode == modePingpong {
		r.reply = r.payload
	}
	stack := epoll.New(epoll.Options{SpinWait: mc.spin, ThreadWait: mc.thread, WriteChunk: mc.chunk, NotSentLowat: mc.lowat})
	r.prefetch, r.inline, r.alloc, r.rwr = mc.prefetch, mc.inline, mc.alloc, mc.replyWhileReading
	lend := mc.lender && !mc.alloc
	if err := r.setUp(stack, mc.workers); err != nil {
		_ = r.stop()
		return nil, err
	}
	if lend {
		r.lenders = make([]*msgr.Lender, len(r.conns))
		for i, cm := range r.clients {
			r.lenders[i] = cm.NewLender()
		}
	}
	r.kickOff()
	return r, nil
}

func (r *msgrRun) setUp(stack *epoll.Stack, workers int) error {
	rnd := detrand.NewSeeded(7)
	srv, err := r.newMessenger(stack, wire.NewName(wire.EntityOSD, 0), msgr.Config{Workers: workers}, rnd, &serverDispatcher{r: r}, true)
	if err != nil {
		return err
	}
	r.server = srv
	pool, err := event.NewPool("clients", workers, stack, r.rt, rnd.Fork())
	if err != nil {
		return err
	}
	r.pool = pool
	n := r.l.cell.conns
	r.times, r.creds, r.replies = make([]*sendTimes, n), make([]*credit, n), make([]chan struct{}, n)
	for i := range n {
		cm, err := r.newMessenger(stack, wire.NewName(wire.EntityOSD, int64(i+1)), msgr.Config{Pool: pool}, rnd, &clientDispatcher{r: r, i: i}, false)
		if err != nil {
			return err
		}
		r.clients = append(r.clients, cm)
		c, err := cm.ConnectTo(wire.EntityOSD, srv.MyAddr())
		if err != nil {
			return err
		}
		r.conns = append(r.conns, c)
		r.times[i] = newSendTimes(max(1, r.l.cell.outstanding()), stampEvery(r.l.cell))
		r.creds[i] = r.l.credit(i)
		r.replies[i] = r.l.waker()
	}
	return nil
}

// newMessenger creates, binds (if bind) and starts a messenger; adding the dispatcher makes it
// ready, which starts its listener, so binding comes first.
func (r *msgrRun) newMessenger(stack *epoll.Stack, name wire.EntityName, cfg msgr.Config, rnd *detrand.Rand, d msgr.Dispatcher, bind bool) (*msgr.Messenger, error) {
	cfg.Name, cfg.Stack, cfg.Runtime, cfg.Rand = name, stack, r.rt, rnd.Fork()
	cfg.ClusterProtocol = 10
	cfg.PrefetchSize = r.prefetch
	cfg.SendInline = r.inline
	cfg.ReplyWhileReading = r.rwr
	if os.Getenv("MSGR_BENCH_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	m, err := msgr.New(cfg)
	if err != nil {
		return nil, err
	}
	m.SetPolicy(wire.EntityOSD, proto.LosslessPeer(0))
	if bind {
		if err := m.Bind(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
			return nil, err
		}
	}
	if err := m.Start(); err != nil {
		return nil, err
	}
	m.AddDispatcherTail(d)
	return m, nil
}

// kickOff starts the traffic: a sender goroutine per connection in oneway and think mode;
// otherwise the first requests of every connection (the clients' dispatchers send the rest).
func (r *msgrRun) kickOff() {
	for i, c := range r.conns {
		switch r.l.cell.mode {
		case modeOneway:
			r.senders.Add(1)
			go r.onewaySender(i, c)
			continue
		case modeThink:
			r.senders.Add(1)
			go r.thinkClient(i, c)
			continue
		}
		// All stamps first: once a request is out, the client's center owns r.times[i].
		depth := r.l.cell.outstanding()
		for range depth {
			r.times[i].push(r.times[i].clock())
		}
		for range depth {
			r.sendWith(i, c, nil, r.payload) // not the lender: the client's center may use it already
		}
	}
}

// newMessage is the next message of connection c: lent by c's messenger (back to its free
// list once the peer acknowledges it) through lender l, or NewMessage where l is nil (the
// server's replies), or allocated (msgr-alloc).
func (r *msgrRun) newMessage(c *msgr.Connection, l *msgr.Lender, tid uint64, data []byte) *msgr.Message {
	var m *msgr.Message
	switch {
	case r.alloc:
		m = wire.NewMessage(wire.MsgOSDOp, nil)
	case l != nil:
		m = l.NewMessage(wire.MsgOSDOp, nil)
	default:
		m = c.Messenger().NewMessage(wire.MsgOSDOp, nil)
	}
	m.Header.Tid = tid
	m.Data = data
	return m
}

func (r *msgrRun) onewaySender(i int, c *msgr.Connection) {
	defer r.senders.Done()
	cr := r.creds[i]
	for cr.acquire(&r.l.stop) {
		r.send(i, c, r.payload)
	}
}

// thinkClient is the think mode's application goroutine: it sends a request, waits until the
// client's dispatcher has the reply, pauses for the think time, and again. Its requests go
// to a quiet session from outside the center (inline with Config.SendInline).
func (r *msgrRun) thinkClient(i int, c *msgr.Connection) {
	defer r.senders.Done()
	for !r.l.stop.Load() {
		t0 := now()
		r.send(i, c, r.payload)
		<-r.replies[i] // the reply, or the run's stop
		if r.l.stop.Load() {
			return
		}
		r.l.complete(i, now().Sub(t0))
		time.Sleep(r.l.cell.think)
	}
}

// send sends a message tagged with connection index i on the client's connection c.
func (r *msgrRun) send(i int, c *msgr.Connection, data []byte) {
	var l *msgr.Lender
	if r.lenders != nil {
		l = r.lenders[i]
	}
	r.sendWith(i, c, l, data)
}

// sendWith sends a message tagged with connection index i, lent through l (nil: NewMessage).
func (r *msgrRun) sendWith(i int, c *msgr.Connection, l *msgr.Lender, data []byte) {
	if err := c.SendMessage(r.newMessage(c, l, uint64(i), data)); err != nil && !r.l.stop.Load() {
		r.fail(err)
	}
}

func (r *msgrRun) fail(err error) {
	if r.err.CompareAndSwap(nil, &err) {
		r.l.halt()
	}
}

// stop ends the traffic, shuts every messenger down and then the shared pool.
func (r *msgrRun) stop() error {
	r.l.halt()
	r.senders.Wait()
	ms := append([]*msgr.Messenger{}, r.clients...)
	if r.server != nil {
		ms = append(ms, r.server)
	}
	for _, m := range ms {
		m.Shutdown()
	}
	done := make(chan struct{})
	go func() {
		for _, m := range ms {
			m.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		return errors.New("messengers did not shut down within 30 s")
	}
	if r.pool != nil {
		r.pool.Stop(r.rt)
	}
	r.rt.Wait()
	if p := r.err.Load(); p != nil {
		return *p
	}
	return nil
}

// serverDispatcher counts oneway messages, or answers requests, on the server's centers.
type serverDispatcher struct {
	msgr.NopDispatcher
	r *msgrRun
}

func (d *serverDispatcher) CanFastDispatchAny() bool           { return true }
func (d *serverDispatcher) CanFastDispatch(*msgr.Message) bool { return true }

func (d *serverDispatcher) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	r := d.r
	i := int(m.Header.Tid)
	if len(m.Data) != r.l.cell.size || i >= len(r.conns) {
		r.fail(fmt.Errorf("server got %d bytes for connection %d", len(m.Data), i))
		return
	}
	c.Messenger().Release(m)
	if r.l.cell.mode == modeOneway {
		r.l.complete(i, 0)
		r.creds[i].released()
		return
	}
	// A server connection: no lender of its own. One per connection, used by its dispatcher,
	// measured no cheaper than NewMessage here (BENCHMARKS.md, "rr at depth 128 and ping-pong:
	// the messenger package's share"), so the harness stays as it was.
	r.sendWith(i, c, nil, r.reply)
}

// clientDispatcher takes replies on the clients' centers: it records the round trip and sends
// the next request.
type clientDispatcher struct {
	msgr.NopDispatcher
	r *msgrRun
	i int
}

func (d *clientDispatcher) CanFastDispatchAny() bool           { return true }
func (d *clientDispatcher) CanFastDispatch(*msgr.Message) bool { return true }

func (d *clientDispatcher) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	r := d.r
	if len(m.Data) != len(r.reply) {
		r.fail(fmt.Errorf("client %d got a %d-byte reply", d.i, len(m.Data)))
		return
	}
	c.Messenger().Release(m)
	if r.l.cell.mode == modeThink {
		select { // the client goroutine waits for it (one request out; full only after a halt)
		case r.replies[d.i] <- struct{}{}:
		default:
		}
		return
	}
	t := r.times[d.i].clock()
	r.l.complete(d.i, r.times[d.i].pop(t))
	if !r.l.stop.Load() {
		r.times[d.i].push(t)
		r.send(d.i, c, r.payload)
	}
}
