package msgr

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/internal/msgmark"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Memory the messenger lends its connections (proto.Buffers), so that the data path does not
// allocate in steady state: received messages come back through Release, and prefetch
// buffers and output arenas come back from idle connections into a small free list per
// worker center.

// NewMessage returns a message of the given type with a front section, version 1, as
// wire.NewMessage does, but lent by the messenger from its free list: send it with
// SendMessage (on a connection of any messenger), and the messenger takes it back by itself
// once it is done with it, as Ceph puts a Message when its last reference goes. In steady
// state sending such messages allocates nothing.
//
// The contract, which messages the application makes itself (new(Message), wire.NewMessage)
// are not bound by:
//
//   - Set its fields before SendMessage. Assigning a whole Footer or Message (*msg = …) is
//     allowed but forfeits the reuse: the message is then the application's own and garbage
//     collected as any other. Assigning the Header or the sections is fine.
//   - Once SendMessage returned nil, the message is the messenger's: do not read, change,
//     send again or Release it. It is recycled when the peer acknowledges it (a lossless
//     session), once it is encoded for the socket (a lossy session), or when it is dropped
//     (a session reset, a lossy fault, MarkDown, Shutdown, or a connection that closed
//     before the message reached it); never while it may still be resent after a reconnect.
//     Trace events that carry it (TraceSend, TraceAcked, …) may read it only during the
//     Tracer call.
//   - If SendMessage returned an error, the message was not taken: it is still the
//     application's, to send again or to give back with Release.
//   - Sent on the loopback connection (LocalConnection), it is delivered to this messenger's
//     dispatchers as a received message: the dispatcher may Release it, as any delivered
//     message.
//   - The section buffers attached to it (Front, Middle, Data) stay the application's: the
//     messenger never reuses them (a payload shared by many messages is fine). Do not change
//     one after SendMessage, though, even once the message came back from NewMessage: a lossy
//     session recycles a message once it is encoded, and its larger sections may still be
//     waiting in the output to be written from the application's buffer.
//
// Sending a lent message twice, or releasing one the messenger holds, panics, as does
// releasing a message twice.
func (m *Messenger) NewMessage(typ uint16, front []byte) *Message {
	// From the messenger's list, else from a center's (refill). One function: a call to a
	// lend apart cost ~12 instructions per message.
	// The messenger's list is skipped while it is known to be empty (its empty flag): with
	// one message in flight, it stays empty, and its lock was taken for nothing.
	f := &m.rxFree
	var msg *Message
	if !f.empty.Load() {
		f.mu.Lock()
		if msg = popLast(&f.msgs); msg == nil {
			f.empty.Store(true)
		}
		f.mu.Unlock()
	}
	if msg == nil {
		msg = m.refill()
	}
	msg.Header.Type, msg.Header.Version = typ, 1
	msg.Front = front
	*markOf(msg) = markLent
	return msg
}

// Lender lends messages as Messenger.NewMessage does, under the same contract, for one
// goroutine at a time (a sender's own): it takes free messages from the messenger's list
// lenderBatch at a time, so that lending costs one lock per batch instead of one per message
// (the lock was about a third of a pipelined 0-byte sender's time per message; BENCHMARKS.md,
// "The sender's locks"). Close gives back the messages it still holds; a Lender dropped without
// Close leaves them to the garbage collector. Make one with Messenger.NewLender.
type Lender struct {
	m     *Messenger
	stock []*Message // free messages taken in a batch, marked free
	arr   [lenderBatch]*Message
}

// lenderBatch is how many free messages a Lender takes at once.
const lenderBatch = 32

// NewLender returns a Lender of m's messages.
func (m *Messenger) NewLender() *Lender {
	l := &Lender{m: m}
	l.stock = l.arr[:0]
	return l
}

// NewMessage is Messenger.NewMessage, from the lender's stock.
func (l *Lender) NewMessage(typ uint16, front []byte) *Message {
	k := len(l.stock) - 1
	if k < 0 {
		l.stock = l.m.lendBatch(l.stock)
		k = len(l.stock) - 1
	}
	var msg *Message
	if k >= 0 {
		msg = l.stock[k]
		l.stock[k] = nil
		l.stock = l.stock[:k]
	} else {
		msg = spareRx.message()
	}
	msg.Header.Type, msg.Header.Version = typ, 1
	msg.Front = front
	*markOf(msg) = markLent
	return msg
}

