package proto

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Config is what a connection needs to know about its messenger. Zero durations take Ceph's
// defaults.
type Config struct {
	MyName          wire.EntityName
	ClusterProtocol uint32 // protocol_version between peers of the messenger's own type
	CRCHeader       bool   // ms_crc_header: compute and verify header, front and middle crcs
	CRCData         bool   // ms_crc_data: compute and verify data crcs
	Limits          wire.Limits
	PrefetchSize    int // ms_tcp_prefetch_max_size (default 4 KiB)
	// WriteChunk, when positive, makes the data crc of a data section longer than WriteChunk
	// bytes be computed one chunk of WriteChunk bytes at a time, each right before Output
	// first hands the chunk out, and the footer be encoded once the last chunk's crc is
	// known: the crc then pulls the chunk into the CPU's cache just before a kernel socket
	// copies it. Output then hands out less than two chunks of such a section beyond what was
	// written (a batch holding one is written in several Writev calls). The bytes on the wire
	// are the same. 0 (the simulator's setting, where no cache is involved and a schedule depends
	// on the bytes offered to each Writev) computes the whole crc when the message is encoded.
	WriteChunk int

	InitialBackoff time.Duration // ms_initial_backoff (0.2 s)
	MaxBackoff     time.Duration // ms_max_backoff (15 s)
	ReadyTimeout   time.Duration // ms_connection_ready_timeout (10 s)
	IdleTimeout    time.Duration // ms_connection_idle_timeout (900 s)
}

// Ceph's defaults.
const (
	DefaultInitialBackoff = 200 * time.Millisecond
	DefaultMaxBackoff     = 15 * time.Second
	DefaultReadyTimeout   = 10 * time.Second
	DefaultIdleTimeout    = 900 * time.Second
	DefaultPrefetchSize   = 4096
	throttleRetry         = time.Millisecond
)

