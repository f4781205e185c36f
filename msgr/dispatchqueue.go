package msgr

import (
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
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
// connection events, delivered one at a time on the dispatch center, in the order of Ceph's
// PrioritizedQueue (pqueue.go): priority >= 64 strict (events at 255), lower priorities
// sharing tokens by priority, and within a priority connections taking turns.
type dispatchQueue struct {
	m      *Messenger
	center *event.Center

	mu       rankedMutex
	pq       prioQueue[dqItem]
	n        int
	posted   bool
	stopping bool   // guarded by m.mu
	drained  bool   // the final drain ran (touched only on the dispatch center)
	runFn    func() // q.run, bound once (a method value allocates at every post)
}

// eventClass is the class connection events are queued under (Ceph queues them under id 0,
// which discard_queue never removes).
const eventClass = 0

// initDispatchQueue sets up the zero queue q in place (it lives in its Messenger).
func initDispatchQueue(q *dispatchQueue, m *Messenger, c *event.Center) *dispatchQueue {
	q.m, q.center = m, c
	q.pq.maxTokens, q.pq.minCost = pqMaxTokensPerPriority, pqMinCost
	q.mu.rank = rankDispatch
	q.runFn = q.run
	return q
}

// enqueue queues a received message: strict at priority >= 64, else with its data length as
// cost (Ceph's Message::get_cost).
func (q *dispatchQueue) enqueue(c *Connection, msg *Message, res proto.Reservation) {
	it := dqItem{conn: c, msg: msg, res: res}
	prio := msg.Header.Priority
	q.mu.Lock()
	if prio >= wire.PrioLow {
		q.pq.EnqueueStrict(c.id, prio, it)
	} else {
		q.pq.Enqueue(c.id, prio, uint64(msg.Header.DataLen), it)
	}
	q.pushedLocked()
}

// queueEvent queues a connection event at the highest priority.
func (q *dispatchQueue) queueEvent(c *Connection, kind proto.EventKind) {
	q.m.trace(TraceEvent{Kind: TraceConnEvent, Conn: c, Event: kind})
	if int(kind) < len(q.m.counters.events) {
		q.m.counters.events[kind].Add(1)
	}
	q.mu.Lock()
	q.pq.EnqueueStrict(eventClass, wire.PrioHighest, dqItem{conn: c, event: kind})
	q.pushedLocked()
}

// pushedLocked counts a queued item, releases q.mu and makes sure a run is posted.
func (q *dispatchQueue) pushedLocked() {
	q.n++
	post := !q.posted
	q.posted = true
	q.mu.Unlock()
	if post {
		q.center.Post(q.runFn)
	}
}

// pop removes the next item; q.mu is held.
func (q *dispatchQueue) pop() (dqItem, bool) {
	it, ok := q.pq.Dequeue()
	if ok {
		q.n--
	}
	return it, ok
}

// run dispatches a bounded batch, then re-posts itself while items remain.
func (q *dispatchQueue) run() {
	for i := 0; i < maxDispatchPerStep; i++ {
		q.mu.Lock()
		it, ok := q.pop()
		if !ok {
			// Nothing left to pop: settle posted under the same lock (not another).
			q.posted = q.n > 0
			more := q.posted
			q.mu.Unlock()
			if more {
				q.center.Post(q.runFn)
			}
			return
		}
		q.mu.Unlock()
		q.dispatch(it)
	}
	q.mu.Lock()
	more := q.n > 0
	q.posted = more
	q.mu.Unlock()
	if more {
		q.center.Post(q.runFn)
	}
}

func (q *dispatchQueue) dispatch(it dqItem) {
	if it.msg == nil {
		q.maybeDelayEvent()
		q.m.deliverEvent(it.conn, it.event)
		return
	}
	q.m.dispatchNormal(it.conn, it.msg)
	it.res.Release()
	if canaryDoubleRelease() {
		it.res.Release()
	}
}

// maybeDelayEvent is Ceph's DispatchQueue delay before an event: with internal delays
// injected, it happens with the dispatch delay probability (InjectDelay.Probability).
func (q *dispatchQueue) maybeDelayEvent() {
	inj := q.m.cfg.InjectDelay
	if q.m.delayer == nil || q.m.delayer.InternalDelays() <= 0 || inj == nil || !q.center.Rand().Chance(inj.Probability) {
		return
	}
	q.m.injectDelay(netio.DelayDispatchEvent)
}

// discard drops c's queued messages (Ceph's discard_queue) and releases their throttle
// units. Events stay: dispatchers must still hear of resets.
func (q *dispatchQueue) discard(c *Connection) {
	q.mu.Lock()
	drop := q.pq.RemoveClass(c.id)
	q.n -= len(drop)
	q.mu.Unlock()
	for _, it := range drop {
		it.res.Release()
	}
}

// localDeliver delivers a message sent on the loopback connection (Ceph's local_delivery).
func (q *dispatchQueue) localDeliver(c *Connection, msg *Message) {
	q.center.Post(func() {
		if q.drained {
			// Sent while the messenger shut down, after the final drain: it would stay queued.
			q.m.trace(TraceEvent{Kind: TraceDrop, Conn: c, Msg: msg})
			return
		}
		msg.Header.Src = q.m.cfg.Name
		q.m.trace(TraceEvent{Kind: TraceDeliver, Conn: c, Msg: msg})
		q.m.deliver(c, msg, &proto.Reservation{})
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
	q.drained = true
	q.m.stopCenters()
}

// deliver takes a message received in order, past delay injection: fast dispatch if a
// dispatcher wants it, else the dispatch queue.
func (m *Messenger) deliver(c *Connection, msg *Message, res *proto.Reservation) {
	u := upcall{kind: upDispatch, msg: msg, res: *res}
	m.perform(c, &u)
}

// perform carries out upcall u of connection c: a delivery (held back by delay injection, or
// dispatched), or a connection event. A received message without delay injection (none
// configured, none held) is dispatched here at once, without deliverMaybeDelayed and deliver
// between: the chain of three calls was ~80 instructions per received message (BENCHMARKS.md,
// "The delivery path per message").
func (m *Messenger) perform(c *Connection, u *upcall) {
	switch u.kind {
	case upDeliver:
		if len(c.held) != 0 || m.cfg.InjectDelay != nil {
			c.deliverMaybeDelayed(u.msg, &u.res)
			return
		}
	case upEvent:
		if u.event == proto.EventReset || u.event == proto.EventRemoteReset {
			c.flushHeld()
		}
		m.connEvent(c, u.event)
		return
	}
	msg, res := u.msg, &u.res
	var fast []Dispatcher
	if s := m.dispatch.Load(); s != nil {
		fast = s.fast
	}
	var d Dispatcher
	if len(fast) == 1 { // pickFast for one fast dispatcher, without the loops' overhead
		d = fast[0]
		d.FastPreprocess(c, msg)
		if !d.CanFastDispatch(msg) {
			d = nil
		}
	} else {
		d = pickFast(fast, c, msg)
	}
	if d == nil {
		m.dq.enqueue(c, msg, *res)
		return
	}
	if m.cfg.Tracer != nil {
		m.trace(TraceEvent{Kind: TraceDispatch, Conn: c, Msg: msg, Fast: true})
	}
	d.FastDispatch(c, msg)
	// A message that reserved nothing (no throttle counts its messages, and no bytes) skips
	// the call.
	if res.Messages|res.Bytes|res.Dispatch != 0 && !canaryThrottleLeak() {
		releaseReservation(res)
	}
	if canaryDoubleRelease() {
		releaseReservation(res)
	}
}

// pickFast lets every fast dispatcher preprocess msg, then returns the first that wants to
// fast-dispatch it, or nil.
func pickFast(fast []Dispatcher, c *Connection, msg *Message) Dispatcher {
	for _, d := range fast {
		d.FastPreprocess(c, msg)
	}
	for _, d := range fast {
		if d.CanFastDispatch(msg) {
			return d
		}
	}
	return nil
}

// releaseReservation is proto.Reservation.Release by address: a fast-dispatched message of
// zero bytes reserved nothing but its message count, and the value method copied the whole
// reservation twice per message to find that out.
func releaseReservation(r *proto.Reservation) {
	if t := r.From.Messages; t != nil && r.Messages > 0 {
		t.Put(r.Messages)
	}
	if t := r.From.Bytes; t != nil && r.Bytes > 0 {
		t.Put(r.Bytes)
	}
	if t := r.From.Dispatch; t != nil && r.Dispatch > 0 {
		t.Put(r.Dispatch)
	}
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
