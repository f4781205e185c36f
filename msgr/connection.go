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
// the event center that owns it, and a proto.Conn. Its methods are safe from any goroutine.
type Connection struct {
	m      *Messenger
	id     uint64
	center *event.Center
	local  bool

	// mu guards the protocol state and the I/O state below. The owning center holds it while
	// it runs the connection; other goroutines hold it only briefly (accept decisions,
	// mark_down). It is never held while a dispatcher runs.
	mu           sync.Mutex
	p            *proto.Conn
	sock         netio.Socket
	mask         netio.Events // interest registered for sock
	connecting   bool         // a nonblocking connect is in progress on sock
	writeBlocked bool         // the last write could not finish: wait for writability
	connectErr   error        // Connect failed at once; reported after the core returns
	inCenter     bool         // the owning center is running the connection now
	timer        event.TimerID
	timerAt      time.Duration
	regAddr      wire.EntityAddr // registry key, when registered
	cleaned      bool
	// marking: markDown (from any goroutine) stopped the core and has not queued its reset
	// event yet; the connection must not retire before it has, or a messenger shutting down
	// could drain its dispatch queue before the event arrives (found by the real-TCP soak)
	marking    bool
	upcalls    []upcall
	handover   *handover // a lossless replace to carry out once the core returns
	lastFault  error     // why the connection last faulted
	drained    bool      // the last read found the socket empty (see sync)
	deferWrite bool      // messages were delivered: write after dispatch (see run)

	// Owned by the center's goroutine: the upcall slice run is not using (reused, so that
	// collecting upcalls does not allocate), and the free list of the center.
	spareUpcalls []upcall
	bufs         *bufCache
	flushFn      func() // c.flush, bound once
	timerFn      func() // c.onTimer, bound once
	onFileFn     event.FileHandler

	closed atomic.Bool

	// Owned by the center's goroutine, touched outside mu: delay injection.
	held      []delayed
	heldTimer event.TimerID
	nheld     atomic.Int64

	pmu         sync.Mutex // guards pend, sparePend, flushPosted and performing
	pend        []*Message
	sparePend   []*Message // the other half of pend's double buffer (see flush)
	flushPosted bool
	performing  bool // run is dispatching and will flush: sends need no post (see SendMessage)

	peerType atomic.Uint32
	peerAddr atomic.Pointer[wire.EntityAddr]
	priv     atomic.Pointer[any]
}

type upcallKind uint8

