package msgr

import (
	"sync"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

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
	lists [][][]byte // emptied free lists of retired bufCaches (capacity maxFreeBuffers), for new ones
}

// maxSpareLists bounds spareLists.lists.
const maxSpareLists = 64

// A sync.Pool holds pointers: a slice put in one is boxed in a *[]byte. The boxes of buffers
// taken out are kept for the next put (boxing anew allocated once per buffer and run).
var spareBoxes boxStack

type boxStack struct {
	mu    sync.Mutex
	boxes []*[]byte
}

// maxSpareBoxes bounds the kept boxes.
const maxSpareBoxes = 256

// box returns b boxed.
func (s *boxStack) box(b []byte) *[]byte {
	s.mu.Lock()
	var p *[]byte
	if k := len(s.boxes) - 1; k >= 0 {
		p, s.boxes[k] = s.boxes[k], nil
		s.boxes = s.boxes[:k]
	}
	s.mu.Unlock()
	if p == nil {
		p = new([]byte) // not &b: b would move to the heap on every call
	}
	*p = b
	return p
}

// unbox returns the buffer in p and keeps p for a later box.
func (s *boxStack) unbox(p *[]byte) []byte {
	b := *p
	*p = nil
	s.mu.Lock()
	if len(s.boxes) < maxSpareBoxes {
		s.boxes = append(s.boxes, p)
	}
	s.mu.Unlock()
	return b
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
		if bp, ok := p.Get().(*[]byte); ok {
			b := spareBoxes.unbox(bp)
			clear(b) // as new: a run must not depend on the runs before it, even through a bug
			return b
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
		p.Put(spareBoxes.box(b))
	}
}

// list returns an empty free list of capacity maxFreeBuffers: a retired one, or a new one.
func (s *spareLists) list() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return popList(&s.lists, maxFreeBuffers)
}

// popSpare takes the last of the spares in *list under mu, or returns nil if there is none.
func popSpare[T any](mu *sync.Mutex, list *[]*T) *T {
	mu.Lock()
	defer mu.Unlock()
	return popLast(list)
}

// popLast takes the last of *list (its slot cleared), or returns nil if there is none.
func popLast[T any](list *[]*T) *T {
	k := len(*list) - 1
	if k < 0 {
		return nil
	}
	v := (*list)[k]
	(*list)[k] = nil
	*list = (*list)[:k]
	return v
}

// keepSpare adds v to the spares in *list under mu, unless max are kept already.
func keepSpare[T any](mu *sync.Mutex, list *[]*T, v *T, max int) {
	mu.Lock()
	if len(*list) < max {
		*list = append(*list, v)
	}
	mu.Unlock()
}

// popList takes the last of lists, or makes an empty list of capacity n if there is none.
func popList[T any](lists *[][]T, n int) []T {
	if k := len(*lists) - 1; k >= 0 {
		l := (*lists)[k]
		(*lists)[k] = nil
		*lists = (*lists)[:k]
		return l
	}
	return make([]T, 0, n)
}

// keepList keeps an emptied free list for a later bufCache.
func (s *spareLists) keepList(l [][]byte) {
	if cap(l) != maxFreeBuffers {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lists) < maxSpareLists {
		s.lists = append(s.lists, l[:0])
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
		m.bufCaches[i].rx.retire()
	}
	m.rxFree.retire()
}

// recycle empties the cache into spareBuffers.
func (b *bufCache) recycle() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.free {
		spareBuffers.put(b.free[i])
		clear(b.free[i])
		spareBuffers.keepList(b.free[i])
		b.free[i] = nil
	}
}

// spareRx keeps, across messengers, what their free lists of released messages (msgFree)
// held when they shut down: the messages, and the section buffers of each size class. A
// FuzzSim run receives a few dozen messages per messenger, each of which allocated its
// sections anew. Only buffers of exactly their class's size are kept, and a buffer taken is
// cleared: one from an earlier run is then indistinguishable from a new one, so that a run
// does not depend on the runs before it. The buffers are in sync.Pools, which the garbage
// collector empties when idle; the messages (small) in a bounded list.
var spareRx rxSpares

type rxSpares struct {
	msgs []*Message            // zero; guarded by mu (a sync.Pool allocated its chains anew after each collection)
	bufs [bufClasses]sync.Pool // *[]byte boxes (spareBoxes) of buffers of capacity 1<<c, length 0

	// The emptied lists of retired free lists, for new ones (a free list allocated one per
	// size class it kept, and one for its messages).
	mu       sync.Mutex
	bufLists [][][]byte
	msgLists [][]*Message
}

// maxSpareRxLists bounds rxSpares.bufLists and msgLists.
const maxSpareRxLists = 64

// bufList returns an empty list for a size class's buffers: a retired one, or a new one.
func (s *rxSpares) bufList() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return popList(&s.bufLists, 8)
}

// msgList returns an empty list for messages: a retired one, or a new one.
func (s *rxSpares) msgList() []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return popList(&s.msgLists, 16)
}

// maxSpareMessages bounds rxSpares.msgs (160 KiB of messages).
const maxSpareMessages = 1024

// keepMessages keeps released messages (zero) for later free lists.
func (s *rxSpares) keepMessages(msgs []*Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.msgs == nil {
		s.msgs = make([]*Message, 0, maxSpareMessages)
	}
	for _, m := range msgs {
		if len(s.msgs) == maxSpareMessages {
			break
		}
		s.msgs = append(s.msgs, m)
	}
}

// keepLists keeps the emptied lists of a retired free list.
func (s *rxSpares) keepLists(bufs [][][]byte, msgs []*Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range bufs {
		if l != nil && len(s.bufLists) < maxSpareRxLists {
			s.bufLists = append(s.bufLists, l[:0])
		}
	}
	if msgs != nil && len(s.msgLists) < maxSpareRxLists {
		s.msgLists = append(s.msgLists, msgs[:0])
	}
}

// message returns a zero message: a spare one, or a new one.
func (s *rxSpares) message() *Message {
	if m := popSpare(&s.mu, &s.msgs); m != nil {
		m.Header, m.Footer = wire.Header{}, wire.Footer{}
		m.Front, m.Middle, m.Data = nil, nil, nil
		return m
	}
	return &Message{}
}

// section returns a spare buffer of class c, cleared, with length 0 and capacity 1<<c, or
// nil.
func (s *rxSpares) section(c int) []byte {
	bp, ok := s.bufs[c].Get().(*[]byte)
	if !ok {
		return nil
	}
	b := spareBoxes.unbox(bp)
	b = b[:cap(b)]
	clear(b) // as new
	return b[:0]
}

// retire empties the free list into spareRx. It runs when the messenger shut down; a
// message released after that stays in the free list (and goes with the messenger).
func (f *msgFree) retire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	retireLists(f.bufs[:], 0, f.msgs)
	f.bytes = 0
	f.bufs, f.msgs = [bufClasses][][]byte{}, nil
}

// retireLists gives a free list's buffers (bufs[i] of size class first+i) and messages to
// spareRx, and the emptied lists with them.
func retireLists(bufs [][][]byte, first int, msgs []*Message) {
	for i := range bufs {
		c := i + first
		for _, b := range bufs[i] {
			if cap(b) == 1<<c {
				spareRx.bufs[c].Put(spareBoxes.box(b))
			}
		}
		clear(bufs[i])
	}
	spareRx.keepMessages(msgs)
	clear(msgs)
	spareRx.keepLists(bufs, msgs)
}
