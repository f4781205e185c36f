package msgr

import (
	"math/bits"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Each worker center has a free list of released messages of its own (bufCache.rx), besides
// the messenger's (Messenger.rxFree). A message the center's connections receive comes from
// the center's list and carries its home in its mark (1 + the center's index), and Release
// gives it back there; lent messages the center's connections are done with (acknowledged or
// dropped) go there too. With fast dispatch, receiving and releasing run on the center's own
// goroutine, so the center's lock stays in one CPU's cache and no other center takes it: with
// one list per messenger, the two centers of a server with eight connections took the same
// lock for every message (get, then Release), 13% of the CPU profile of msgr-bench's 0-byte
// one-way cell with eight connections.
//
// The messenger's list lends messages to the application (NewMessage, on any goroutine) and
// takes what a center's list has no room for. When it is empty, NewMessage swaps it whole with
// a center's list: the application's goroutine and the center that recycles the acknowledged
// messages then meet on a lock once per batch, not once per message.

// Bounds of a center's list of section buffers, beyond which a released message goes to the
// messenger's list: classes up to 64 KiB (a larger section is rare, and its copy costs far
// more than a lock), and 8 MiB of buffers per center.
const (
	maxLocalClass = 16
	maxLocalBytes = 8 << 20
)

// maxHome is the largest home a mark holds.
const maxHome = 0xff >> markHomeShift

// centerFree is a center's free list: messages, and section buffers of the classes
// minBufClass to maxLocalClass (a smaller array than msgFree's: a simulation builds centers by
// the dozen per run).
type centerFree struct {
	msgStack
	bufs  [maxLocalClass + 1 - minBufClass][][]byte // by class - minBufClass, length 0
	bytes int                                       // the capacity of bufs
	// oneTakes counts refill's one-message takes from this list since its last trade
	// (refillLocked) or seeding (seedFree).
	oneTakes int
}

// rxList is the free list the connection's lent messages go back to: its center's.
func (c *Connection) rxList() *msgStack {
	if c.bufs != nil {
		return &c.bufs.rx.msgStack
	}
	return &c.m.rxFree.msgStack
}

// rxGet returns a message for the core to receive into: from the connection's stash, else
// from the center's list (or the messenger's), zero, and marked with its home. It is
// connHost.NewMessage, where the core's interface call lands (without the hop to a
// Connection method: ~10 instructions per received message).
func (c *Connection) rxGet() *Message { return (*connHost)(c).NewMessage() }

// rxRefill is rxGet with an empty stash: the first receive of a locked section takes one
// message from the center's list; later ones take a batch into the stash, from the
// messenger's list when the center's is empty (NewMessage trades the messenger's empty list
// for a center's whole one, which then stays empty for a while: one lock per message there
// cost ~75 instructions per received message in msgr-bench's rr cell).
func (c *Connection) rxRefill() *Message {
	b := c.bufs
	if b == nil {
		return c.m.rxFree.get()
	}
	var msg *Message
	if c.rxGets > 0 {
		if c.rxStash == nil {
			c.rxStash = c.rxArr[:0]
		}
		c.rxStash = b.rx.popBatch(c.rxStash)
		if len(c.rxStash) == 0 {
			c.rxStash = c.m.rxFree.popBatch(c.rxStash)
		}
		if k := len(c.rxStash) - 1; k >= 0 {
			msg = c.rxStash[k]
			c.rxStash[k] = nil
			c.rxStash = c.rxStash[:k]
		}
	} else {
		msg = b.rx.pop()
	}
	c.rxGets++
	if msg == nil {
		msg = c.m.rxFree.get()
	}
	*markOf(msg) = c.rxMark
	return msg
}

// keepAcked is how many acknowledged lent messages a connection that receives messages keeps
// in its stash across locked sections, for its next receives, instead of giving them to its
// center's list (recycleAcked): with one message in flight each way (a ping-pong), the
// acknowledged message of each hop went to the list under its lock and the next receive took
// one out under it again. A few, so that an idle connection holds little (the idle sweep and
// cleanup give them back: returnStash); a batch of acknowledgements goes to the list as
// before, and so do the acknowledged messages of a connection that delivered nothing since
// the last ones (a sender only: NewMessage lends them again, as before).
const keepAcked = 2

// recycleAcked gives the lent messages the peer acknowledged (c.recycled, accepted by
// releasing) to the free lists: into the stash, for the next receives, when the connection
// delivered messages since the last call (rxKeep) and the stash then holds at most keepAcked;
// else to the center's list. mu is held.
func (c *Connection) recycleAcked() {
	ms := c.recycled
	keep := c.rxKeep && c.bufs != nil
	c.rxKeep = false
	if len(ms) == 1 && len(c.rxStash) < keepAcked && keep {
		// One (a hop of a ping-pong): without the loops and clear's runtime call.
		msg := ms[0]
		ms[0] = nil
		c.recycled = ms[:0]
		clearAcked(msg)
		if c.rxStash == nil {
			c.rxStash = c.rxArr[:0]
		}
		c.rxStash = append(c.rxStash, msg)
		return
	}
	if len(c.rxStash)+len(ms) <= keepAcked && keep {
		if c.rxStash == nil {
			c.rxStash = c.rxArr[:0]
		}
		for _, msg := range ms {
			clearAcked(msg)
			c.rxStash = append(c.rxStash, msg)
		}
	} else {
		c.rxList().recycle(ms)
	}
	clear(ms)
	c.recycled = ms[:0]
}

// returnStash gives the stash's free messages back to the center's list. mu is held.
func (c *Connection) returnStash() {
	if len(c.rxStash) > 0 {
		c.rxList().putBack(c.rxStash)
		clear(c.rxStash)
		c.rxStash = c.rxStash[:0]
	}
}

// homeMark is the mark of a message received on the worker center with the given index (see
// markHomeShift): markNone with the center as its home, or without a home past maxHome.
func homeMark(center int) uint8 {
	if h := center + 1; h <= maxHome {
		return uint8(h) << markHomeShift
	}
	return markNone
}

// rxBatch is how many free messages a connection takes from its center's list at once, from
// its second receive in a locked section on (see rxGet): a read of many small messages takes
// the lock once per batch, not once per message, and one message per wakeup (a ping-pong) still
// takes it once. What the section did not use goes back when it ends (Connection.unlock).
// 16 rather than 8: ~9 instructions fewer per received 0-byte message (popBatch and rxRefill
// per message 18.6 -> 9.5), for 64 bytes more per connection (rxArr).
const rxBatch = 16

// SectionBuffer returns a buffer of length n for a section about to be read (see
// msgFree.section): from the center's list, or the messenger's. (It was rxSection, called
// from here: the hop cost ~9 instructions per received section.)
func (h *connHost) SectionBuffer(n int) []byte {
	c := h.c()
	if b := c.bufs; b != nil {
		if cl := bufClass(n); cl <= maxLocalClass {
			// b.rx.popBuf(cl), in line: the call was ~15 instructions per received section.
			f, i := &b.rx, cl-minBufClass
			f.mu.Lock()
			if k := len(f.bufs[i]) - 1; k >= 0 {
				s := f.bufs[i][k]
				f.bufs[i][k] = nil
				f.bufs[i] = f.bufs[i][:k]
				f.bytes -= cap(s)
				f.mu.Unlock()
				return s[:n]
			}
			f.mu.Unlock()
			// A miss (at steady state, a center finds the buffers its own receives released):
			// another center's before a new one. A simulation has a few messages per center,
			// and without this, buffers released on one center were allocated anew by another.
			for i := range c.m.bufCaches {
				if o := &c.m.bufCaches[i]; o != b {
					if s := o.rx.popBuf(cl); s != nil {
						return s[:n]
					}
				}
			}
		}
	}
	return c.m.rxFree.section(n)
}

// pop takes the most recently released message, or returns nil. Its mark is markFree.
func (f *msgStack) pop() *Message {
	f.mu.Lock()
	k := len(f.msgs) - 1
	if k < 0 {
		f.mu.Unlock()
		return nil
	}
	msg := f.msgs[k]
	f.msgs[k] = nil
	f.msgs = f.msgs[:k]
	f.mu.Unlock()
	return msg
}

// popBatch appends up to rxBatch messages to dst (empty) and returns it.
func (f *msgStack) popBatch(dst []*Message) []*Message {
	f.mu.Lock()
	dst = f.takeLocked(dst, rxBatch)
	f.mu.Unlock()
	return dst
}

// takeLocked moves up to n messages from the top of the stack to dst; f.mu is held.
func (f *msgStack) takeLocked(dst []*Message, n int) []*Message {
	k := max(len(f.msgs)-n, 0)
	dst = append(dst, f.msgs[k:]...)
	clear(f.msgs[k:])
	f.msgs = f.msgs[:k]
	return dst
}

// putBack returns free messages a connection took in a batch and did not use.
func (f *msgStack) putBack(ms []*Message) {
	f.mu.Lock()
	if f.msgs == nil {
		f.msgs = spareRx.msgList()
	}
	n := min(len(ms), maxFreeMsgs-len(f.msgs))
	f.msgs = append(f.msgs, ms[:max(n, 0)]...)
	f.filled()
	f.mu.Unlock()
}

// popBuf takes a released buffer of class c (at most maxLocalClass; length 0), or returns nil.
func (f *centerFree) popBuf(c int) []byte {
	i := max(c, minBufClass) - minBufClass
	f.mu.Lock()
	k := len(f.bufs[i]) - 1
	if k < 0 {
		f.mu.Unlock()
		return nil
	}
	b := f.bufs[i][k]
	f.bufs[i][k] = nil
	f.bufs[i] = f.bufs[i][:k]
	f.bytes -= cap(b)
	f.mu.Unlock()
	return b
}

// putBuf keeps a released section buffer that keepsLocal admitted; f.mu is held.
func (f *centerFree) putBuf(b []byte) {
	c := bits.Len(uint(cap(b))) - 1
	if c < minBufClass {
		return
	}
	i := c - minBufClass
	if f.bufs[i] == nil {
		f.bufs[i] = spareRx.bufList()
	}
	f.bufs[i] = append(f.bufs[i], b[:0])
	f.bytes += cap(b)
}

// retire empties the list into spareRx (see msgFree.retire).
func (f *centerFree) retire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	retireLists(f.bufs[:], minBufClass, f.msgs)
	f.bytes = 0
	f.bufs, f.msgs = [maxLocalClass + 1 - minBufClass][][]byte{}, nil
}

