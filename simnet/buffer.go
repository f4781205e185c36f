package simnet

import (
	"sync"
	"time"
)

// chunkSize is the size of one pooled buffer chunk. Socket buffers are chains of chunks, so
// an idle connection holds no memory and a busy one holds about what it has in flight.
const chunkSize = 16 << 10

// chunk is one block of a byteQueue: bytes b[r:w] are queued. hw is at or above every w the
// chunk had when last put back in the pool (the bytes past it were never written).
type chunk struct {
	r, w, hw int
	b        [chunkSize]byte
}

// chunkPool recycles chunks across all queues of a network, so that steady-state traffic
// allocates nothing.
type chunkPool struct {
	free []*chunk
}

func (p *chunkPool) get() *chunk {
	n := len(p.free)
	if n == 0 {
		if c, ok := spareChunks.Get().(*chunk); ok {
			// As new: which run's bytes it held must not matter even to a bug. Only the
			// bytes below the high-water mark were ever written.
			clear(c.b[:c.hw])
			c.r, c.w, c.hw = 0, 0, 0
			return c
		}
		return new(chunk)
	}
	c := p.free[n-1]
	p.free[n-1] = nil
	p.free = p.free[:n-1]
	return c
}

func (p *chunkPool) put(c *chunk) {
	c.hw = max(c.hw, c.w)
	c.r, c.w = 0, 0
	p.free = append(p.free, c)
}

// spareChunks holds the free chunks of networks that are done (Network.Release) for the
// networks made later in the process: a simulation builds one network per run, hundreds per
// second, and each allocated its chunks anew. A chunk's bytes past w are never read, but one
// taken from here is zeroed all the same: a run must not depend on which runs came before it
// in the process, even through a bug that reads stale bytes (zeroing costs what new did; what
// is saved is the garbage). The garbage collector empties the pool when idle.
var spareChunks sync.Pool

// release gives every free chunk to spareChunks.
func (p *chunkPool) release() {
	for i, c := range p.free {
		spareChunks.Put(c)
		p.free[i] = nil
	}
	p.free = p.free[:0]
}

// byteQueue is a FIFO of bytes kept in pooled chunks. Drained chunks go back to the pool at
// once, so no reference to delivered data is kept.
type byteQueue struct {
	chunks []*chunk
	n      int
	inline [2]*chunk // the first backing array of chunks: most queues never need more
}

// write appends all of p.
func (q *byteQueue) write(p []byte, pool *chunkPool) {
	for len(p) > 0 {
		c := q.tail(pool)
		m := copy(c.b[c.w:], p)
		c.w += m
		q.n += m
		p = p[m:]
	}
}

// writev appends the first k bytes of bufs (k must not exceed their total length).
func (q *byteQueue) writev(bufs [][]byte, k int, pool *chunkPool) {
	for _, b := range bufs {
		if k == 0 {
			return
		}
		m := min(len(b), k)
		q.write(b[:m], pool)
		k -= m
	}
}

// tail returns a chunk with room at the end of the queue, taking one from the pool if needed.
func (q *byteQueue) tail(pool *chunkPool) *chunk {
	if k := len(q.chunks); k > 0 && q.chunks[k-1].w < chunkSize {
		return q.chunks[k-1]
	}
	c := pool.get()
	if q.chunks == nil {
		q.chunks = q.inline[:0]
	}
	q.chunks = append(q.chunks, c)
	return c
}

// head returns the first contiguous run of queued bytes, at most limit long. The queue must
// not be empty.
func (q *byteQueue) head(limit int) []byte {
	c := q.chunks[0]
	end := min(c.w, c.r+limit)
	return c.b[c.r:end]
}

// at returns the i-th queued byte (i must be less than the queued length).
func (q *byteQueue) at(i int) *byte {
	for _, c := range q.chunks {
		if k := c.w - c.r; i >= k {
			i -= k
			continue
		}
		return &c.b[c.r+i]
	}
	panic("simnet: byteQueue.at out of range")
}