const (
	upDeliver upcallKind = iota + 1
	upEvent
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

// State is the connection's ProtocolV1 state.
func (c *Connection) State() proto.State {
	if c.local {
		return proto.StateOpened
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p == nil {
		return proto.StateNone
	}
	return c.p.State()
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
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p == nil {
		return 0
	}
	return c.p.Features()
}

// LastReplyTag is the tag of the last connect reply this (connecting) side received: READY or
// SEQ once a session opened, 0 before any reply.
func (c *Connection) LastReplyTag() wire.Tag {
	if c.local {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p == nil {
		return 0
	}
	return c.p.LastReply().Tag
}

// LastKeepaliveAck is the timestamp the peer echoed in its last KEEPALIVE2_ACK (zero if none).
func (c *Connection) LastKeepaliveAck() time.Time {
	if c.local {
		return time.Time{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p == nil || c.p.LastKeepaliveAck() == (wire.Timespec{}) {
		return time.Time{}
	}
	return c.p.LastKeepaliveAck().Time()
}

// SendMessage queues msg for the peer. A message with priority 0 gets the messenger's default
// send priority. On a connection already closed it returns ErrConnectionClosed (Ceph drops the
// message silently, quirk Q7); a message queued just before the connection closes is dropped
// and traced as TraceDrop.
func (c *Connection) SendMessage(msg *Message) error {
	if msg.Header.Priority == 0 {
		msg.Header.Priority = c.m.cfg.DefaultSendPriority
	}
	if c.closed.Load() {
		c.m.trace(TraceEvent{Kind: TraceDrop, Conn: c, Msg: msg})
		return ErrConnectionClosed
	}
	c.m.trace(TraceEvent{Kind: TraceSend, Conn: c, Msg: msg})
	if c.local {
		c.m.dq.localDeliver(c, msg)
		return nil
	}
	c.pmu.Lock()
	c.pend = append(c.pend, msg)
	post := !c.flushPosted && !c.performing
	c.flushPosted = c.flushPosted || post
	c.pmu.Unlock()
	if post {
		c.center.Post(c.flushFn)
	}
	return nil
}

// setPerforming marks that run is about to dispatch what it delivered and will flush after
// it: a reply sent from a fast dispatcher (or anything sent meanwhile) is taken by that flush,
// without posting a flush of its own and waking the center for nothing.
func (c *Connection) setPerforming() {
	c.pmu.Lock()
	c.performing = true
	c.pmu.Unlock()
}

// SendKeepalive queues a keepalive to the peer.
func (c *Connection) SendKeepalive() {
	if c.local {
		return
	}
	c.center.Post(func() { c.run(c.p.SendKeepalive) })
}

// MarkDown closes the connection without a reset event (Ceph's Connection::mark_down); use
// Messenger.MarkDown for one with.
func (c *Connection) MarkDown() { c.markDown(false) }

// markDown stops the session now; socket and timers are released on the owning center.
func (c *Connection) markDown(withReset bool) {
	if c.local {
		return
	}
	c.mu.Lock()
	if c.p == nil || c.p.State() == proto.StateClosed {
		c.mu.Unlock()
		return
	}
	c.p.Stop()
	c.closed.Store(true)
	c.marking = true
	c.mu.Unlock()
	c.m.forget(c)
	c.m.dq.discard(c)
	if withReset {
		c.m.dq.queueEvent(c, proto.EventReset)
	}
	c.mu.Lock()
	c.marking = false
	c.mu.Unlock()
	c.center.Post(func() { c.run(func() {}) }) // cleans up and retires
}

func (c *Connection) isClosed() bool { return c.closed.Load() }

// flush moves messages sent from other goroutines into the core, and writes what is due
// (including output deferred by run). It runs on the owning center: posted by SendMessage, or
// called by run once the dispatchers saw what was read.
func (c *Connection) flush() {
	c.pmu.Lock()
	ms := c.pend
	c.pend = c.sparePend[:0]
	c.sparePend = nil
	c.flushPosted = false
	c.performing = false // taken with pend: a send after this point posts again
	c.pmu.Unlock()
	if len(ms) == 0 && !c.writeDeferred() {
		return // nothing queued: run's flush took the messages this one was posted for
	}
	c.run(func() {
		c.deferWrite = false
		for _, msg := range ms {
			if !c.p.Send(msg) {
				c.m.trace(TraceEvent{Kind: TraceDrop, Conn: c, Msg: msg})
			}
		}
	})
	clear(ms)
	c.pmu.Lock()
	if c.sparePend == nil {
		c.sparePend = ms[:0]
	}
	c.pmu.Unlock()
}

// writeDeferred reports whether run deferred a write (see run).
func (c *Connection) writeDeferred() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deferWrite
}

// Queued is the number of messages waiting to be sent or acknowledged.
func (c *Connection) Queued() int {
	if c.local {
		return 0
	}
	c.pmu.Lock()
	n := len(c.pend)
	c.pmu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p != nil {
		n += c.p.Queued()
	}
	return n
}

// LastFault is the error the connection last faulted with (nil if it never faulted); classify
// it with ClassifyFault.
func (c *Connection) LastFault() error {
	if c.local {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastFault
}

// Held is the number of received messages held back by delay injection (InjectDelay).
func (c *Connection) Held() int { return int(c.nheld.Load()) }

// Seqs reports the session's sequence numbers: out_seq, in_seq, connect_seq, peer_global_seq.
func (c *Connection) Seqs() (out, in uint64, connectSeq, peerGlobalSeq uint32) {
	if c.local {
		return 0, 0, 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p == nil {
		return 0, 0, 0, 0
	}
	return c.p.Seqs()
}
