package msgr

import "sync"

// Buffers outlive the messenger that allocated them: one that shuts down hands the free lists
// of its centers (bufCache) to spareBuffers, and a bufCache that has none of a size takes
// one from there before allocating. A simulation builds and shuts down messengers by the
// hundred per second (every run, every restart), and each allocated its connections'
// prefetch buffers and output arenas anew; a long-lived process keeps a messenger and never
// notices. The spare lists are sync.Pools: the garbage collector empties them when idle.
var spareBuffers spareLists

// spareLists are pools of buffers, one per size (the few sizes connections ask for).
type spareLists struct {
	mu    sync.Mutex
	sizes []int
	pools []*sync.Pool
}

// maxSpareSizes bounds the sizes kept (a bufCache keeps at most 4 itself).
const maxSpareSizes = 8

// pool returns the pool of buffers of length n (creating it when create is set), or nil.
func (s *spareLists) pool(n int, create bool) *sync.Pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, size := range s.sizes {
		if size == n {
			return s.pools[i]
		}
	}
	if !create || len(s.sizes) >= maxSpareSizes {
		return nil
	}
	p := &sync.Pool{}
	s.sizes, s.pools = append(s.sizes, n), append(s.pools, p)
	return p
}

// get returns a buffer of length n, zeroed: a spare one, or a new one. Users write before
// they read, but a simulated run must not depend on what an earlier run left in a buffer,
// even through a bug that reads stale bytes: so a spare buffer is cleared as make's would be.
func (s *spareLists) get(n int) []byte {
	if p := s.pool(n, false); p != nil {
		if b, ok := p.Get().(*[]byte); ok {
			clear(*b) // as new: a run must not depend on the runs before it, even through a bug
			return *b
		}
	}
	return make([]byte, n)
}

// put keeps bufs (all of one length) for later messengers.
func (s *spareLists) put(bufs [][]byte) {
	if len(bufs) == 0 {
		return
	}
	p := s.pool(len(bufs[0]), true)
	if p == nil {
		return
	}
	for _, b := range bufs {
		p.Put(&b)
	}
}

// recycleBuffers gives the free lists of the messenger's centers to spareBuffers. It runs
// once every worker center stopped: no connection of this messenger runs any more, and the
// buffers in the free lists are nobody's.
func (m *Messenger) recycleBuffers() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.bufCaches {
		m.bufCaches[i].recycle()
	}
}

// recycle empties the cache into spareBuffers.
func (b *bufCache) recycle() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.free {
		spareBuffers.put(b.free[i])
		clear(b.free[i])
		b.free[i] = b.free[i][:0]
	}
}