// Close gives the messages the lender holds back to the messenger's free list. The lender may
// be used again after it.
func (l *Lender) Close() {
	if len(l.stock) > 0 {
		l.m.rxFree.putBack(l.stock)
		clear(l.stock)
		l.stock = l.stock[:0]
	}
}

// Release returns a message this messenger delivered to a dispatcher, with its section
// buffers, for reuse by later receives. Call it once the message is done with (after
// FastDispatch or Dispatch) and nothing refers to the message or its sections any more; the
// message must not be used after it. Releasing is optional: a message never released is
// garbage collected as usual. Do not release a message you are sending.
//
// It also takes back a message from NewMessage that the application decided not to send, or
// whose SendMessage failed; its section buffers stay the application's (they are not reused).
// Releasing a message twice, or a lent message the messenger holds (sent), panics.
func (m *Messenger) Release(msg *Message) {
	if msg != nil {
		m.release(msg) // one call: Release inlines into the dispatcher
	}
}

// release is Release's check of the message's mark, then put: a lent message not sent gives
// up its sections (the application's); a sent or free one is a mistake. A received message
// goes back to the free list of the center that received it (its home, in the mark: see
// markHomeShift and rxcache.go).
func (m *Messenger) release(msg *Message) {
	mk := *markOf(msg)
	if mk&markState == markNone { // a delivered message: no mark to check
		// The home, less one, unsigned: one comparison for 0 < home <= len(m.bufCaches), and
		// no bounds check on the index.
		if h := uint(mk>>markHomeShift) - 1; h < uint(len(m.bufCaches)) {
			// The usual shapes without putLocal's classification: no section buffer (a 0-byte
			// message), or a data section alone.
			f := &m.bufCaches[h].rx
			if cap(msg.Front)|cap(msg.Middle) == 0 {
				if cap(msg.Data) == 0 {
					// f.putBare(msg, &m.rxFree), in line (a 0-byte message's release).
					clearFree(msg)
					f.mu.Lock()
					if n := len(f.msgs); n < cap(f.msgs) && n < maxFreeMsgs {
						f.msgs = f.msgs[:n+1]
						f.msgs[n] = msg
						f.mu.Unlock()
						return
					}
					f.mu.Unlock()
					f.putBare(msg, &m.rxFree)
				} else {
					f.putData(msg, &m.rxFree)
				}
				return
			}
			f.putLocal(msg, &m.rxFree)
			return
		}
		m.rxFree.put(msg)
		return
	}
	m.releaseMarked(msg, mk)
}

// releaseMarked is release for a message with a state in its mark: lent (NewMessage, not
// sent), or a mistake.
func (m *Messenger) releaseMarked(msg *Message, mk uint8) {
	switch mk & markState {
	case markLent:
		msg.Front, msg.Middle, msg.Data = nil, nil, nil
	case markSending:
		panic("msgr: Release of a message from NewMessage that was sent: the messenger recycles it")
	case markFree:
		panic("msgr: Release of a message already released (or recycled)")
	}
	if h := int(mk >> markHomeShift); h > 0 && h <= len(m.bufCaches) {
		m.bufCaches[h-1].rx.putLocal(msg, &m.rxFree)
		return
	}
	m.rxFree.put(msg)
}

// markOf is the address of msg's mark.
func markOf(msg *Message) *uint8 { return msgmark.Of(unsafe.Pointer(msg)) }

// The mark a message carries (wire keeps a byte for it, reached through msgmark): who holds
// it and what becomes of it. Messages the application made itself, and delivered ones, are
// unmarked: the messenger never recycles them on its own.
const (
	markNone    uint8 = iota // the application's (made by it, or delivered to it)
	markLent                 // lent by NewMessage, not sent yet: the application's for now
	markSending              // lent and sent: the messenger recycles it when done with it
	markFree                 // in a free list
)

// The mark's low bits are one of the values above; a received message also carries, above
// them, its home: 1 + the index of the worker center that received it (0: none), whose free
// list Release gives it back to (see rxcache.go).
const (
	markState     uint8 = 3
	markHomeShift uint8 = 2
)

// taken marks that msg, about to be given to a connection, is the messenger's from now on
// (SendMessage). A lent message sent on the loopback connection becomes a delivered one.
func taken(msg *Message, local bool) {
	mk := markOf(msg)
	switch *mk & markState {
	case markNone:
	case markLent:
		*mk = markSending
		if local {
			*mk = markNone
		}
	case markSending:
		panic("msgr: SendMessage of a message from NewMessage that was already sent")
	default:
		panic("msgr: SendMessage of a released message")
	}
}

