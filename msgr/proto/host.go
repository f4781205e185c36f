package proto

import (
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Throttle is a non-blocking counting throttle (Ceph's Throttle used with get_or_fail). The
// core never blocks on one: when TryGet fails it parks the connection in a THROTTLE_* state and
// retries on a 1 ms timer.
type Throttle interface {
	// TryGet takes n units if it can and reports whether it did. A request larger than the
	// maximum is admitted when nothing is held (Ceph's rule), so it is serialised, not refused.
	TryGet(n int64) bool
	// Put returns n units.
	Put(n int64)
}

// Throttles are the three throttles a received message passes (msgr1-protocol.md §4.4).
// A nil throttle is unlimited.
type Throttles struct {
	Messages Throttle // policy: one unit per message
	Bytes    Throttle // policy: front+middle+data bytes
	Dispatch Throttle // messenger: bytes waiting for or in dispatch
}

// Reservation is what a delivered message holds of the throttles; whoever dispatches the
// message returns it (Release) once the dispatcher is done with it.
type Reservation struct {
	Messages int64
	Bytes    int64
	Dispatch int64
	From     Throttles // where the units were taken
}

// Release returns the units to the throttles they came from. It takes r by pointer and
// does the work itself: a dispatcher releases every message it delivers, and passing the
// nine-word Reservation by value twice (here and to Throttles.Release) cost more than the
// checks.
func (r *Reservation) Release() { r.From.put(r) }

// Release returns r to t.
func (t Throttles) Release(r Reservation) { t.put(&r) }

// put returns r's units to t, testing the units first: most are 0 (a messenger without
// policy throttles takes only the dispatch throttle).
func (t *Throttles) put(r *Reservation) {
	if r.Messages > 0 && t.Messages != nil {
		t.Messages.Put(r.Messages)
	}
	if r.Bytes > 0 && t.Bytes != nil {
		t.Bytes.Put(r.Bytes)
	}
	if r.Dispatch > 0 && t.Dispatch != nil {
		t.Dispatch.Put(r.Dispatch)
	}
}

// AckObserver is an optional extension of Host. A Host that implements it is told of every
// message of a lossless session that the peer acknowledged — by an ACK frame, or by the in_seq
// it announced in a SEQ exchange — just before the session forgets the message. Checkers use it
// to verify that an acknowledgement never covers a message the peer has not received.
type AckObserver interface {
	// Acked reports the messages one acknowledgement covers, oldest first. ms is the core's
	// own list, valid only during the call: a host copies the pointers it keeps. (One call
	// per acknowledgement: an ACK of a pipelined session covers dozens of messages, and a
	// call per message cost more than what the host did with it.)
	Acked(ms []*wire.Message)
}

// Dropper is an optional extension of Host. A Host that implements it is told of every
// message the core is done with although no acknowledgement covered it: a lossy session's
// message once it is encoded for the socket (its sections may still be referenced by output
// not yet written; the Message itself no longer is), and the queued, requeued and
// unacknowledged messages that a session reset, a lossy fault or Stop discards. With
// AckObserver it accounts for every message Send accepted: each is reported once, by Acked
// or by Dropped, and after that the core holds no reference to it. A message that a fault
// requeues for the next socket is reported only when it is acknowledged or discarded later.
// The messenger recycles the messages it lent the application (msgr.Messenger.NewMessage)
// through it.
type Dropper interface {
	Dropped(m *wire.Message)
}

// EventKind is a connection event reported to dispatchers (Ceph's D_CONNECT, D_ACCEPT, …).
type EventKind uint8

// Connection events.
const (
	EventConnect     EventKind = iota + 1 // outgoing session (re)established
	EventAccept                           // incoming session established
	EventReset                            // session dropped (lossy fault, replaced, marked down)
	EventRemoteReset                      // the peer reset the session: messages may be lost
	EventRefused                          // the peer refused the TCP connection
)

func (k EventKind) String() string {
	switch k {
	case EventConnect:
		return "connect"
	case EventAccept:
		return "accept"
	case EventReset:
		return "reset"
	case EventRemoteReset:
		return "remote_reset"
	case EventRefused:
		return "refused"
	}
	return "event?"
}

// ConnectRequest is what an acceptor learned from one connect message: what it asks for and
// who asks. The host turns it into a Decision (see Decide).
type ConnectRequest struct {
	Connect    wire.Connect
	Authorizer []byte
	PeerAddr   wire.EntityAddr // the address the peer announced (blank IP filled from the socket)
	Policy     Policy          // this messenger's policy for the peer's type
	Replacing  bool            // this connection adopted a socket in a replace (§3.5)
}

// Buffers is an optional extension of Host: it lends a connection its memory so that a
// messenger can recycle it instead of allocating on every message. Without it the core
// allocates. Recycled memory never changes what the core does: every byte it reads from a
// buffer was written into it first.
type Buffers interface {
	// NewMessage returns a zero message to receive a frame into (its header is decoded into
	// it in place).
	NewMessage() *wire.Message
	// SectionBuffer returns a buffer of length n (any contents) to read a section of the
	// message being received into. The core asks for it only when it starts reading that
	// section, after the throttles admitted the message, never for a length a peer merely
	// announced.
	SectionBuffer(n int) []byte
	// GetBuffer returns a buffer of length n (any contents); PutBuffer takes back one the
	// connection no longer uses (the prefetch buffer and output arenas of an idle
	// connection, see ReleaseIdle).
	GetBuffer(n int) []byte
	PutBuffer(b []byte)
}

// Host is everything the protocol core asks of its driver: I/O on the transport, upcalls to
// the messenger, time and randomness. The core calls it synchronously from within its own
// methods; a Host must not call back into the same Conn from these callbacks.
type Host interface {
	// Now is monotonic time; Wall is calendar time for KEEPALIVE2 stamps.
	Now() time.Duration
	Wall() time.Time
	// Rand is the owning center's random source.
	Rand() *detrand.Rand

	// StartConnect opens a new socket to the peer (closing any previous one). The driver
	// answers with Conn.Connected or Conn.ConnectFailed.
	StartConnect()
	// CloseTransport closes the current socket, if any. Unwritten output is already discarded.
	CloseTransport()

	// ClientAuth starts the authorizer exchange of a connection attempt to a peer type (see
	// ClientAuth); randomness it needs comes from Rand.
	ClientAuth(peer wire.EntityType) ClientAuth

	// MyAddr is the messenger's legacy address (announced in the handshake).
	MyAddr() wire.EntityAddr
	// LearnAddr tells the messenger what address the peer saw for us; it returns the address
	// to announce from now on.
	LearnAddr(peerSaw wire.EntityAddr) wire.EntityAddr
	// GlobalSeq returns the messenger's next global_seq, first raising the counter to atLeast.
	GlobalSeq(atLeast uint32) uint32
	// PolicyFor returns the messenger's policy and throttles for a peer type (acceptor side).
	PolicyFor(t wire.EntityType) (Policy, Throttles)
	// AcceptConnect decides what to answer to a connect message (registry lookup, Decide, and
	// the side effects on an existing connection). An Open decision must already be
	// registered when it returns.
	AcceptConnect(req *ConnectRequest) Decision

	// Deliver hands over a received message, in order, with the throttle units it holds.
	// *r is the Conn's, valid only during the call: a host copies what it keeps before it
	// returns or calls back into the Conn, and changes nothing of it (r.From is the Conn's
	// throttles, kept there for every message). (By pointer: the nine-word Reservation was
	// copied twice per message, into the call's arguments and out of them.)
	Deliver(m *wire.Message, r *Reservation)
	// DiscardIncoming drops this connection's messages that were delivered but not yet
	// dispatched (a session reset) and releases their throttle units.
	DiscardIncoming()
	// Event reports a connection event to the dispatchers.
	Event(kind EventKind)
	// Faulted reports why the connection faulted (for logs, counters and traces).
	Faulted(state State, err error)
}

// StateObserver is an optional extension of Host: a Host that implements it is told of every
// state transition (for traces and coverage). A received message walks six states (OPENED,
// THROTTLE_MESSAGE, THROTTLE_BYTES, THROTTLE_DISPATCH_QUEUE, READ_MESSAGE_FRONT,
// READ_FOOTER_AND_DISPATCH and back), so a host that does not need them should not implement
// it: the core checks for it once, when the Conn is created, and then a transition costs one
// nil check. A messenger without a Tracer does not implement it.
type StateObserver interface {
	StateChanged(from, to State)
}

// Observer is an optional interface of a Host: a Host that implements it is told of what
// the core does that only counters care about. The core checks for it once, when the Conn is
// created, so a Host without it costs nothing. (The messages written are counted by the Conn
// itself, see TakeWritten: an upcall per written message cost more than the counter.)
type Observer interface {
	// Throttled reports that a received message starts waiting for a full throttle (it is
	// reported once per wait, not for every 1 ms retry).
	Throttled(s State)
}