func (cfg *Config) setDefaults() {
	if cfg.InitialBackoff == 0 {
		cfg.InitialBackoff = DefaultInitialBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.PrefetchSize < 512 {
		cfg.PrefetchSize = DefaultPrefetchSize
	}
	// The default limits filled in, so that handleHeader's comparisons with them decide
	// (Limits.CheckHeader only words a refusal).
	l := &cfg.Limits
	l.MaxFrontLen = cmp.Or(l.MaxFrontLen, wire.DefaultMaxFrontLen)
	l.MaxMiddleLen = cmp.Or(l.MaxMiddleLen, wire.DefaultMaxMiddleLen)
	l.MaxDataLen = cmp.Or(l.MaxDataLen, wire.DefaultMaxDataLen)
	l.MaxMessageLen = cmp.Or(l.MaxMessageLen, wire.DefaultMaxMessageLen)
	l.MaxAuthorizerLen = cmp.Or(l.MaxAuthorizerLen, wire.DefaultMaxAuthorizerLen)
}

// Errors a connection faults with (wrapped with context; test with errors.Is). Decoding
// errors from package wire are passed through.
var (
	ErrPeerAddrMismatch = errors.New("msgr1: peer announced an unexpected address")
	ErrRejected         = errors.New("msgr1: connect rejected by peer")
	ErrProtocol         = errors.New("msgr1: protocol violation")
	ErrTimeout          = errors.New("msgr1: timeout")
	// ErrHandshakeTimeout: the session did not open within ReadyTimeout (the handshake
	// deadline; it ends a peer that trickles its handshake one byte at a time).
	ErrHandshakeTimeout = fmt.Errorf("%w: handshake deadline", ErrTimeout)
	// ErrIdleTimeout: nothing was read or written for IdleTimeout.
	ErrIdleTimeout = fmt.Errorf("%w: idle", ErrTimeout)
	// ErrSeqRegression: a message on one socket did not have a higher seq than the message
	// before it on the same socket (a sender numbers messages in order as it writes them).
	ErrSeqRegression = fmt.Errorf("%w: message seq went backwards", ErrProtocol)
	ErrTransport     = errors.New("msgr1: transport failed")
	ErrStopped       = errors.New("msgr1: connection stopped")
)

// Conn is one ProtocolV1 connection, without I/O: the driver feeds it received bytes
// (ReadBuf/Received), writes what it produces (Output/Wrote), tells it about the transport
// (Connected, ConnectFailed, TransportError) and time (Tick at NextDeadline); the Conn calls
// its Host for everything else. A Conn is not safe for concurrent use.
type Conn struct {
	cfg   Config
	host  Host
	obs   Observer      // host's optional Observer, nil when it has none
	acks  AckObserver   // host, when it wants to hear of acknowledged messages
	drops Dropper       // host, when it wants to hear of messages dropped unacknowledged
	reach Reacher       // host, when it counts probes (simulation); nil in production
	watch StateObserver // host, when it hears of state transitions (traces); nil in production
	bufs  Buffers       // the host's, if it lends memory (nil: allocate)

	state     State
	connector bool // we initiated the session (a non-server side)

	policy    Policy
	throttles Throttles
	// dispatchOnly: no policy throttles (the messenger's dispatch throttle is the only one)
	// and no state watcher, so handleHeader takes its short way (set with the throttles).
	dispatchOnly bool
	peerType     wire.EntityType
	peerAddr     wire.EntityAddr // target (connector) or announced address (acceptor)
	sockPeer     wire.EntityAddr // acceptor: the TCP peer address as accepted
	features     uint64          // negotiated

	// session
	globalSeq     uint32
	connectSeq    uint32
	peerGlobalSeq uint32
	outSeq        uint64
	inSeq         uint64
	ackLeft       int
	socketSeq     uint64 // seq of the last message received on the current socket (0: none)
	onceReady     bool
	seqUnsynced   bool // opened for a peer's reconnect with no session here; its in_seq not yet read (Q16)
	// connectUnheard: a connect of this session was written and since then no reply read
	// that did not open the session there, nor the session opened here: the peer may have
	// opened the session from it (Q17).
	connectUnheard bool
	replacing      bool
	resetFromPeer  bool
	restartAdopt   bool // this session once adopted the socket of a restarted peer (probes only)
	waitBackoff    bool // the pending reconnect backs off after a WAIT (probes only)

	queue     outQueue
	sent      fifo          // written, not yet acknowledged (lossless sessions)
	keepalive bool          // a keepalive is to be sent
	kaAck     wire.Timespec // the latest KEEPALIVE2 stamp to echo
	kaAckDue  bool

	lastKeepaliveAck wire.Timespec
	lastActive       time.Duration
	written          uint32 // messages encoded for writing since the last TakeWritten

	// handshake scratch
	connectMsg     wire.Connect
	authorizer     []byte
	reply          wire.ConnectReply
	clientAuth     ClientAuth // connector: this socket's authorizer exchange
	challenges     int        // connector: CHALLENGE_AUTHORIZER replies in a row
	pendingSession Session    // connector: the signer the reply's authorizer gave

	session Session // signs and checks the open session's messages (nil: unsigned)

	// receive
	in         inbuf
	need       need
	scratch    [maxSmall]byte
	readPaused bool
	lastDirect bool
	rx         rxMessage

	out outbuf

	// timers (0 = not armed)
	backoff       time.Duration
	reconnectAt   time.Duration
	readyDeadline time.Duration
	idleDeadline  time.Duration
	throttleAt    time.Duration
}

func newConn(cfg Config, host Host) *Conn {
	c := new(Conn)
	c.init(cfg, host)
	return c
}

// init sets up c, a zero Conn, for host.
func (c *Conn) init(cfg Config, host Host) {
	cfg.setDefaults()
	c.cfg, c.host = cfg, host
	c.obs, _ = host.(Observer)
	c.acks, _ = host.(AckObserver)
	c.drops, _ = host.(Dropper)
	c.reach, _ = host.(Reacher)
	c.watch, _ = host.(StateObserver)
	c.bufs, _ = host.(Buffers)
	c.out.bufs = c.bufs
}

// NewConnector returns a connection that will connect to peer (a legacy address) of type
// peerType with the given policy and throttles. Call Start to begin.
func NewConnector(cfg Config, host Host, peer wire.EntityAddr, peerType wire.EntityType, p Policy, t Throttles) *Conn {
	c := new(Conn)
	c.InitConnector(cfg, host, peer, peerType, p, t)
	return c
}

// InitConnector sets up c, a zero Conn, as NewConnector would: for a host that keeps the Conn
// inside its own connection (one allocation for both).
func (c *Conn) InitConnector(cfg Config, host Host, peer wire.EntityAddr, peerType wire.EntityType, p Policy, t Throttles) {
	c.init(cfg, host)
	c.connector = true
	c.peerAddr, c.peerType, c.policy = peer, peerType, p
	c.setThrottles(t)
}

// setThrottles makes t the throttles of the messages received from now on. The Reservation
// handed to Host.Deliver names them too (rx.res.From, kept equal to throttles here and in
// releaseRx): a store of three interfaces per delivered message otherwise.
func (c *Conn) setThrottles(t Throttles) {
	c.throttles = t
	c.rx.res.From = t
	c.dispatchOnly = c.watch == nil && t.Messages == nil && t.Bytes == nil
}

// NewAcceptor returns a connection for a socket accepted from sockPeer (its TCP address).
// Call Start once the socket is watched.
func NewAcceptor(cfg Config, host Host, sockPeer wire.EntityAddr) *Conn {
	c := new(Conn)
	c.InitAcceptor(cfg, host, sockPeer)
	return c
}

// InitAcceptor sets up c, a zero Conn, as NewAcceptor would (see InitConnector).
func (c *Conn) InitAcceptor(cfg Config, host Host, sockPeer wire.EntityAddr) {
	c.init(cfg, host)
	c.sockPeer = sockPeer
}

// State is the connection's ProtocolV1 state.
func (c *Conn) State() State { return c.state }

// Policy is the policy in force (for an acceptor, known once the connect message arrived).
func (c *Conn) Policy() Policy { return c.policy }

// PeerType is the peer's entity type (for an acceptor, known once the connect message arrived).
func (c *Conn) PeerType() wire.EntityType { return c.peerType }

// PeerAddr is the peer's legacy address.
func (c *Conn) PeerAddr() wire.EntityAddr { return c.peerAddr }

// Features are the negotiated features (0 before the session opened).
func (c *Conn) Features() uint64 { return c.features }

// Seqs reports the session's sequence numbers (for tests, traces and invariant checks).
func (c *Conn) Seqs() (out, in uint64, connectSeq, peerGlobalSeq uint32) {
	return c.outSeq, c.inSeq, c.connectSeq, c.peerGlobalSeq
}

// Snapshot describes the session for the accept decision of another connection (§3.2).
func (c *Conn) Snapshot() Existing {
	return Existing{
		Present: true, State: c.state, Replacing: c.replacing, ConnectSeq: c.connectSeq,
		PeerGlobalSeq: c.peerGlobalSeq, Lossy: c.policy.Lossy, Server: c.policy.Server,
		ConnectUnheard: c.connectUnheard,
	}
}

// Queued is the number of messages waiting to be sent or acknowledged.
func (c *Conn) Queued() int { return c.queue.len() + c.sent.len() }

// IsConnector reports whether this side initiated the session.
func (c *Conn) IsConnector() bool { return c.connector }

// setState is small enough to be inlined: a received message walks six states, and only a
// traced messenger's host hears of them.
func (c *Conn) setState(s State) {
	if c.watch != nil {
		c.reportState(s)
		return
	}
	c.state = s
}

// reportState is setState for a watched connection. It is not inlined into setState, which
// then stays small enough to be inlined itself.
//
//go:noinline
func (c *Conn) reportState(s State) {
	if s == c.state {
		return
	}
	from := c.state
	c.state = s
	c.watch.StateChanged(from, s)
}

// Start begins the connection: a connector asks its host for a socket, an acceptor writes its
// greeting and starts reading. A connection stopped before it started (marked down while its
// start was still queued on its center) stays closed.
func (c *Conn) Start() {
	if c.state == StateClosed {
		return
	}
	if c.connector {
		c.globalSeq = c.host.GlobalSeq(0)
		c.startConnect()
		return
	}
	c.startAccept()
}

// ReadBuf returns where the driver should read input into next, or nil when the connection
// does not want input now (stop polling for readability until it does: see WantRead).
func (c *Conn) ReadBuf() []byte {
	if !c.reading() {
		return nil
	}
	nd := &c.need
	if nd.dst != nil && c.in.buffered() == 0 && nd.n-nd.filled >= c.directMin() {
		c.lastDirect = true
		return nd.dst[nd.filled:]
	}
	c.lastDirect = false
	if c.in.buf == nil {
		c.in.buf = c.getBuffer(c.cfg.PrefetchSize)
	}
	return c.in.space()
}

// Received tells the connection that n bytes were read into the last ReadBuf.
func (c *Conn) Received(n int) {
	if n <= 0 {
		return
	}
	c.lastActive = c.host.Now()
	if c.lastDirect {
		c.need.added(c.need.filled, c.need.filled+n)
		c.lastDirect = false
	} else {
		c.in.w += n
	}
	c.process()
}

// Feed hands p to the connection, as much as it wants now, and returns how much it took. It is
// ReadBuf/Received for callers that already hold the bytes (tests, fuzzers).
func (c *Conn) Feed(p []byte) int {
	taken := 0
	for taken < len(p) {
		buf := c.ReadBuf()
		if len(buf) == 0 {
			break
		}
		n := copy(buf, p[taken:])
		taken += n
		c.Received(n)
	}
	return taken
}

// WantRead reports whether the driver should poll for readability.
func (c *Conn) WantRead() bool { return c.reading() }

// TakeWritten returns how many messages were encoded for writing (their seqs assigned) since
// its last call, and starts counting again: a host that counts written messages reads it once
// per batch of work instead of hearing of every message.
func (c *Conn) TakeWritten() uint32 {
	n := c.written
	c.written = 0
	return n
}

// Output returns what should be written next (a writev batch); nil when there is nothing.
// After writing, report how much with Wrote.
func (c *Conn) Output() [][]byte {
	c.fillOutput()
	c.sumDataChunks()
	return c.out.pending()
}

// HasOutput reports whether Output would return something (without encoding anything).
func (c *Conn) HasOutput() bool {
	return !c.out.empty() || c.canSend()
}

// Wrote tells the connection that n bytes of Output were written.
func (c *Conn) Wrote(n int) {
	if n <= 0 {
		return
	}
	c.lastActive = c.host.Now()
	c.out.consume(n)
}

// Send queues a message. Messages are written highest priority first, FIFO within a
// priority. A message sent on a closed connection is dropped (reported by the return value).
func (c *Conn) Send(m *wire.Message) bool {
	if c.state == StateClosed {
		return false
	}
	c.queue.push(m)
	if c.state == StateStandby && !c.policy.Server {
		c.reached(ProbeSendWakes)
		c.reconnectFromStandby()
	}
	return true
}

// SendBatch queues ms in order, as Send would one by one, and returns how many it queued: the
// rest, ms[n:], were dropped (the connection is closed). One call per batch, and the messages
// of one priority are appended to their queue together.
func (c *Conn) SendBatch(ms []*wire.Message) (n int) {
	if c.state == StateClosed {
		return 0
	}
	if c.state == StateStandby && !c.policy.Server {
		for i, m := range ms { // the first wakes the session (see Send)
			if !c.Send(m) {
				return i
			}
		}
		return len(ms)
	}
	c.queue.pushAll(ms)
	return len(ms)
}

// SendKeepalive queues a keepalive (KEEPALIVE2 with the current time when the peer supports
// it). A non-server session in STANDBY reconnects to send it; Ceph waits for a message to be
// queued (quirk Q8), so a race winner poked by the WAIT path could stay in standby.
func (c *Conn) SendKeepalive() {
	if c.state == StateClosed {
		return
	}
	c.keepalive = true
	if c.state == StateStandby && !c.policy.Server {
		c.reached(ProbeKeepaliveWakes)
		c.reconnectFromStandby()
	}
}

// LastReply is the last connect reply a connector received (zero before any).
func (c *Conn) LastReply() wire.ConnectReply { return c.reply }

// LastReplyTag is LastReply().Tag, without copying the reply.
func (c *Conn) LastReplyTag() wire.Tag { return c.reply.Tag }

// LastKeepaliveAck is the stamp echoed by the peer's last KEEPALIVE2_ACK.
func (c *Conn) LastKeepaliveAck() wire.Timespec { return c.lastKeepaliveAck }

// Stop closes the connection for good (Ceph's stop(): mark_down, replaced, lossy fault):
// queues are discarded and the transport is closed. No event is reported here; the caller
// decides whether a reset event is due.
func (c *Conn) Stop() {
	if c.state == StateClosed {
		return
	}
	c.discardOut()
	c.releaseRx()
	c.resetOut()
	c.need = need{}
	c.clearTimers()
	c.setState(StateClosed)
	c.host.CloseTransport()
}

// Connected tells a connector its socket is connected.
func (c *Conn) Connected() {
	if c.state != StateStartConnect {
		return
	}
	c.setState(StateConnecting)
	c.out.appendCopy([]byte(wire.Banner))
	c.setState(StateConnectingWaitBannerAndIdentify)
	c.expect(wire.BannerLen, (*Conn).handleServerBanner)
}

// ConnectFailed tells a connector its connect attempt failed; refused reports ECONNREFUSED.
func (c *Conn) ConnectFailed(err error, refused bool) {
	if refused {
		c.host.Event(EventRefused)
	}
	c.fault(transportErr(": connect: ", err))
}

// TransportError tells the connection its socket failed (reset, EOF, write error).
func (c *Conn) TransportError(err error) {
	c.fault(transportErr(": ", err))
}

// transportErr is fmt.Errorf("%w"+sep+"%w", ErrTransport, err) without fmt's formatting
// machinery (every transport fault of a simulated run made one): the same message, the same
// two wrapped errors.
func transportErr(sep string, err error) error {
	if err == nil {
		return fmt.Errorf("%w"+sep+"%w", ErrTransport, err)
	}
	e := &wrapped2{msg: ErrTransport.Error() + sep + err.Error()}
	e.errs[0], e.errs[1] = ErrTransport, err
	return e
}

// wrapped2 is an error wrapping two, as fmt.Errorf with two %w makes.
type wrapped2 struct {
	msg  string
	errs [2]error
}

func (e *wrapped2) Error() string   { return e.msg }
func (e *wrapped2) Unwrap() []error { return e.errs[:] }

// ReleaseIdle gives the prefetch buffer and the output arenas back to the host (see Buffers)
// when nothing is buffered in them: the driver calls it once the connection has gone idle
// (the messenger: once its center ran without it for a while after its socket drained), so
// that an idle connection holds no buffers. They are taken again when needed. Without
// Buffers it does nothing.
func (c *Conn) ReleaseIdle() {
	if c.bufs == nil {
		return
	}
	if c.in.buf != nil && c.in.buffered() == 0 {
		c.bufs.PutBuffer(c.in.buf)
		c.in.buf, c.in.r, c.in.w = nil, 0, 0
	}
	c.out.releaseArenas()
}

// getBuffer returns a buffer of length n, from the host when it lends memory.
func (c *Conn) getBuffer(n int) []byte {
	if c.bufs != nil {
		return c.bufs.GetBuffer(n)
	}
	return make([]byte, n)
}

// TakeInput returns input received but not consumed (after a handover to another connection).
func (c *Conn) TakeInput() []byte {
	p := append([]byte(nil), c.in.buf[c.in.r:c.in.w]...)
	c.in.r, c.in.w = 0, 0
	return p
}
