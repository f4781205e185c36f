package msgr

// prioQueue is Ceph's PrioritizedQueue as the DispatchQueue uses it (msgr1-protocol.md §8.4).
//
// Items carry a class (the connection id; 0 for connection events) and a priority. Strict
// items (priority >= 64 in the DispatchQueue) go highest priority first. The others share
// tokens: each priority has a bucket, refilled after every dequeue in proportion to its
// priority; the lowest priority whose front item costs less than its tokens goes next, and when
// none can pay, the highest priority goes anyway. Within one priority, classes take turns
// (round-robin by class id), so one busy connection cannot starve the others; within a class,
// items stay in order.
//
// Nothing here iterates a map: classes and buckets are slices kept sorted, so the order of
// dispatch is a function of the order of enqueues alone.
type prioQueue[T any] struct {
	strict    []*subQueue[T] // by priority, descending
	normal    []*subQueue[T] // by priority, ascending (the order Ceph tries buckets in)
	totalPrio uint64         // sum of the priorities of the normal buckets
	maxTokens uint64         // ms_pq_max_tokens_per_priority
	minCost   uint64         // ms_pq_min_cost
	n         int
	spare     []*subQueue[T] // emptied priorities, reused (no allocation per burst of items)
}

// Ceph's defaults for the dispatch queue.
const (
	pqMaxTokensPerPriority = 16 << 20 // ms_pq_max_tokens_per_priority
	pqMinCost              = 64 << 10 // ms_pq_min_cost
)

func newPrioQueue[T any](maxTokens, minCost uint64) *prioQueue[T] {
	return &prioQueue[T]{maxTokens: maxTokens, minCost: minCost}
}

// subQueue is one priority: its classes in id order, the class whose turn it is, its tokens.
type subQueue[T any] struct {
	prio    uint16
	tokens  uint64
	classes []pqClass[T]
	cur     int
	size    int
	spare   [][]pqItem[T] // item arrays of emptied classes, reused
}

// pqClass is one class's items: items[head:] are queued.
type pqClass[T any] struct {
	id    uint64
	items []pqItem[T]
	head  int
}

// newSub returns an empty subQueue for prio, reusing an emptied one.
func (q *prioQueue[T]) newSub(prio uint16) *subQueue[T] {
	if n := len(q.spare); n > 0 {
		sq := q.spare[n-1]
		q.spare[n-1] = nil
		q.spare = q.spare[:n-1]
		sq.prio, sq.tokens, sq.cur, sq.size = prio, 0, 0, 0
		return sq
	}
	return &subQueue[T]{prio: prio}
}

// recycle keeps an emptied subQueue for newSub.
func (q *prioQueue[T]) recycle(sq *subQueue[T]) {
	if len(q.spare) < 8 {
		q.spare = append(q.spare, sq)
	}
}

type pqItem[T any] struct {
	cost uint64
	item T
}

// Len is the number of queued items.
func (q *prioQueue[T]) Len() int { return q.n }

// EnqueueStrict queues item at a strict priority.
func (q *prioQueue[T]) EnqueueStrict(class uint64, prio uint16, item T) {
	i := 0
	for i < len(q.strict) && q.strict[i].prio > prio {
		i++
	}
	if i == len(q.strict) || q.strict[i].prio != prio {
		q.strict = insertAt(q.strict, i, q.newSub(prio))
	}
	q.strict[i].push(class, 0, item)
	q.n++
}

// Enqueue queues item at a token-shared priority with the given cost (clamped to
// [minCost, maxTokens], as Ceph does).
func (q *prioQueue[T]) Enqueue(class uint64, prio uint16, cost uint64, item T) {
	cost = min(max(cost, q.minCost), q.maxTokens)
	i := 0
	for i < len(q.normal) && q.normal[i].prio < prio {
		i++
	}
	if i == len(q.normal) || q.normal[i].prio != prio {
		q.normal = insertAt(q.normal, i, q.newSub(prio))
		q.totalPrio += uint64(prio)
	}
	q.normal[i].push(class, cost, item)
	q.n++
}

// Dequeue removes the next item.
func (q *prioQueue[T]) Dequeue() (T, bool) {
	var zero T
	if len(q.strict) > 0 {
		sq := q.strict[0]
		it := sq.pop()
		if sq.size == 0 {
			q.strict = deleteAt(q.strict, 0)
			q.recycle(sq)
		}
		q.n--
		return it.item, true
	}
	if len(q.normal) == 0 {
		return zero, false
	}
	k := len(q.normal) - 1 // nobody can pay: the highest priority goes
	for i, sq := range q.normal {
		if sq.front().cost < sq.tokens {
			k = i
			break
		}
	}
	sq := q.normal[k]
	it := sq.pop()
	sq.tokens -= min(sq.tokens, it.cost)
	if sq.size == 0 {
		q.normal = deleteAt(q.normal, k)
		q.totalPrio -= uint64(sq.prio)
		q.recycle(sq)
	}
	q.distribute(it.cost)
	q.n--
	return it.item, true
}

