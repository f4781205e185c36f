package msgr

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Connection is one session with a peer (Ceph's AsyncConnection): the glue between a socket,
// the event center that owns it, and a proto.Conn. Its methods are safe from any goroutine;
// the lock protocol they follow is in the package documentation.
type Connection struct {
	m      *Messenger
	id     uint64
	center *event.Center
	local  bool

	// mu guards the protocol core and the socket state below. The owning center holds it
	// while it runs the connection; other goroutines take it only to mark the connection down
	// (markDown), and an acceptor's center to decide about it as the existing session of an
	// accept (lockExisting). It is never held while a dispatcher runs.
	mu           rankedMutex
	p            *proto.Conn // &pc once the core is set up (nil: the local connection)
	sock         netio.Socket
	mask         netio.Events // interest registered for sock
	connecting   bool         // a nonblocking connect is in progress on sock
	writeBlocked bool         // the last write could not finish: wait for writability
	connectErr   error        // Connect failed at once; reported after the core returns
	inCenter     bool         // the owning center is running the connection now
	timer        event.TimerID
	timerAt      time.Duration
	cleaned      bool
	upcalls      []upcall
	handover     *handover  // a lossless replace to carry out once the core returns
	lastFault    error      // why the connection last faulted
	faultGen     uint64     // bumped with every change of lastFault (see publish)
	serverAuth   ServerAuth // acceptor: verifies the authorizers on the current socket
	drained      bool       // the last read found the socket empty (see sync)
	recycled     []*Message // lent messages the core is done with, for the free list (see unlock)
	rxStash      []*Message // free messages for receives: taken from the center's list in a batch for a locked section's receives, or acknowledged ones kept across sections (recycleAcked); guarded by mu
	rxGets       uint32     // messages received in this locked section
	rxMark       uint8      // the mark of a message received here: its home, bufs's center (see homeMark)
	rxKeep       bool       // a section delivered messages since recycleAcked last ran; guarded by mu
	rxArr        [rxBatch]*Message
	msgsIn       uint32 // messages delivered in this locked section, added to the traffic counters by unlock
	msgsOut      uint32 // messages encoded for the socket in this locked section (the core's TakeWritten after each Output), as msgsIn

	// Owned by the center's goroutine, touched only there: the upcall slice run is not using
	// (reused, so that collecting upcalls does not allocate), the free list of the center,
	// bound method values, and delay injection.
	spareUpcalls []upcall
	bufs         *bufCache
	seen         uint32 // bufs.epoch as of the connection's last run (see bufCache)
	holding      bool   // in bufs.holders
	flushFn      func() // c.flush, bound once
	keepaliveFn  func() // runs the core's SendKeepalive, bound at the first SendKeepalive (under pmu)
	timerFn      func() // c.onTimer, bound once
	onFileFn     event.FileHandler
	held         []delayed
	heldBuf      []delayed // the array held starts from when it is empty (reused)
	releaseFn    func()    // c.releaseHeld, bound once
	heldTimer    event.TimerID
	deferWrite   bool // messages were delivered: write after dispatch (see run)
	readPaused   bool // readIn paused to write what was read's replies; onFile resumes it

	regAddr wire.EntityAddr // registry key, when registered; guarded by the messenger's mu

	pmu         rankedMutex // guards pend, sparePend and flushPosted; read performing under it
	pend        []*Message
	sparePend   []*Message // the other half of pend's double buffer (see flush)
	flushPosted bool
	// performing: run is dispatching and will flush, so sends need no post (see SendMessage).
	// Set by run without pmu (setPerforming), cleared by flush under pmu, read under pmu.
	performing atomic.Bool
	moving     bool // flush took pend and has not yet given it to the core (see sendInline)

	settleFn func() // c.settle, bound once; guarded by mu

	// The first backing arrays of upcalls and spareUpcalls, and of pend and sparePend: a
	// simulation creates connections by the dozen per run, and growing these slices from
	// nil was a few allocations per connection.
	upcallArr [2][1]upcall
	pendArr   [2][4]*Message

	// viewMu guards view: what introspection reads, copied from the core whenever mu is
	// released (see unlock), so that reading it never waits for the center. A leaf lock.
	viewMu sync.Mutex
	view   connView

	// pc is the protocol core p points to, in the connection's own allocation.
	pc proto.Conn

	closed   atomic.Bool  // closed for good: sends are refused
	nheld    atomic.Int64 // received messages held back by delay injection
	peerType atomic.Uint32
	peerAddr atomic.Pointer[wire.EntityAddr]
	priv     atomic.Pointer[any]
}

// connView is the connection as of the end of its last locked section.
type connView struct {
	faultGen                  uint64 // Connection.faultGen: counts the changes of lastFault
	state                     proto.State
	features                  uint64
	out, in                   uint64
	connectSeq, peerGlobalSeq uint32
	queued                    int
	replyTag                  wire.Tag
	keepaliveAck              wire.Timespec
	lastFault                 error
	signed                    bool
}

// unlock publishes the view and the section's message counts, gives the lent messages the
// core is done with back to the free list, and releases mu: every locked section ends here.
// The counts are added once per section, not once per message: an atomic add per message
// on each side cost as much as a lock (the traffic counters are read only by Metrics).
func (c *Connection) unlock() {
	c.publish()
	c.addTraffic()
	if c.rxGets != 0 {
		c.rxGets = 0
		if len(c.rxStash) > 0 {
			c.returnStash() // what the section's receives took and did not use
		}
	}
	// The lent messages the peer acknowledged go back after the replies are written when the
	// section delivered messages (deferWrite: run's flush follows, and its section ends here
	// too), so that returning them does not delay the write; a few stay for the next receives
	// (recycleAcked).
	if len(c.recycled) > 0 && !c.deferWrite {
		c.recycleAcked()
	}
	if lockOrderCheck { // (mu's mutex directly otherwise, inlined: see SendMessage)
		c.mu.Unlock()
	} else {
		c.mu.mu.Unlock()
	}
}

// publish copies what introspection reads from the core into the view; mu is held (or the
// connection is not yet shared).
// addTraffic adds the section's message counts to the traffic counters. unlock calls it,
// and so does closeSocket: a peer that sees the socket close must find every message
// received before the fault already counted in Metrics.
func (c *Connection) addTraffic() {
	if c.msgsIn|c.msgsOut == 0 {
		return
	}
	t := c.traffic()
	if c.msgsIn != 0 {
		t.messagesIn.Add(uint64(c.msgsIn))
	}
	if c.msgsOut != 0 {
		t.messagesOut.Add(uint64(c.msgsOut))
	}
	c.msgsIn, c.msgsOut = 0, 0
}

func (c *Connection) publish() {
	p := c.p
	if p == nil {
		return
	}
	// Unchanged (a step that moved no sequence number nor state): no lock. Only holders of
	// mu write view, so reading it here needs no viewMu. The fault is compared by its
	// generation: comparing error values could panic. Field by field, the likeliest to
	// differ first: building the new view and comparing whole views cost more than the lock.
	out, in, connectSeq, peerGlobalSeq := p.Seqs()
	v := &c.view
	if v.out == out && v.in == in && v.queued == p.Queued() && v.state == p.State() &&
		v.faultGen == c.faultGen && v.features == p.Features() && v.connectSeq == connectSeq &&
		v.peerGlobalSeq == peerGlobalSeq && v.replyTag == p.LastReplyTag() &&
		v.keepaliveAck == p.LastKeepaliveAck() && v.signed == p.Signed() {
		return
	}
	c.viewMu.Lock()
	v.faultGen, v.state, v.features, v.queued = c.faultGen, p.State(), p.Features(), p.Queued()
	v.out, v.in, v.connectSeq, v.peerGlobalSeq = out, in, connectSeq, peerGlobalSeq
	v.replyTag, v.keepaliveAck, v.lastFault, v.signed = p.LastReplyTag(), p.LastKeepaliveAck(), c.lastFault, p.Signed()
	c.viewMu.Unlock()
}

// snapshot returns the published view.
func (c *Connection) snapshot() connView {
	c.viewMu.Lock()
	defer c.viewMu.Unlock()
	return c.view
}

type upcallKind uint8

const (
	upDeliver upcallKind = iota + 1
	upEvent
	upDispatch // a delivery already past delay injection (Messenger.deliver)
)

// upcall is a delivery or event collected while the core runs, carried out after mu is released.
type upcall struct {
	kind  upcallKind
	msg   *Message
	res   proto.Reservation
	event proto.EventKind
}

// ID is the connection's number, unique within its messenger.
func (c *Connection) ID() uint64 { return c.id }

// Messenger is the messenger the connection belongs to.
func (c *Connection) Messenger() *Messenger { return c.m }

// PeerType is the peer's entity type (known for an accepted connection once the peer said it).
func (c *Connection) PeerType() wire.EntityType { return wire.EntityType(c.peerType.Load()) }

// PeerAddr is the peer's legacy address (for an accepted connection, the one it announced).
func (c *Connection) PeerAddr() wire.EntityAddr {
	if c.local {
		return c.m.MyAddr()
	}
	if a := c.peerAddr.Load(); a != nil {
		return *a
	}
	return wire.EntityAddr{}
}

// IsLocal reports whether this is the messenger's loopback connection.
func (c *Connection) IsLocal() bool { return c.local }

// Priv returns what SetPriv stored (Ceph's connection priv).
func (c *Connection) Priv() any {
	if p := c.priv.Load(); p != nil {
		return *p
	}
	return nil
}

// SetPriv attaches a value to the connection.
func (c *Connection) SetPriv(v any) { c.priv.Store(&v) }

// State is the connection's ProtocolV1 state, as of the end of its last step (introspection
// reads a published view and never waits for the connection's center, so it may be called
// from anywhere, a Tracer included).
func (c *Connection) State() proto.State {
	if c.local {
		return proto.StateOpened
	}
	return c.snapshot().state
}

// IsConnected reports whether the session is open.
func (c *Connection) IsConnected() bool {
	s := c.State()
	return s >= proto.StateOpened && s <= proto.StateReadFooterAndDispatch
}

// Features are the features negotiated with the peer.
func (c *Connection) Features() uint64 {
	if c.local {
		return wire.FeaturesAll
	}
	return c.snapshot().features
}

// Signed reports whether the session signs its messages (it was opened with an authorizer
// whose scheme signs, e.g. cephx, and MSG_AUTH was negotiated): every message it dispatches
// carried a valid signature.
func (c *Connection) Signed() bool {
	return !c.local && c.snapshot().signed && c.Features()&wire.FeatureMsgAuth != 0
}

// LastReplyTag is the tag of the last connect reply this (connecting) side received: READY or
// SEQ once a session opened, 0 before any reply.
func (c *Connection) LastReplyTag() wire.Tag {
	if c.local {
		return 0
	}
	return c.snapshot().replyTag
}

// LastKeepaliveAck is the timestamp the peer echoed in its last KEEPALIVE2_ACK (zero if none).
func (c *Connection) LastKeepaliveAck() time.Time {
	if c.local {
		return time.Time{}
	}
	ts := c.snapshot().keepaliveAck
	if ts == (wire.Timespec{}) {
		return time.Time{}
	}
	return ts.Time()
}

// SendMessage queues msg for the peer. A message with priority 0 gets the messenger's default
// send priority. On a connection already closed it returns ErrConnectionClosed (Ceph drops the
// message silently, quirk Q7); a message queued just before the connection closes is dropped
// and traced as TraceDrop. A message lent by Messenger.NewMessage belongs to the messenger once
// SendMessage returned nil, which recycles it when it is done with it (see NewMessage).
//
// The message is encoded later, on the connection's event loop, and may be written again
// after a reconnect: its sections must not change after the call. A data section of 64 KiB
// or more has its crcs computed here, on the caller's goroutine, as Ceph's send_message
// prepares a message on the sending thread.
func (c *Connection) SendMessage(msg *Message) error {
	if msg.Header.Priority == 0 {
		msg.Header.Priority = c.m.cfg.DefaultSendPriority
	}
	if c.closed.Load() {
		c.m.trace(TraceEvent{Kind: TraceDrop, Conn: c, Msg: msg})
		return ErrConnectionClosed
	}
	taken(msg, c.local)
	if c.m.tracing() {
		c.m.trace(TraceEvent{Kind: TraceSend, Conn: c, Msg: msg})
	}
	if c.local {
		c.m.dq.localDeliver(c, msg)
		return nil
	}
	if len(msg.Data) >= prepareMin { // (prepare's first test, here: a call per message otherwise)
		c.prepare(msg)
	}
	if c.m.cfg.SendInline && c.sendInline(msg) {
		return nil
	}
	// pmu's mutex directly, inlined, unless the lock-order checker runs: rankedMutex's Lock and
	// Unlock are past the inliner's budget, and their two calls cost ~40 instructions per
	// message (BENCHMARKS.md, "The sender's locks").
	if lockOrderCheck {
		c.pmu.Lock()
	} else {
		c.pmu.mu.Lock()
	}
	c.pend = append(c.pend, msg)
	post := !c.flushPosted && !c.performing.Load()
	c.flushPosted = c.flushPosted || post
	if lockOrderCheck {
		c.pmu.Unlock()
	} else {
		c.pmu.mu.Unlock()
	}
	if post {
		c.center.Post(c.flushFn)
	}
	return nil
}

// setPerforming marks that run is about to dispatch what it delivered and will flush after
// it: a reply sent from a fast dispatcher (or anything sent meanwhile) is taken by that flush,
// without posting a flush of its own and waking the center for nothing. An atomic store
// rather than pmu's lock pair (~20 instructions per hop less): a send on another goroutine
// reads the flag under pmu and sees it set or not, as it did with the lock, and either is
// right (set: the flush that follows takes its message; not yet set: it posts a flush, which
// finds pend taken and returns).
func (c *Connection) setPerforming() { c.performing.Store(true) }

// SendKeepalive queues a keepalive to the peer.
func (c *Connection) SendKeepalive() {
	if c.local {
		return
	}
	c.pmu.Lock()
	if c.keepaliveFn == nil {
		c.keepaliveFn = func() { c.run(c.keepalive) }
	}
	fn := c.keepaliveFn
	c.pmu.Unlock()
	c.center.Post(fn)
}

// keepalive queues a keepalive in the core; run calls it with mu held and c.p set.
func (c *Connection) keepalive() { c.p.SendKeepalive() }

// MarkDown closes the connection without a reset event (Ceph's Connection::mark_down); use
// Messenger.MarkDown for one with.
func (c *Connection) MarkDown() { c.markDown(false) }

// markDown stops the session now, from any goroutine: with the connection locked, the core
// stops, the registry forgets it, its queued messages are discarded and, if asked, its reset
// event is queued, all before any later step of its center can retire it. Socket and timers
// are released on the owning center.
func (c *Connection) markDown(withReset bool) {
	if c.local {
		return
	}
	c.mu.Lock()
	if c.p == nil || c.p.State() == proto.StateClosed {
		c.unlock()
		return
	}
	c.m.trace(TraceEvent{Kind: TraceMarkDown, Conn: c})
	c.p.Stop()
	c.markClosed()
	c.m.forget(c)
	c.m.dq.discard(c)
	if withReset {
		c.m.dq.queueEvent(c, proto.EventReset)
	}
	c.unlock()
	c.center.Post(func() { c.run(func() {}) }) // cleans up and retires
}

func (c *Connection) isClosed() bool { return c.closed.Load() }

// markClosed closes the connection for good (IsClosed) and bumps its messenger's Generation.
func (c *Connection) markClosed() {
	c.closed.Store(true)
	c.m.gen.Add(1)
}

// Early writes. A flush that takes many small messages writes the first earlyWriteFirst of
// them, then the next as many again, then twice that, and so on (128, 128, 256, ... messages
// per Writev), instead of encoding the whole batch before its first write: the peer's loop
// starts on the first messages while this loop encodes the rest. A pipelined sender hands the
// loop its messages in bursts (msgr-bench's oneway: half its window of 1024 messages at a
// time, each time the receiver has caught up): at about 115 ns of the client loop's CPU per
// zero-byte message, a burst of 512 was encoded for some 60 us before its first byte left,
// while the server's loop, done with the previous burst, had nothing to do (BENCHMARKS.md,
// Issue 18, "0 B with one connection"). Doubling the chunk bounds the extra Writev calls to
// the logarithm of the batch; a first chunk of 32 gained as much and cost more Writev calls. Only while the messages
// taken carry less than earlyWriteBytes of sections: a batch of larger messages is dominated
// by copying, not encoding, and writing it in pieces cost more than it gained (4 KiB one-way).
// Like the per-chunk crc, this splits a batch over several Writev calls, which on the
// simulator's stack would change schedules: it is done only on a stack with a positive
// WriteChunk (netio.ChunkedWriter, a kernel socket).
const (
	earlyWriteFirst = 128
	earlyWriteBytes = 64 << 10
)

// sendBatch gives ms to the core in one call (a call per message cost ~40 instructions more
// each); the ones a closed core drops are traced and recycled. mu is held.
func (c *Connection) sendBatch(ms []*Message) {
	if len(ms) == 1 { // (a ping-pong's one message: Send, without the batch's loops)
		if !c.p.Send(ms[0]) {
			c.m.trace(TraceEvent{Kind: TraceDrop, Conn: c, Msg: ms[0]})
			(*connHost)(c).recycle(ms[0])
		}
		return
	}
	if n := c.p.SendBatch(ms); n < len(ms) {
		for _, msg := range ms[n:] {
			c.m.trace(TraceEvent{Kind: TraceDrop, Conn: c, Msg: msg})
			(*connHost)(c).recycle(msg)
		}
	}
}

// flush moves messages sent from other goroutines into the core, and writes what is due
// (including output deferred by run). It runs on the owning center: posted by SendMessage, or
// called by run once the dispatchers saw what was read.
func (c *Connection) flush() {
	if lockOrderCheck { // (pmu's mutex directly otherwise, inlined: see SendMessage)
		c.pmu.Lock()
	} else {
		c.pmu.mu.Lock()
	}
	ms := c.pend
	if len(ms) > 0 { // else pend stays as it is, and there is nothing to give back below
		c.pend = c.sparePend[:0]
		c.sparePend = nil
	}
	c.flushPosted = false
	c.performing.Store(false) // taken with pend: a send after this point posts again
	c.moving = len(ms) > 0
	if lockOrderCheck {
		c.pmu.Unlock()
	} else {
		c.pmu.mu.Unlock()
	}
	if len(ms) == 0 {
		if c.deferWrite && !c.readPaused {
			c.run(func() { c.deferWrite = false })
		}
		return // else nothing queued: run's flush took the messages this one was posted for
	}
	c.run(func() {
		c.deferWrite = false
		early := len(ms) > earlyWriteFirst && c.m.pcfg.WriteChunk > 0
		if !early {
			c.sendBatch(ms)
			return
		}
		// The early writes: the messages up to each write point go in as one batch.
		done, next, bytes := 0, earlyWriteFirst, 0
		for done < len(ms) {
			end := len(ms)
			if early {
				end = min(next, len(ms))
			}
			c.sendBatch(ms[done:end])
			if early {
				for _, msg := range ms[done:end] {
					bytes += len(msg.Front) + len(msg.Middle) + len(msg.Data)
				}
			}
			done = end
			if early && done == next && done < len(ms) {
				next *= 2
				early = bytes < earlyWriteBytes
				if early && c.sock != nil && !c.connecting && !c.writeBlocked {
					c.writeOut()
				}
			}
		}
	})
	clearFew(ms)
	if lockOrderCheck {
		c.pmu.Lock()
	} else {
		c.pmu.mu.Lock()
	}
	if len(ms) > 0 {
		c.moving = false // ms are in the core (or dropped): an inline send goes after them
	}
	if c.sparePend == nil {
		c.sparePend = ms[:0]
	}
	if lockOrderCheck {
		c.pmu.Unlock()
	} else {
		c.pmu.mu.Unlock()
	}
}

// Queued is the number of messages waiting to be sent or acknowledged.
func (c *Connection) Queued() int {
	if c.local {
		return 0
	}
	c.pmu.Lock()
	n := len(c.pend)
	c.pmu.Unlock()
	return n + c.snapshot().queued
}

// LastFault is the error the connection last faulted with (nil if it never faulted); classify
// it with ClassifyFault.
func (c *Connection) LastFault() error {
	if c.local {
		return nil
	}
	return c.snapshot().lastFault
}

// Held is the number of received messages held back by delay injection (InjectDelay).
func (c *Connection) Held() int { return int(c.nheld.Load()) }

// Seqs reports the session's sequence numbers: out_seq, in_seq, connect_seq, peer_global_seq.
func (c *Connection) Seqs() (out, in uint64, connectSeq, peerGlobalSeq uint32) {
	if c.local {
		return 0, 0, 0, 0
	}
	v := c.snapshot()
	return v.out, v.in, v.connectSeq, v.peerGlobalSeq
}

// sendInline is SendMessage's direct path (Config.SendInline, Ceph's ms_async_send_inline):
// when the owning center is not running the connection (its lock is free), the session is
// open and nothing is waiting to be written or queued ahead of msg, the caller's goroutine
// gives msg to the core and writes it to the socket itself, under the connection's lock,
// instead of posting a flush and waking the center. What only the center may do (watching
// the socket for writability, moving the timer earlier, upcalls after a fault, cleanup) is
// left to it: a run with nothing to do is posted when any of it is due. It reports whether it
// took msg; false leaves msg to the posted path, in order behind what is queued.
func (c *Connection) sendInline(msg *Message) bool {
	if !c.mu.tryLock() {
		return false // the center runs the connection (or a markDown or accept decision holds it)
	}
	if !c.idleForInline() {
		c.mu.Unlock()
		return false
	}
	c.p.Send(msg)
	c.m.counters.inline.Add(1)
	c.writeOut()
	settle := c.writeBlocked || c.sock == nil || c.p.HasOutput() || len(c.upcalls) > 0 ||
		c.connectErr != nil || c.handover != nil || c.p.State() != proto.StateOpened
	if at, ok := c.p.NextDeadline(); ok && (c.timer == 0 || at < c.timerAt) {
		settle = true // the timer would fire late: the center re-arms it
	}
	if c.settleFn == nil {
		c.settleFn = c.settle
	}
	fn := c.settleFn
	c.unlock()
	if settle {
		c.center.Post(fn)
	}
	return true
}

// idleForInline reports whether a send may be written from the caller's goroutine; mu is
// held. The session must be open with its socket writable and connected, the core must have
// nothing to write (so msg does not overtake an ACK or an earlier message), and no message
// may be waiting in pend or on its way from pend into the core.
//
// The connection must also be idle in the stronger sense that every message it wrote was
// acknowledged (Queued is 0). A pipelined sender always has messages in flight, so its sends
// keep going through the center, where they are written many per writev; written inline,
// each would take a sendmsg of its own (measured: 2-7x the CPU per message, see
// BENCHMARKS.md). What is left inline is the latency case: a request on a quiet session.
func (c *Connection) idleForInline() bool {
	if c.p == nil || c.cleaned || c.sock == nil || c.connecting || c.writeBlocked || c.deferWrite ||
		c.handover != nil || c.connectErr != nil || len(c.upcalls) > 0 ||
		c.p.State() != proto.StateOpened || c.p.HasOutput() || c.p.Queued() != 0 {
		return false
	}
	c.pmu.Lock()
	idle := len(c.pend) == 0 && !c.flushPosted && !c.performing.Load() && !c.moving
	c.pmu.Unlock()
	return idle
}

// settle is a run with nothing to do: it settles, on the owning center, what an inline send
// left to it (interest, timer, upcalls, output, cleanup).
func (c *Connection) settle() { c.run(func() {}) }
