package msgr

import (
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

// newRxMessage is a released message, or a new one.
func (m *Messenger) newRxMessage() *Message { return m.rxFree.get() }

// Bounds of a messenger's free list of released messages: the messages, and the section
// capacity they keep (beyond it, a released message is kept without its buffers).
const (
	maxFreeMessages = 1024
	maxFreeBytes    = 64 << 20
)

// msgFree is a LIFO of released messages (the most recently released, whose buffers are
// warm in cache, is reused first). It is guarded by a mutex rather than being a sync.Pool: a
// pool loses its contents at every garbage collection and misses when the releasing and the
// receiving goroutine run on different Ps, and a miss on a 4 MiB message costs a 4 MiB
// allocation, zeroed.
type msgFree struct {
	mu    sync.Mutex
	msgs  []*Message
	bytes int
}

func (f *msgFree) put(msg *Message) {
	keep := cap(msg.Front) + cap(msg.Middle) + cap(msg.Data)
	f.mu.Lock()
	if len(f.msgs) >= maxFreeMessages {
		f.mu.Unlock()
		return
	}
	if f.bytes+keep > maxFreeBytes {
		*msg, keep = Message{}, 0
	} else {
		// Field by field: a whole-message store goes through a bulk write barrier while
		// the garbage collector marks; the sections only lose their lengths.
		msg.Header, msg.Footer = wire.Header{}, wire.Footer{}
		msg.Front, msg.Middle, msg.Data = msg.Front[:0], msg.Middle[:0], msg.Data[:0]
	}
	f.msgs = append(f.msgs, msg)
	f.bytes += keep
	f.mu.Unlock()
}

func (f *msgFree) get() *Message {
	f.mu.Lock()
	k := len(f.msgs) - 1
	if k < 0 {
		f.mu.Unlock()
		return &Message{}
	}
	msg := f.msgs[k]
	f.msgs[k] = nil
	f.msgs = f.msgs[:k]
	f.bytes -= cap(msg.Front) + cap(msg.Middle) + cap(msg.Data)
	f.mu.Unlock()
	return msg
}

// maxFreeBuffers bounds each free list (per size, per center): the buffers only have to cover
// connections that become busy while others go idle, not the idle ones.
const maxFreeBuffers = 16

// bufCache is the free list of one worker center: buffers of the sizes connections ask for
// (the prefetch size and the output arena size).
type bufCache struct {
	mu    sync.Mutex
	sizes []int
	free  [][][]byte // per size
}

func (b *bufCache) get(n int) []byte {
	b.mu.Lock()
	for i, s := range b.sizes {
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
	return make([]byte, n)
}

func (b *bufCache) put(buf []byte) {
	n := len(buf)
	b.mu.Lock()
	for i, s := range b.sizes {
		if s == n {
			if len(b.free[i]) < maxFreeBuffers {
				b.free[i] = append(b.free[i], buf)
			}
			b.mu.Unlock()
			return
		}
	}
	if len(b.sizes) < 4 {
		b.sizes = append(b.sizes, n)
		b.free = append(b.free, [][]byte{buf})
	}
	b.mu.Unlock()
}
