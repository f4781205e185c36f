package proto

import "github.com/msgrsim/msgrsim/msgr/wire"

// fifo is a slice-backed queue that reuses its storage.
type fifo struct {
	items []*wire.Message
	head  int
}

func (q *fifo) len() int { return len(q.items) - q.head }

// push appends m. When the slice is full and at least half of it is already popped, the
// live items move to the front first, so a queue that never drains (a sent list under
// steady traffic) stays within twice its length.
func (q *fifo) push(m *wire.Message) {
	if q.head > 0 && len(q.items) == cap(q.items) && q.head >= len(q.items)/2 {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	if q.items == nil {
		// A queue that is used at all soon holds a few messages: start at 8, not 1, 2, 4,
		// 8 (a simulation's connections carry a few dozen messages each).
		q.items = make([]*wire.Message, 0, minFifoCap)
	}
	q.items = append(q.items, m)
}

// pushAll appends ms in order, as push would one by one: the live items move to the front
// first when ms do not fit and at least half of the slice is already popped. A few are
// pushed one by one (a ping-pong's one message: the bulk append is a runtime call,
// typedslicecopy, of ~40 instructions).
func (q *fifo) pushAll(ms []*wire.Message) {
	if len(ms) <= 4 {
		for i := 0; i < len(ms); i++ {
			q.push(ms[i])
		}
		return
	}
	if q.head > 0 && len(q.items)+len(ms) > cap(q.items) && q.head >= len(q.items)/2 {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	if q.items == nil {
		q.items = make([]*wire.Message, 0, max(minFifoCap, len(ms)))
	}
	q.items = append(q.items, ms...)
}

// minFifoCap is the capacity a fifo starts at.
const minFifoCap = 8

// live is the queued items, oldest first (valid until the next push or pop).
func (q *fifo) live() []*wire.Message { return q.items[q.head:] }

func (q *fifo) peek() *wire.Message { return q.items[q.head] }

// drop forgets the n oldest items (n <= len()): one by one up to 4 (an ACK of a ping-pong
// covers one message, and clear's runtime call cost ~44 instructions for it; an index loop,
// since the compiler turns the range form back into that call), with clear beyond.
func (q *fifo) drop(n int) {
	items, h := q.items, q.head+n // (locals: the stores below do not make the compiler reload q)
	if n > 4 {
		clear(items[q.head:h])
	} else {
		for i := q.head; i < h && i < len(items); i++ {
			items[i] = nil
		}
	}
	if h == len(items) {
		q.items, h = items[:0], 0
	}
	q.head = h
}

// each calls f for every queued item, oldest first.
func (q *fifo) each(f func(*wire.Message)) {
	for _, m := range q.items[q.head:] {
		f(m)
	}
}

func (q *fifo) clear() {
	clear(q.items)
	q.items, q.head = q.items[:0], 0
}

type prioQueue struct {
	prio uint16
	fifo
}

// outQueue holds messages waiting to be written: first the requeued ones (unacknowledged
// messages of a previous socket, in their original order), then by priority, highest first,
// FIFO within a priority. Ceph pushes requeued messages to the front of its priority-255 queue;
// keeping them apart gives the same write order without Ceph's quirk Q4 (user messages at
// priority 255 changing how discard_requeued_up_to computes out_seq).
type outQueue struct {
	requeued fifo
	byPrio   []prioQueue // sorted by priority, descending
	n        int
}

func (q *outQueue) len() int { return q.n }

func (q *outQueue) push(m *wire.Message) {
	if len(q.byPrio) > 0 && q.byPrio[0].prio == m.Header.Priority {
		q.byPrio[0].push(m) // the common case: every message at the highest priority seen
		q.n++
		return
	}
	q.pushPrio(m)
}

// pushAll queues ms in order, as push would one by one: in one append when they all have the
// first queue's priority (the common case: a dispatcher's replies at the default priority).
func (q *outQueue) pushAll(ms []*wire.Message) {
	if len(q.byPrio) > 0 {
		p, same := q.byPrio[0].prio, true
		for _, m := range ms {
			if m.Header.Priority != p {
				same = false
				break
			}
		}
		if same {
			q.byPrio[0].pushAll(ms)
			q.n += len(ms)
			return
		}
	}
	for _, m := range ms {
		q.push(m)
	}
}

// pushPrio is push to a queue other than the first, creating it if needed.
func (q *outQueue) pushPrio(m *wire.Message) {
	p := m.Header.Priority
	i := 0
	for i < len(q.byPrio) && q.byPrio[i].prio > p {
		i++
	}
	if i == len(q.byPrio) || q.byPrio[i].prio != p {
		q.byPrio = append(q.byPrio, prioQueue{})
		copy(q.byPrio[i+1:], q.byPrio[i:])
		q.byPrio[i] = prioQueue{prio: p}
	}
	q.byPrio[i].push(m)
	q.n++
}

// first is the queue pop takes its next message from: the requeued messages, else the
// highest priority's non-empty queue. The outQueue holds messages (len() > 0).
func (q *outQueue) first() *fifo {
	if q.requeued.len() > 0 {
		return &q.requeued
	}
	for i := range q.byPrio {
		if q.byPrio[i].len() > 0 {
			return &q.byPrio[i].fifo
		}
	}
	panic("proto: outQueue.first on an empty queue")
}

// pop removes the next message to write, or returns nil: first's oldest. (fillOutput takes
// first's messages in runs; the queue's tests pin the order through pop.)
func (q *outQueue) pop() *wire.Message {
	if q.n == 0 {
		return nil
	}
	f := q.first()
	m := f.peek()
	f.drop(1)
	q.n--
	return m
}

// requeue puts previously sent messages back in front, keeping their order.
func (q *outQueue) requeue(ms []*wire.Message) {
	if len(ms) == 0 {
		return
	}
	rest := q.requeued.items[q.requeued.head:]
	items := make([]*wire.Message, 0, len(ms)+len(rest))
	items = append(items, ms...)
	items = append(items, rest...)
	q.requeued.items, q.requeued.head = items, 0
	q.n += len(ms)
}

// discardRequeuedUpTo drops requeued messages the peer already received (0 < seq <= acked),
// telling obs (if not nil) of them, and returns how many it dropped.
func (q *outQueue) discardRequeuedUpTo(acked uint64, obs AckObserver) int {
	live := q.requeued.live()
	n := 0
	for n < len(live) {
		if seq := live[n].Header.Seq; seq == 0 || seq > acked {
			break
		}
		n++
	}
	if n == 0 {
		return 0
	}
	if obs != nil {
		obs.Acked(live[:n])
	}
	q.requeued.drop(n)
	q.n -= n
	return n
}

// each calls f for every queued message: the requeued ones, then by priority.
func (q *outQueue) each(f func(*wire.Message)) {
	q.requeued.each(f)
	for i := range q.byPrio {
		q.byPrio[i].each(f)
	}
}

func (q *outQueue) clear() {
	q.requeued.clear()
	for i := range q.byPrio {
		q.byPrio[i].clear()
	}
	q.n = 0
}