// Bounds of a messenger's free list of released messages: the section buffers of each size
// class, and the bytes those buffers hold (beyond it, a released buffer is left to the
// garbage collector).
const (
	maxFreeMessages = 1024
	maxFreeBytes    = 64 << 20
)

// maxFreeMsgs bounds the messages themselves (160 bytes each, 640 KiB at most). Lent messages
// (NewMessage) stay with a lossless session until the peer acknowledges them, so the list
// must cover a sender's messages in flight: with msgr-bench's oneway window of 1024 messages
// plus the acknowledgements' lag, a bound of 1024 dropped messages at every dip of the window
// and NewMessage allocated again (0.08-0.12 allocations per message, 0 with this bound).
const maxFreeMsgs = 4096

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
	msgStack
	bufs  [bufClasses][][]byte // released section buffers by class, length 0
	bytes int                  // the capacity of bufs
}

// msgStack is the messages of a free list, and the lock that guards the list.
type msgStack struct {
	_    [64]byte // the lock on a cache line of its own (the centers' lists are neighbours in bufCaches)
	mu   sync.Mutex
	msgs []*Message
	// empty is set, under mu, when NewMessage finds the messenger's list empty, and cleared,
	// under mu, by whatever adds to a list (see filled): set, the list is empty, and
	// NewMessage goes to the centers' lists without taking mu. Only the messenger's list
	// sets it.
	empty atomic.Bool
}

// filled clears f.empty (f.mu is held, and messages are being added to f.msgs).
func (f *msgStack) filled() {
	if f.empty.Load() {
		f.empty.Store(false)
	}
}

func (f *msgFree) put(msg *Message) {
	front, middle, data := msg.Front, msg.Middle, msg.Data
	clearFree(msg)
	f.keep(msg, front, middle, data)
}

// keep keeps msg, cleared by clearFree, and the section buffers it had.
func (f *msgFree) keep(msg *Message, front, middle, data []byte) {
	f.mu.Lock()
	if cap(front)|cap(middle)|cap(data) != 0 { // (a message without sections skips the classes)
		f.putBuf(front)
		f.putBuf(middle)
		f.putBuf(data)
	}
	if len(f.msgs) < maxFreeMsgs {
		if f.msgs == nil {
			f.msgs = spareRx.msgList()
		}
		f.msgs = append(f.msgs, msg)
		f.filled()
	}
	f.mu.Unlock()
}

// putBuf keeps a released section buffer in its class, within the bounds; f.mu is held.
func (f *msgFree) putBuf(b []byte) {
	c := bits.Len(uint(cap(b))) - 1 // 2^c <= cap(b) < 2^(c+1)
	if c < minBufClass || c >= bufClasses || len(f.bufs[c]) >= maxFreeMessages || f.bytes+cap(b) > maxFreeBytes {
		return
	}
	if f.bufs[c] == nil {
		f.bufs[c] = spareRx.bufList()
	}
	f.bufs[c] = append(f.bufs[c], b[:0])
	f.bytes += cap(b)
}

// releasing reports whether msg, which the messenger is done sending (acknowledged or
// dropped), is a lent one to put back in the free list, and marks it free; any other is the
// application's and left alone. A lent message reported twice panics here, at once.
func releasing(msg *Message) bool {
	mk := markOf(msg)
	switch *mk & markState {
	case markNone:
		return false
	case markSending:
		*mk = markFree
		return true
	case markFree:
		panic("msgr: a message from NewMessage recycled twice")
	default:
		panic("msgr: a message from NewMessage recycled before it was sent")
	}
}

// clearAcked zeroes a lent message that releasing accepted, without its sections (the
// application's). The footer field by field: its mark stays markFree (set by releasing).
func clearAcked(msg *Message) {
	msg.Header = wire.Header{}
	f := &msg.Footer
	f.Sig, f.FrontCRC, f.MiddleCRC, f.DataCRC, f.Flags = 0, 0, 0, 0, 0
	msg.Front, msg.Middle, msg.Data = nil, nil, nil
}

