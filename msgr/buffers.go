package msgr

import (
	"math/bits"
	"sync"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Memory the messenger lends its connections (proto.Buffers), so that the data path does not
// allocate in steady state: received messages come back through Release, and prefetch
// buffers and output arenas come back from idle connections into a small free list per
// worker center.

// Release returns a message this messenger delivered to a dispatcher, with its section
// buffers, for reuse by later receives. Call it once the message is done with (after
// FastDispatch or Dispatch) and nothing refers to the message or its sections any more; the
// message must not be used after it. Releasing is optional: a message never released is
// garbage collected as usual. Do not release a message you are sending.
func (m *Messenger) Release(msg *Message) {
	if msg != nil {
		m.rxFree.put(msg)
	}
}

// Bounds of a messenger's free list of released messages: the messages, the section buffers
// of each size class, and the bytes those buffers hold (beyond it, a released buffer is left
// to the garbage collector).
const (
	maxFreeMessages = 1024
	maxFreeBytes    = 64 << 20
)

// Section buffers are kept by size class: class c holds buffers whose capacity is in
// [2^c, 2^(c+1)), so any of them fits a section of up to 2^c bytes; a section of n bytes
// takes one of class bufClass(n), and a new buffer for it has that class's size (at most
// twice n, which the protocol core accepts as reusable capacity). Sections of at most
// 2^minBufClass bytes share the smallest class.
const (
	minBufClass = 6
	bufClasses  = 40
)

// bufClass is the class a section of n > 0 bytes takes its buffer from: the smallest c with
// 2^c >= n.
func bufClass(n int) int { return max(bits.Len(uint(n-1)), minBufClass) }

// msgFree is the free list of released messages and their section buffers, LIFO (the most
// recently released, warm in cache, is reused first). Buffers are kept apart from the
// messages, by size class, so that a received data section finds a buffer of its size
// whatever the message it was released with (most messages carry no data section; a
// recycled message's own data buffer would mostly go unused). It is guarded by a mutex
// rather than being a sync.Pool: a pool loses its contents at every garbage collection and
// misses when the releasing and the receiving goroutine run on different Ps, and a miss on
// a 4 MiB message costs a 4 MiB allocation, zeroed.
type msgFree struct {
	mu    sync.Mutex
	msgs  []*Message
	bufs  [bufClasses][][]byte // released section buffers by class, length 0
	bytes int                  // the capacity of bufs
}

func (f *msgFree) put(msg *Message) {
	secs := [3][]byte{msg.Front, msg.Middle, msg.Data}
	// Field by field: a whole-message store goes through a bulk write barrier while the
	// garbage collector marks.
	msg.Header, msg.Footer = wire.Header{}, wire.Footer{}
	msg.Front, msg.Middle, msg.Data = nil, nil, nil
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range secs {
		c := bits.Len(uint(cap(b))) - 1 // 2^c <= cap(b) < 2^(c+1)
		if c < minBufClass || c >= bufClasses || len(f.bufs[c]) >= maxFreeMessages || f.bytes+cap(b) > maxFreeBytes {
			continue
		}
		if f.bufs[c] == nil {
			f.bufs[c] = spareRx.bufList()
		}
		f.bufs[c] = append(f.bufs[c], b[:0])
		f.bytes += cap(b)
	}
	if len(f.msgs) < maxFreeMessages {
		if f.msgs == nil {
			f.msgs = spareRx.msgList()
		}
		f.msgs = append(f.msgs, msg)
	}
}

// get returns a released message, or a new one, without sections.
func (f *msgFree) get() *Message {
	f.mu.Lock()
	k := len(f.msgs) - 1
	if k < 0 {
		f.mu.Unlock()
		return spareRx.message()
	}
	msg := f.msgs[k]
	f.msgs[k] = nil
	f.msgs = f.msgs[:k]
	f.mu.Unlock()
	return msg
}

// section returns a buffer of length n for a section about to be read: a released one of
// n's class, or a new one of the class's size. It is asked only once the throttles admitted
// the message (proto.Buffers.SectionBuffer), so what a peer announces in a header it has not
// sent allocates nothing (TestHostilePeers, "stalled 16 MiB fronts").
func (f *msgFree) section(n int) []byte {
	c := bufClass(n)
	if c >= bufClasses {
		return make([]byte, n)
	}
	f.mu.Lock()
	if k := len(f.bufs[c]) - 1; k >= 0 {
		b := f.bufs[c][k]
		f.bufs[c][k] = nil
		f.bufs[c] = f.bufs[c][:k]
		f.bytes -= cap(b)
		f.mu.Unlock()
		return b[:n]
	}
	f.mu.Unlock()
	if b := spareRx.section(c); b != nil {
		return b[:n]
	}
	return make([]byte, n, 1<<c)
}

// maxFreeBuffers bounds each free list (per size, per center): the buffers only have to cover
// connections that become busy while others go idle, not the idle ones.
const maxFreeBuffers = 16

// maxBufSizes bounds the sizes a bufCache keeps buffers of.
const maxBufSizes = 4

// bufCache is the free list of one worker center: buffers of the sizes connections ask for
// (the prefetch size and the output arena size). Its arrays are fixed and each size's list
// is allocated once at its full bound, so that warming it up allocates little.
type bufCache struct {
	mu     sync.Mutex
	nsizes int
	sizes  [maxBufSizes]int
	free   [maxBufSizes][][]byte // per size
}

func (b *bufCache) get(n int) []byte {
	b.mu.Lock()
	for i, s := range b.sizes[:b.nsizes] {
		if s == n {
			if k := len(b.free[i]) - 1; k >= 0 {
				buf := b.free[i][k]
				b.free[i][k] = nil
				b.free[i] = b.free[i][:k]
				b.mu.Unlock()
				return buf
			}
			break
		}
	}
	b.mu.Unlock()
	return spareBuffers.get(n)
}

func (b *bufCache) put(buf []byte) {
	n := len(buf)
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, s := range b.sizes[:b.nsizes] {
		if s == n {
			if len(b.free[i]) < maxFreeBuffers {
				b.free[i] = append(b.free[i], buf)
			}
			return
		}
	}
	if b.nsizes < maxBufSizes {
		b.sizes[b.nsizes] = n
		b.free[b.nsizes] = append(spareBuffers.list(), buf)
		b.nsizes++
	}
}