// distribute refills every bucket in proportion to its priority after cost was spent.
func (q *prioQueue[T]) distribute(cost uint64) {
	for _, sq := range q.normal {
		sq.tokens = min(sq.tokens+uint64(sq.prio)*cost/q.totalPrio+1, q.maxTokens)
	}
}

// RemoveClass drops every item of class and returns them (Ceph's remove_by_class).
func (q *prioQueue[T]) RemoveClass(class uint64) []T {
	var out []T
	q.strict, out = q.removeClassFrom(q.strict, class, out, nil)
	q.normal, out = q.removeClassFrom(q.normal, class, out, &q.totalPrio)
	q.n -= len(out)
	return out
}

func (q *prioQueue[T]) removeClassFrom(sqs []*subQueue[T], class uint64, out []T, total *uint64) ([]*subQueue[T], []T) {
	kept := sqs[:0]
	for _, sq := range sqs {
		out = sq.removeClass(class, out)
		if sq.size > 0 {
			kept = append(kept, sq)
			continue
		}
		if total != nil {
			*total -= uint64(sq.prio)
		}
		q.recycle(sq)
	}
	clear(sqs[len(kept):])
	return kept, out
}

func (sq *subQueue[T]) push(class, cost uint64, item T) {
	j := 0
	for j < len(sq.classes) && sq.classes[j].id < class {
		j++
	}
	if j == len(sq.classes) || sq.classes[j].id != class {
		if j <= sq.cur && len(sq.classes) > 0 {
			sq.cur++ // keep the turn with the class that had it
		}
		var items []pqItem[T]
		if n := len(sq.spare); n > 0 {
			items = sq.spare[n-1]
			sq.spare[n-1] = nil
			sq.spare = sq.spare[:n-1]
		}
		sq.classes = insertAt(sq.classes, j, pqClass[T]{id: class, items: items})
	}
	c := &sq.classes[j]
	if c.head > 0 && len(c.items) == cap(c.items) {
		// full, with popped slots in front: move the queued items down instead of growing
		n := copy(c.items, c.items[c.head:])
		clear(c.items[n:])
		c.items, c.head = c.items[:n], 0
	}
	c.items = append(c.items, pqItem[T]{cost: cost, item: item})
	sq.size++
}

func (sq *subQueue[T]) front() pqItem[T] {
	c := &sq.classes[sq.cur]
	return c.items[c.head]
}

// retire keeps an emptied class's item array for the next class (its items are cleared).
func (sq *subQueue[T]) retire(items []pqItem[T]) {
	if len(sq.spare) < 8 && cap(items) > 0 {
		clear(items)
		sq.spare = append(sq.spare, items[:0])
	}
}

// pop takes the front item of the class whose turn it is and passes the turn on.
func (sq *subQueue[T]) pop() pqItem[T] {
	c := &sq.classes[sq.cur]
	it := c.items[c.head]
	c.items[c.head] = pqItem[T]{}
	c.head++
	if c.head == len(c.items) {
		sq.retire(c.items)
		sq.classes = deleteAt(sq.classes, sq.cur)
	} else {
		sq.cur++
	}
	if sq.cur >= len(sq.classes) {
		sq.cur = 0
	}
	sq.size--
	return it
}

func (sq *subQueue[T]) removeClass(class uint64, out []T) []T {
	for j := range sq.classes {
		if sq.classes[j].id != class {
			continue
		}
		c := sq.classes[j]
		for _, it := range c.items[c.head:] {
			out = append(out, it.item)
		}
		sq.size -= len(c.items) - c.head
		sq.retire(c.items)
		sq.classes = deleteAt(sq.classes, j)
		if j < sq.cur {
			sq.cur--
		}
		if sq.cur >= len(sq.classes) {
			sq.cur = 0
		}
		break
	}
	return out
}

// deleteAt removes s[i], keeping s's array (its last slot cleared).
func deleteAt[E any](s []E, i int) []E {
	var zero E
	copy(s[i:], s[i+1:])
	s[len(s)-1] = zero
	return s[:len(s)-1]
}

func insertAt[E any](s []E, i int, e E) []E {
	var zero E
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = e
	return s
}
