package cluster

import (
	"fmt"
	"time"

	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// clientNode is a librados-like client: one lossy messenger, the OSD map from the monitor,
// and a closed loop of key-value operations, each sent with a tid to the key's primary and
// retried — on a reset or when no answer came in time — until it is answered.
type clientNode struct {
	cproc
	num int // history client id
	x   *cmsgr

	// Durable (the workload's own bookkeeping): tids are never reused.
	nextTid uint64
	issued  int
	quota   int

	// Volatile.
	view osdView
	cur  *clientOp

	issueFn func() // maybeIssue, bound once (a method value per answer would allocate)
}

type clientOp struct {
	tid     uint64
	in      models.KVInput
	hist    int
	attempt int
	conn    *msgr.Connection
	addr    wire.EntityAddr
}

func newClient(cl *Workload, num, idx int) *clientNode {
	c := &clientNode{num: num, quota: cl.quota}
	c.cproc = cproc{cl: cl, sockets: cl.h.NewSockets(), name: fmt.Sprintf("client.%d", 4100+num), ename: wire.NewName(wire.EntityClient, int64(4100+num)),
		idx: idx, ip: cl.ipFor(idx)}
	c.x = &cmsgr{p: &c.cproc, fast: cl.h.Rand.Bool()}
	c.x.handle, c.x.onReset = c.handle, c.onReset
	c.restart = c.start
	c.issueFn = c.maybeIssue
	return c
}

// start: a new incarnation (create, policies, start, dispatcher); an operation in flight when
// the previous one crashed stays unanswered (unknown in the history).
func (c *clientNode) start() error {
	h := c.cl.h
	c.newHost()
	c.view, c.cur = osdView{}, nil
	c.x.nonce = h.W.Rand().Uint32() | 1
	if err := c.x.create(c.ename, 0, 1+h.Rand.IntN(2)); err != nil {
		return err
	}
	c.x.setPolicies(proto.LossyClient(wire.FeatureOSDReplyMux), nil)
	if err := c.x.bindAndStart(); err != nil {
		return err
	}
	c.x.init(h.Rand.Bool(), h.Rand.IntN(4) == 0)
	h.W.Trace.Logf(h.W.Now(), "%s up", c.incName())
	c.askMap()
	return nil
}

func (c *clientNode) askMap() {
	mon := c.cl.mon
	if conn := c.x.connect(wire.EntityMon, mon.addr()); conn != nil {
		c.x.send(conn, mon.public.endpoint(), false, &cmsg{kind: ckGetMap})
	}
}

func (c *clientNode) tick() {
	if c.Running() {
		c.askMap()
		c.maybeIssue()
	}
}

func (c *clientNode) done() bool { return c.issued >= c.quota && c.cur == nil }

// maybeIssue starts the next operation, once the map is known.
func (c *clientNode) maybeIssue() {
	cl := c.cl
	if c.cur != nil || c.issued >= c.quota || !c.Running() || c.view.osds == nil || !cl.active() {
		return
	}
	c.nextTid++
	c.issued++
	in := cl.drawOp(c.num, c.nextTid)
	op := &clientOp{tid: c.nextTid, in: in, hist: cl.h.KV.Invoke(c.num, in, int64(cl.h.W.Now()))}
	c.cur = op
	c.send(op)
}

// send sends op to its key's primary and arms the retry timer.
func (c *clientNode) send(op *clientOp) {
	cl := c.cl
	op.attempt++
	attempt := op.attempt
	cl.h.W.Schedule(cl.h.W.Now()+cl.retry, func() { c.timeout(op, attempt) })
	p := cl.primary(op.in.Key)
	info, ok := c.view.get(p)
	if !ok || !info.up {
		return
	}
	op.addr = info.addrs[addrPublic]
	op.conn = c.x.connect(wire.EntityOSD, op.addr)
	if op.conn != nil {
		c.x.send(op.conn, cl.osds[p].public.endpoint(), false,
			&cmsg{kind: ckOp, tid: op.tid, op: op.in.Op, key: op.in.Key, value: op.in.Value})
	}
}

// timeout retries an operation that got no answer in time: the session is dropped, the map
// refreshed, and the request sent again with the same tid.
func (c *clientNode) timeout(op *clientOp, attempt int) {
	if c.cur != op || op.attempt != attempt || !c.Running() || !c.cl.active() {
		return
	}
	if op.conn != nil {
		op.conn = nil
		c.x.markDown(wire.EntityOSD, op.addr)
	}
	c.askMap()
	c.send(op)
}

// onReset resends the operation in flight when its session was reset.
func (c *clientNode) onReset(conn *msgr.Connection) {
	op := c.cur
	if op == nil || op.conn != conn {
		return
	}
	op.conn = nil
	attempt := op.attempt
	c.cl.h.W.Schedule(c.cl.h.W.Now()+time.Millisecond, func() {
		if c.cur == op && op.attempt == attempt && c.Running() && c.cl.active() {
			c.send(op)
		}
	})
}

func (c *clientNode) handle(_ *msgr.Connection, m *cmsg) {
	cl := c.cl
	switch m.kind {
	case ckMap:
		c.view.update(m)
		c.maybeIssue()
	case ckOpReply:
		op := c.cur
		if op == nil || m.tid != op.tid {
			return
		}
		cl.h.KV.Return(op.hist, m.value, int64(cl.h.W.Now()))
		c.cur = nil
		think := time.Duration(cl.h.Rand.IntN(2000)) * time.Microsecond
		cl.h.W.Schedule(cl.h.W.Now()+think, c.issueFn)
	}
}
