package msgr

import (
	"sync"

	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// maxDispatchPerStep bounds the items dispatched per turn of the dispatch center, so that in
// simulation the scheduler can interleave other work between dispatches.
const maxDispatchPerStep = 32

// dqItem is one queued message or connection event.
type dqItem struct {
	conn  *Connection
	msg   *Message
	res   proto.Reservation
	event proto.EventKind
}

// dispatchQueue is Ceph's DispatchQueue: messages that were not fast-dispatched, and
// connection events, delivered one at a time on the dispatch center. Priority >= 64 is strict
// (highest first, FIFO within a priority; events go at 255); lower priorities are served
// round-robin by connection.
type dispatchQueue struct {
	m      *Messenger
	center *event.Center

	mu       sync.Mutex
	strict   []prioItems // sorted by priority, descending
	low      []connItems // round-robin by connection
	lowNext  int
	n        int
	posted   bool
	stopping bool // guarded by m.mu
}

type prioItems struct {
	prio  uint16
	items []dqItem
}

type connItems struct {
	conn  *Connection
	items []dqItem
}

func newDispatchQueue(m *Messenger, c *event.Center) *dispatchQueue {
	return &dispatchQueue{m: m, center: c}
}

// enqueue queues a received message.
func (q *dispatchQueue) enqueue(c *Connection, msg *Message, res proto.Reservation) {
	q.push(dqItem{conn: c, msg: msg, res: res}, msg.Header.Priority)
}

// queueEvent queues a connection event at the highest priority.
func (q *dispatchQueue) queueEvent(c *Connection, kind proto.EventKind) {
	q.m.trace(TraceEvent{Kind: TraceConnEvent, Conn: c, Event: kind})
	q.push(dqItem{conn: c, event: kind}, wire.PrioHighest)
}

func (q *dispatchQueue) push(it dqItem, prio uint16) {
	q.mu.Lock()
	if prio >= wire.PrioLow {
		q.pushStrict(it, prio)
	} else {
		q.pushLow(it)
	}
	q.n++
	post := !q.posted
	q.posted = true
	q.mu.Unlock()
	if post {
		q.center.Post(q.run)
	}
}

func (q *dispatchQueue) pushStrict(it dqItem, prio uint16) {
	i := 0
	for i < len(q.strict) && q.strict[i].prio > prio {
		i++
	}
	if i == len(q.strict) || q.strict[i].prio != prio {
		q.strict = append(q.strict, prioItems{})
		copy(q.strict[i+1:], q.strict[i:])
		q.strict[i] = prioItems{prio: prio}
	}
	q.strict[i].items = append(q.strict[i].items, it)
}

func (q *dispatchQueue) pushLow(it dqItem) {
	for i := range q.low {
		if q.low[i].conn == it.conn {
			q.low[i].items = append(q.low[i].items, it)
			return
		}
	}
	q.low = append(q.low, connItems{conn: it.conn, items: []dqItem{it}})
}

// pop removes the next item; q.mu is held.
func (q *dispatchQueue) pop() (dqItem, bool) {
	for i := range q.strict {
		if items := q.strict[i].items; len(items) > 0 {
			it := items[0]
			items[0] = dqItem{}
			q.strict[i].items = items[1:]
			q.n--
			return it, true
		}
	}
	if len(q.low) == 0 {
		return dqItem{}, false
	}
	k := q.lowNext % len(q.low)
	it := q.low[k].items[0]
	q.low[k].items[0] = dqItem{}
	q.low[k].items = q.low[k].items[1:]
	if len(q.low[k].items) == 0 {
		q.low = append(q.low[:k], q.low[k+1:]...)
	} else {
		k++
	}
	q.lowNext = k
	q.n--
	return it, true
}

// run dispatches a bounded batch, then re-posts itself while items remain.
func (q *dispatchQueue) run() {
	for i := 0; i < maxDispatchPerStep; i++ {
		q.mu.Lock()
		it, ok := q.pop()
		q.mu.Unlock()
		if !ok {
			break
		}
		q.dispatch(it)
	}
	q.mu.Lock()
	more := q.n > 0
	q.posted = more
	q.mu.Unlock()
	if more {
		q.center.Post(q.run)
	}
}

func (q *dispatchQueue) dispatch(it dqItem) {
	if it.msg == nil {
		q.m.deliverEvent(it.conn, it.event)
		return
	}
	q.m.dispatchNormal(it.conn, it.msg)
	it.res.Release()
}

// discard drops c's queued messages and events (Ceph's discard_queue) and releases their
// throttle units.
func (q *dispatchQueue) discard(c *Connection) {
	q.mu.Lock()
	var drop []dqItem
	for i := range q.strict {
		q.strict[i].items, drop = filterConn(q.strict[i].items, c, drop)
	}
	for i := 0; i < len(q.low); i++ {
		if q.low[i].conn == c {
			drop = append(drop, q.low[i].items...)
			q.low = append(q.low[:i], q.low[i+1:]...)
			i--
		}
	}
	q.n -= len(drop)
	q.mu.Unlock()
	for _, it := range drop {
		if it.msg != nil {
			it.res.Release()
		}
	}
}

// filterConn keeps the items not from c (in order) and appends c's messages to drop. Events
// are kept: dispatchers must still hear of resets.
func filterConn(items []dqItem, c *Connection, drop []dqItem) ([]dqItem, []dqItem) {
	kept := items[:0]
	for _, it := range items {
		if it.conn == c && it.msg != nil {
			drop = append(drop, it)
			continue
		}
		kept = append(kept, it)
	}
	clear(items[len(kept):])
	return kept, drop
}

// localDeliver delivers a message sent on the loopback connection (Ceph's local_delivery).
func (q *dispatchQueue) localDeliver(c *Connection, msg *Message) {
	q.center.Post(func() {
		msg.Header.Src = q.m.cfg.Name
		q.m.trace(TraceEvent{Kind: TraceDeliver, Conn: c, Msg: msg})
		q.m.deliver(c, msg, proto.Reservation{})
	})
}

// drainAndStop dispatches what is left and stops the messenger's centers (end of shutdown).
func (q *dispatchQueue) drainAndStop() {
	for {
		q.mu.Lock()
		it, ok := q.pop()
		q.mu.Unlock()
		if !ok {
			break
		}
		q.dispatch(it)
	}
	q.m.stopCenters()
}

// deliver takes a message received in order: fast dispatch if a dispatcher wants it, else
// the dispatch queue.
func (m *Messenger) deliver(c *Connection, msg *Message, res proto.Reservation) {
	_, fast := m.dispatcherList()
	for _, d := range fast {
		d.FastPreprocess(c, msg)
	}
	for _, d := range fast {
		if d.CanFastDispatch(msg) {
			m.trace(TraceEvent{Kind: TraceDispatch, Conn: c, Msg: msg, Fast: true})
			d.FastDispatch(c, msg)
			res.Release()
			return
		}
	}
	m.dq.enqueue(c, msg, res)
}

// dispatchNormal offers msg to each dispatcher until one consumes it.
func (m *Messenger) dispatchNormal(c *Connection, msg *Message) {
	all, _ := m.dispatcherList()
	m.trace(TraceEvent{Kind: TraceDispatch, Conn: c, Msg: msg})
	for _, d := range all {
		if d.Dispatch(c, msg) {
			return
		}
	}
	m.log.Debug("unhandled message", "conn", c.id, "type", msg.Header.Type)
}

// connEvent reports a connection event: the fast variants synchronously, then queued.
func (m *Messenger) connEvent(c *Connection, kind proto.EventKind) {
	_, fast := m.dispatcherList()
	switch kind {
	case proto.EventConnect:
		for _, d := range fast {
			d.HandleFastConnect(c)
		}
	case proto.EventAccept:
		for _, d := range fast {
			d.HandleFastAccept(c)
		}
	}
	m.dq.queueEvent(c, kind)
}

// deliverEvent calls the dispatchers for a queued connection event.
func (m *Messenger) deliverEvent(c *Connection, kind proto.EventKind) {
	all, _ := m.dispatcherList()
	for _, d := range all {
		switch kind {
		case proto.EventConnect:
			d.HandleConnect(c)
		case proto.EventAccept:
			d.HandleAccept(c)
		case proto.EventRemoteReset:
			d.HandleRemoteReset(c)
		case proto.EventReset:
			if d.HandleReset(c) {
				return
			}
		case proto.EventRefused:
			if d.HandleRefused(c) {
				return
			}
		}
	}
}
