package proto

import "github.com/msgrsim/msgrsim/msgr/wire"

// Introspection for tests, fuzzers and checkers: what a connection holds, as plain values. The
// fuzz harnesses (fuzz/protofuzz) bound the memory a peer can make a connection take with it,
// the rapid and transcript tests compare its bookkeeping with a model. Nothing here changes the
// connection, and nothing it returns aliases the connection's own state except the messages of
// Pending, which the connection still owns.

// Inspection is a snapshot of what a connection holds.
type Inspection struct {
	// GlobalSeq is the global_seq of the connector's current connect attempt.
	GlobalSeq uint32
	// OnceReady reports whether the session opened at least once on this connection (an
	// acceptor is in no registry and known to no dispatcher before that).
	OnceReady bool

	// Queued is the number of messages waiting to be written (requeued ones included), Sent
	// the number written and not yet acknowledged (lossless sessions): Conn.Queued is their
	// sum. KeepalivePending reports a keepalive waiting to be written.
	Queued           int
	Sent             int
	KeepalivePending bool

	// ReadWant is the size of the item the reader is waiting to complete: a small structure
	// gathered in the scratch array, or a section, authorizer or other buffer sized by a
	// length the peer sent (the largest single buffer its input made the connection take).
	ReadWant int
	// PrefetchHeld reports whether the connection holds its prefetch buffer (it takes it at
	// its first read and, with a Host that lends Buffers, gives it back while idle);
	// PrefetchLen is that buffer's length and PrefetchSize the configured size (defaults
	// applied): the buffer never grows past it.
	PrefetchHeld bool
	PrefetchLen  int
	PrefetchSize int
	// AuthorizerLen is the length of the peer's authorizer the connection holds.
	AuthorizerLen int
	// Receiving reports a message being read (header read, sections or footer pending);
	// ReceivingHeader is a copy of its header.
	Receiving       bool
	ReceivingHeader wire.Header
}

// Inspect returns a snapshot of what the connection holds.
func (c *Conn) Inspect() Inspection {
	in := Inspection{
		GlobalSeq: c.globalSeq, OnceReady: c.onceReady,
		Queued: c.queue.len(), Sent: c.sent.len(), KeepalivePending: c.keepalive,
		ReadWant:     c.readWant(),
		PrefetchHeld: c.in.buf != nil, PrefetchLen: len(c.in.buf), PrefetchSize: c.cfg.PrefetchSize,
		AuthorizerLen: len(c.authorizer),
	}
	if c.rx.msg != nil {
		in.Receiving, in.ReceivingHeader = true, c.rx.msg.Header
	}
	return in
}

// readWant is how many bytes the current need wants, 0 when there is none (a consumed need
// keeps its other fields until the next one is set).
func (c *Conn) readWant() int {
	if c.need.then == nil {
		return 0
	}
	return max(c.need.n, len(c.need.dst))
}

// Pending returns the messages the connection holds for its peer, in the order it would
// resend them after a reconnect: written but not acknowledged, then requeued, then waiting
// by priority (highest first, FIFO within a priority). The slice is new; the messages still
// belong to the connection.
func (c *Conn) Pending() []*wire.Message {
	ms := make([]*wire.Message, 0, c.Queued())
	ms = append(ms, c.sent.live()...)
	ms = append(ms, c.queue.requeued.live()...)
	for i := range c.queue.byPrio {
		ms = append(ms, c.queue.byPrio[i].live()...)
	}
	return ms
}

// IsOpen reports whether a connection in state s has an open session: OPENED, or in the
// middle of reading a message (the THROTTLE_* and READ_* states).
func (s State) IsOpen() bool { return s.open() }