// putLocal is put for a center's list: what does not fit its bounds goes to shared, the
// messenger's list.
func (f *centerFree) putLocal(msg *Message, shared *msgFree) {
	if cf, cm := cap(msg.Front), cap(msg.Middle); cf|cm == 0 {
		if cap(msg.Data) == 0 {
			f.putBare(msg, shared)
		} else {
			f.putData(msg, shared)
		}
		return
	}
	front, middle, data := msg.Front, msg.Middle, msg.Data
	clearFree(msg)
	f.mu.Lock()
	if len(f.msgs) >= maxFreeMsgs || !f.fitsLocal(front, middle, data) {
		f.mu.Unlock()
		shared.keep(msg, front, middle, data)
		return
	}
	// Only the sections that have a buffer (most messages carry one or two of the three).
	if cap(front) != 0 {
		f.putBuf(front)
	}
	if cap(middle) != 0 {
		f.putBuf(middle)
	}
	if cap(data) != 0 {
		f.putBuf(data)
	}
	if f.msgs == nil {
		f.msgs = spareRx.msgList()
	}
	f.msgs = append(f.msgs, msg)
	f.mu.Unlock()
}

// putData is putLocal for a message whose only section buffer is its data's (a payload
// without a front): fitsLocal and putBuf for that one buffer, its class computed once.
func (f *centerFree) putData(msg *Message, shared *msgFree) {
	data := msg.Data
	c := bits.Len(uint(cap(data))) - 1 // 2^c <= cap(data) < 2^(c+1)
	clearFree(msg)
	f.mu.Lock()
	if len(f.msgs) < maxFreeMsgs && f.bytes+cap(data) <= maxLocalBytes && c <= maxLocalClass {
		if i := c - minBufClass; i >= 0 { // (a smaller buffer is not kept: the message alone)
			if len(f.bufs[i]) >= maxFreeMessages {
				f.mu.Unlock()
				shared.keep(msg, nil, nil, data)
				return
			}
			if f.bufs[i] == nil {
				f.bufs[i] = spareRx.bufList()
			}
			f.bufs[i] = append(f.bufs[i], data[:0])
			f.bytes += cap(data)
		}
		if f.msgs == nil {
			f.msgs = spareRx.msgList()
		}
		f.msgs = append(f.msgs, msg)
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	shared.keep(msg, nil, nil, data)
}

// putBare is putLocal for a message without section buffers (a 0-byte message, an
// acknowledged lent one): nothing to classify, and no slices kept across the lock.
func (f *centerFree) putBare(msg *Message, shared *msgFree) {
	clearFree(msg)
	f.mu.Lock()
	if len(f.msgs) >= maxFreeMsgs {
		f.mu.Unlock()
		shared.keep(msg, nil, nil, nil)
		return
	}
	if f.msgs == nil {
		f.msgs = spareRx.msgList()
	}
	f.msgs = append(f.msgs, msg)
	f.mu.Unlock()
}

// fitsLocal reports whether a center's list has room for the section buffers of a released
// message; f.mu is held.
func (f *centerFree) fitsLocal(front, middle, data []byte) bool {
	return f.bytes+cap(front)+cap(middle)+cap(data) <= maxLocalBytes &&
		f.keepsLocal(front) && f.keepsLocal(middle) && f.keepsLocal(data)
}

// keepsLocal reports whether a center's list has room for section buffer b (one putBuf would
// not keep at all, being too small, has room); f.mu is held.
func (f *centerFree) keepsLocal(b []byte) bool {
	c := bits.Len(uint(cap(b))) - 1
	return c < minBufClass || c <= maxLocalClass && len(f.bufs[c-minBufClass]) < maxFreeMessages
}

// clearFree zeroes a released message and marks it free. Field by field: a whole-message
// store goes through a bulk write barrier while the garbage collector marks.
func clearFree(msg *Message) {
	msg.Header = wire.Header{} // (one statement each: as a pair, the Footer went through a temporary)
	msg.Footer = wire.Footer{}
	msg.Front, msg.Middle, msg.Data = nil, nil, nil
	*markOf(msg) = markFree
}

// lendBatch appends up to lenderBatch free messages to dst (empty) for a Lender, under one
// lock of the messenger's list; when that is empty (or known to be), one message as
// NewMessage takes it (refill): with one message in flight, a client's lender finds one
// message in a center's list at each request, and trading lists for it cost ~100
// instructions more.
func (m *Messenger) lendBatch(dst []*Message) []*Message {
	f := &m.rxFree
	if !f.empty.Load() {
		f.mu.Lock()
		if dst = f.takeLocked(dst, lenderBatch); len(dst) == 0 {
			f.empty.Store(true)
		}
		f.mu.Unlock()
		if len(dst) > 0 {
			return dst
		}
	}
	msg := m.refill()
	*markOf(msg) = markFree // (a new one is unmarked)
	return append(dst, msg)
}

// refillOne is how many messages a center's list may hold for NewMessage, finding the
// messenger's list empty, to take one of them alone rather than trade lists (refillLocked).
// A request/response server answering from its fast dispatcher has one message in flight per
// connection: the request it released is the only one in its center's list when it lends the
// reply, and trading the lists (three lock pairs) took that one message each time.
const refillOne = 2

// refill returns a message for NewMessage (or a new one) when the messenger's list is empty
// (or known to be, see msgStack.empty): one from the first center's list that holds any,
// alone if that list holds at most refillOne, else through a trade of lists (refillLocked).
// No lock is held.
func (m *Messenger) refill() *Message {
	for i := range m.bufCaches {
		r := &m.bufCaches[i].rx
		r.mu.Lock()
		n := len(r.msgs)
		if n > 0 && n <= refillOne {
			msg := r.msgs[n-1]
			r.msgs[n-1] = nil
			r.msgs = r.msgs[:n-1]
			r.oneTakes++
			seed := r.oneTakes >= seedAfter
			if seed {
				r.oneTakes = 0
			}
			r.mu.Unlock()
			if seed {
				m.seedFree()
			}
			return msg
		}
		r.mu.Unlock()
		if n > 0 {
			break
		}
	}
	// A longer list: traded for the messenger's, if that is still empty. Also when no center
	// had any, before a new message: the messenger's list may have been filled meanwhile.
	f := &m.rxFree
	f.mu.Lock()
	if len(f.msgs) == 0 {
		m.refillLocked()
	}
	msg := popLast(&f.msgs)
	f.mu.Unlock()
	if msg == nil {
		msg = spareRx.message()
	}
	return msg
}

// seedAfter is how many one-message takes in a row (no trade between) refill makes from a
// center's list before it seeds the messenger's list with seedBatch messages (seedFree).
const (
	seedAfter = 256
	seedBatch = lenderBatch
)

// seedFree puts seedBatch more free messages in the messenger's list, once refill has taken
// one message at a time from a center's short list seedAfter times without a trade. A
// pipelined request/response side could stay for good in a mode where each lend took back the
// message its dispatcher had just released (its free messages all went through the center's
// list, which its receives drained before each dispatch: BENCHMARKS.md, "rr at depth 128 and
// ping-pong"); with a batch in the messenger's list, lends take from there, released messages
// pile up in the center's list, and the next refill trades them. One-time: while lends trade,
// oneTakes is reset. No lock is held.
func (m *Messenger) seedFree() {
	f := &m.rxFree
	for range seedBatch {
		msg := spareRx.message()
		*markOf(msg) = markFree
		f.mu.Lock()
		if len(f.msgs) >= maxFreeMsgs {
			f.mu.Unlock()
			return
		}
		f.msgs = append(f.msgs, msg)
		f.filled()
		f.mu.Unlock()
	}
}

// refillLocked trades the messenger's empty list for a center's; rxFree.mu is held, and held
// again on return. The free lists are leaf locks (docs/design.md): the empty list is taken
// out, traded for a center's under that center's lock alone, and put back.
func (m *Messenger) refillLocked() {
	f := &m.rxFree
	got := f.msgs
	f.msgs = nil
	f.mu.Unlock()
	for i := range m.bufCaches {
		r := &m.bufCaches[i].rx
		r.mu.Lock()
		if len(r.msgs) > 0 {
			got, r.msgs = r.msgs, got[:0:cap(got)]
			r.oneTakes = 0
		}
		r.mu.Unlock()
		if len(got) > 0 {
			break
		}
	}
	f.mu.Lock()
	if len(f.msgs) == 0 {
		f.msgs = got
	} else { // others released messages meanwhile
		n := min(len(got), maxFreeMsgs-len(f.msgs))
		f.msgs = append(f.msgs, got[:max(n, 0)]...)
	}
	if len(f.msgs) > 0 {
		f.filled()
	}
}