// discard drops the first k bytes (k must not exceed the queued length).
func (q *byteQueue) discard(k int, pool *chunkPool) {
	for k > 0 {
		c := q.chunks[0]
		m := min(k, c.w-c.r)
		c.r += m
		q.n -= m
		k -= m
		if c.r == c.w {
			q.popChunk(pool)
		}
	}
}

func (q *byteQueue) popChunk(pool *chunkPool) {
	c := q.chunks[0]
	last := len(q.chunks) - 1
	copy(q.chunks, q.chunks[1:])
	q.chunks[last] = nil
	q.chunks = q.chunks[:last]
	pool.put(c)
}

// read moves up to len(p) bytes into p and returns how many it moved.
func (q *byteQueue) read(p []byte, pool *chunkPool) int {
	done := 0
	for done < len(p) && q.n > 0 {
		s := q.head(len(p) - done)
		copy(p[done:], s)
		done += len(s)
		q.discard(len(s), pool)
	}
	return done
}

// truncate drops everything after the first n bytes (n must not exceed the queued length).
func (q *byteQueue) truncate(n int, pool *chunkPool) {
	i := 0
	for left := n; left > 0; i++ {
		c := q.chunks[i]
		if k := c.w - c.r; left < k {
			c.hw = max(c.hw, c.w)
			c.w = c.r + left
		}
		left -= min(left, c.w-c.r)
	}
	for j := i; j < len(q.chunks); j++ {
		pool.put(q.chunks[j])
		q.chunks[j] = nil
	}
	q.chunks = q.chunks[:i]
	q.n = n
}

// seg is a run of bytes written at one virtual time: they become deliverable at due.
type seg struct {
	due time.Duration
	n   int
}

// segQueue records when the bytes of a byteQueue become deliverable. Due times never
// decrease along the queue, so the bytes that are ready form a prefix; and virtual time never
// goes back, so that prefix only grows until consumed. The queue remembers it (segments h..r-1,
// rn bytes), so finding the ready bytes costs O(1) amortized even when a stream delivers one
// byte at a time out of thousands of segments.
type segQueue struct {
	inline [4]seg // the first backing array of s
	s      []seg
	h      int // index of the head segment
	r      int // segments before r are known to be due
	rn     int // bytes in segments h..r-1 (after what consume took from the head)
}

// compactMin is how many consumed segments may pile up before the queue is compacted.
const compactMin = 64

// push records n more bytes due at due, which must not be earlier than the last segment's.
// Writes due at the same time share one segment.
func (q *segQueue) push(due time.Duration, n int) {
	if last := len(q.s) - 1; last >= q.h && q.s[last].due == due {
		q.s[last].n += n
		if last < q.r {
			q.rn += n // Joined a segment known to be due.
		}
		return
	}
	if q.s == nil {
		q.s = q.inline[:0]
	}
	q.s = append(q.s, seg{due: due, n: n})
}

// headDue is the due time of the first queued byte. The queue must not be empty.
func (q *segQueue) headDue() time.Duration { return q.s[q.h].due }

// ready returns how many bytes are due at now. now must not be earlier than in previous
// calls (virtual time is monotonic).
func (q *segQueue) ready(now time.Duration) int {
	for q.r < len(q.s) && q.s[q.r].due <= now {
		q.rn += q.s[q.r].n
		q.r++
	}
	return q.rn
}

// consume drops the first k bytes, which must be ready (k must not exceed what ready
// returned).
func (q *segQueue) consume(k int) {
	q.rn -= k
	for k > 0 {
		s := &q.s[q.h]
		if s.n > k {
			s.n -= k
			break
		}
		k -= s.n
		q.h++
	}
	q.compact()
}

func (q *segQueue) compact() {
	switch {
	case q.h == len(q.s):
		q.s = q.s[:0]
		q.h, q.r = 0, 0
	case q.h >= compactMin && 2*q.h >= len(q.s):
		n := copy(q.s, q.s[q.h:])
		q.s = q.s[:n]
		q.r -= q.h
		q.h = 0
	}
}

func (q *segQueue) clear() {
	q.s = q.s[:0]
	q.h, q.r, q.rn = 0, 0, 0
}