// recycle puts back lent messages that releasing accepted, without their sections (the
// application's), under one lock.
func (f *msgStack) recycle(ms []*Message) {
	for _, msg := range ms {
		clearAcked(msg)
	}
	f.mu.Lock()
	if len(ms) == 1 { // one per round trip of a request/response: within the list's capacity
		if n := len(f.msgs); n < cap(f.msgs) && n < maxFreeMsgs {
			f.msgs = f.msgs[:n+1]
			f.msgs[n] = ms[0]
			f.filled()
			f.mu.Unlock()
			return
		}
	}
	if f.msgs == nil {
		f.msgs = make([]*Message, 0, 16)
	}
	n := min(len(ms), maxFreeMsgs-len(f.msgs))
	if n <= recycleByOne {
		// A few (one per round trip of a request/response): appended one by one, without the
		// bulk copy's typedslicecopy (~40 instructions for one message).
		//lint:ignore S1011 the loop is the point: append(f.msgs, ms[:n]...) is the bulk copy
		for _, msg := range ms[:max(n, 0)] {
			f.msgs = append(f.msgs, msg)
		}
	} else {
		f.msgs = append(f.msgs, ms[:n]...)
	}
	f.filled()
	f.mu.Unlock()
}

// clearFew zeroes ms, which usually holds a few messages (a flush's sends: one per hop of a
// ping-pong), one by one up to clearByOne: clear's runtime call (memclrHasPointers) was ~44
// instructions for one message, twice per ping-pong round trip. An index loop, not a range
// loop: the compiler turns the range form back into the runtime call.
func clearFew(ms []*Message) {
	if len(ms) > clearByOne {
		clear(ms)
		return
	}
	for i := 0; i < len(ms); i++ {
		ms[i] = nil
	}
}

// clearByOne is how many messages clearFew zeroes one by one rather than through clear.
const clearByOne = 4

// recycleByOne is how many messages recycle appends one by one rather than in a bulk copy.
const recycleByOne = 4

// get returns a released message, or a new one, without sections and unmarked.
func (f *msgFree) get() *Message {
	f.mu.Lock()
	msg := popLast(&f.msgs)
	f.mu.Unlock()
	if msg == nil {
		return spareRx.message()
	}
	*markOf(msg) = markNone
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
//
// A connection keeps its buffers while it is busy and gives them back once it has been idle
// for a while: when a read drains its socket it joins the center's holders (keepIdle), and a
// sweep, a chore of the center every idleBufferAge while there are holders, gives back the
// buffers of those that the center did not run since the sweep before. A busy connection
// thus takes no lock for its buffers (it took and gave them back at every drain, about a
// dozen lock pairs per message), and an idle one holds none after one to two idleBufferAge.
type bufCache struct {
	mu     sync.Mutex
	nsizes int
	sizes  [maxBufSizes]int
	free   [maxBufSizes][][]byte // per size
	takes  uint64                // buffers taken (get): a busy connection takes none

	rx centerFree // the center's released messages and small sections (see rxcache.go)

	// Owned by the center's goroutine.
	center  *event.Center
	epoch   uint32         // sweeps so far; a connection run since the last one has seen == epoch
	holders []*Connection  // connections that may hold buffers, each once (Connection.holding)
	armed   bool           // a sweep is due (a chore of the center)
	holdArr [4]*Connection // holders' first array (a simulation builds messengers by the dozen)
}

// idleBufferAge is how long a connection must go without being run before its prefetch
// buffer and output arenas go back to its center's free list: one to two of it. Long enough
// to cover the gaps of a busy connection (a request every few milliseconds keeps them), short
// enough that idle connections hold no buffers (the "Idle memory per connection" benchmark).
const idleBufferAge = 100 * time.Millisecond

// keepIdle records that c, whose read found its socket drained, may hold buffers it no
// longer needs: the next sweeps give them back unless c is run meanwhile. On the center.
func (b *bufCache) keepIdle(c *Connection) {
	if c.holding {
		return
	}
	c.holding = true
	b.holders = append(b.holders, c)
	if !b.armed {
		b.armed = true
		b.center.AddChore(b.center.StepNow()+idleBufferAge, b)
	}
}

// RunChore is the sweep: the holders not run since the last sweep give their buffers back and
// leave the list; the others stay for the next sweep, which is due while any stay.
func (b *bufCache) RunChore(now time.Duration) {
	kept := 0
	for _, c := range b.holders {
		if c.seen == b.epoch || !c.releaseIdle() {
			b.holders[kept] = c
			kept++
			continue
		}
	}
	clear(b.holders[kept:])
	b.holders = b.holders[:kept]
	b.epoch++
	b.armed = kept > 0
	if b.armed {
		b.center.AddChore(now+idleBufferAge, b)
	}
}

func (b *bufCache) get(n int) []byte {
	b.mu.Lock()
	b.takes++
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
