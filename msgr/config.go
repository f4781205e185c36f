package msgr

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Config configures a Messenger. Zero values take Ceph's defaults. Each field names the Ceph
// option or call it stands for; fields without one are this implementation's own.
type Config struct {
	// Name is who this messenger is in message headers (entity_name_t: type and number),
	// e.g. osd.3, mon.1 (a monitor's rank) or client.-1 (Ceph's create_messenger name).
	Name wire.EntityName
	// ID is the entity's id as Ceph's auth knows it: the part after the type in Ceph's
	// --name/-n (EntityName), e.g. "b" for mon.b, "admin" for client.admin, "3" for osd.3.
	// Auth none's authorizer carries it. Empty: Name's number, which is an OSD's id; a
	// monitor's id is its name in the monmap, not its rank, so monitors should set it.
	ID string
	// Nonce is the instance nonce in our address (Messenger::create's nonce). 0: drawn from
	// Rand, unless ExplicitNonce.
	Nonce uint32
	// ExplicitNonce uses Nonce even when it is 0 (monitors announce nonce 0).
	ExplicitNonce bool
	Stack         netio.Stack   // the network: epoll.Stack or a simnet host (required)
	Runtime       event.Runtime // who drives the event centers (nil: a GoRuntime)
	// Rand is the random source (nonce, backoff jitter, dispatch-delay draws); the simulator
	// passes its recorded one. nil: a source seeded with Seed.
	Rand *detrand.Rand
	// Seed seeds the random source when Rand is nil, so that another module can repeat a
	// messenger's random choices. 0: seeded from the stack clock's wall time.
	Seed    uint64
	Workers int // ms_async_op_threads (0: 3)
	// Pool, if set, is a worker pool shared with other messengers of the process, as Ceph's
	// NetworkStack workers are shared by every messenger of a CephContext. Its owner creates
	// and starts it (event.NewPool on the same Stack) and stops it once every messenger using
	// it has shut down; Workers is then ignored.
	Pool *event.Pool

	// ClusterProtocol is the protocol_version toward peers of our own type (Ceph's
	// set_cluster_protocol). 0: what a Ceph daemon of Name's type sets, wire.ClusterProtocol
	// (mon 13, OSD 10, MDS 36, others 0); any other value overrides it.
	ClusterProtocol       uint32
	NoCRCHeader           bool   // turn off ms_crc_header
	NoCRCData             bool   // turn off ms_crc_data
	DispatchThrottleBytes int64  // ms_dispatch_throttle_bytes (0: 100 MiB; negative: unlimited)
	DefaultSendPriority   uint16 // set_default_send_priority: priority of messages sent with priority 0 (0: 127; monitors use 196)
	// Limits bound every length a peer announces (message sections, authorizer); zero
	// fields take wire's defaults (DefaultLimits). Ceph has no such limits (quirk Q5).
	Limits wire.Limits
	// MaxConnections bounds the live connections (incoming and outgoing): while the
	// messenger has that many, a newly accepted socket is closed at once (counted in
	// Metrics.ConnectionsRefused, logged with ErrTooManyConnections). Outgoing connections
	// are never refused. 0: DefaultMaxConnections; negative: unlimited. Ceph has no such limit.
	MaxConnections int
	// PrefetchSize is ms_tcp_prefetch_max_size: the read buffer of a connection, into which
	// small messages are read many at a time (sections at least this large are read in
	// place). 0 means Ceph's 4 KiB; 64 KiB reads about sixteen 4 KiB messages per read(2).
	// A connection idle for 100-200 ms gives its buffer back to its center (see
	// proto.Conn.ReleaseIdle); a busy one keeps it.
	PrefetchSize int
	// SendInline is ms_async_send_inline (off by default, as in Ceph: its documentation says
	// it costs throughput on machines with many cores): SendMessage on a connection whose
	// center is not running it, with an open session, nothing waiting to be written and
	// nothing unacknowledged, writes the message from the caller's goroutine instead of
	// posting it to the center and waking it. Meant for real network stacks; with a
	// simulated one it changes schedules.
	SendInline bool
	// ReplyWhileReading has a connection that is alone on its worker center write what its
	// fast dispatchers sent in reply after every 64 KiB of input (once a message of it was
	// delivered), then read on, instead of writing once its input is drained as Ceph does.
	// A peer that sends many requests at once then gets the first replies while the rest
	// are read, and the two sides work at the same time, at the price of more writes (and,
	// across CPUs, of more kernel time per message). Off by default: on the 2-vCPU machine
	// of BENCHMARKS.md ("rr: overlapping client and server") it made one connection's
	// 4 KiB request/response run at about 1.6 CPUs without gaining messages per second over
	// the serial schedule at its best. An acknowledgement alone is not written early. Meant
	// for real network stacks; with a simulated one it changes schedules.
	ReplyWhileReading bool

	InitialBackoff time.Duration // ms_initial_backoff (0.2 s)
	MaxBackoff     time.Duration // ms_max_backoff (15 s)
	ReadyTimeout   time.Duration // ms_connection_ready_timeout (10 s): the handshake deadline of both sides
	IdleTimeout    time.Duration // ms_connection_idle_timeout (900 s)

	BindPortMin uint16 // ms_bind_port_min (6800)
	BindPortMax uint16 // ms_bind_port_max (7568)
	NoLearnAddr bool   // turn off ms_learn_addr_from_peer

	InjectDelay *InjectDelay // ms_inject_delay_type, _max, _probability: hold received messages back (nil: off)

	Auth   Auth         // set_auth_client / set_auth_server (nil: NewAuthNone(AuthName()), Ceph's auth none)
	Logger *slog.Logger // the debug_ms log (nil: discard)
	// Tracer is called synchronously for every traced event (simulator, tests), on the
	// goroutine where the event happened, possibly with the connection's lock held. It may
	// read anything (Connection's getters read a published view and never wait) and send
	// messages; it must not block, and must not call MarkDown, Shutdown or Rebind.
	Tracer func(TraceEvent)
	// Recycler, if set, collects the messenger, so that its memory (and its connections' and
	// event centers') is reused by messengers created later in the process once the
	// Recycler's owner declares all of it unused (Recycler.Recycle). The simulator sets it;
	// nil: the memory is the garbage collector's, as usual.
	Recycler *Recycler
}

// AuthName is the entity name auth presents for this messenger: Name's type and ID (or
// Name's number when ID is empty).
func (cfg *Config) AuthName() wire.AuthEntityName {
	id := cfg.ID
	if id == "" {
		id = strconv.FormatInt(cfg.Name.Num, 10)
	}
	return wire.AuthEntityName{Type: uint32(cfg.Name.Type), ID: id}
}

// Defaults.
const (
	DefaultDispatchThrottleBytes = 100 << 20
	DefaultBindPortMin           = 6800
	DefaultBindPortMax           = 7568
	DefaultMaxConnections        = 16384
)

// discardLogger is the logger of a configuration without one (it keeps no state).
var discardLogger = slog.New(slog.DiscardHandler)

func (cfg *Config) setDefaults() {
	if cfg.Runtime == nil {
		cfg.Runtime = &event.GoRuntime{Logger: cfg.Logger}
	}
	if cfg.Rand == nil {
		seed := cfg.Seed
		if seed == 0 {
			seed = uint64(cfg.Stack.Clock().Wall().UnixNano())
		}
		cfg.Rand = detrand.NewSeeded(seed)
	}
	if cfg.DispatchThrottleBytes == 0 {
		cfg.DispatchThrottleBytes = DefaultDispatchThrottleBytes
	}
	if cfg.DefaultSendPriority == 0 {
		cfg.DefaultSendPriority = wire.PrioDefault
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.BindPortMin == 0 {
		cfg.BindPortMin = DefaultBindPortMin
	}
	if cfg.BindPortMax == 0 {
		cfg.BindPortMax = DefaultBindPortMax
	}
	if cfg.ClusterProtocol == 0 {
		cfg.ClusterProtocol = wire.ClusterProtocol(cfg.Name.Type)
	}
	if cfg.Auth == nil {
		cfg.Auth = NewAuthNone(cfg.AuthName())
	}
	if cfg.Logger == nil {
		cfg.Logger = discardLogger
	}
}

func (cfg *Config) protoConfig() proto.Config {
	return proto.Config{
		MyName:          cfg.Name,
		ClusterProtocol: cfg.ClusterProtocol,
		CRCHeader:       !cfg.NoCRCHeader,
		CRCData:         !cfg.NoCRCData,
		Limits:          cfg.Limits,
		PrefetchSize:    cfg.PrefetchSize,
		WriteChunk:      writeChunk(cfg.Stack),
		InitialBackoff:  cfg.InitialBackoff,
		MaxBackoff:      cfg.MaxBackoff,
		ReadyTimeout:    cfg.ReadyTimeout,
		IdleTimeout:     cfg.IdleTimeout,
	}
}

// writeChunk is the chunk size in which the stack wants long data sections checksummed as
// they are written (netio.ChunkedWriter), 0 for a stack without one (the simulator's).
func writeChunk(s netio.Stack) int {
	if w, ok := s.(netio.ChunkedWriter); ok {
		return max(w.WriteChunk(), 0)
	}
	return 0
}

// TraceKind says what a TraceEvent reports.
type TraceKind uint8

// Trace event kinds.
const (
	TraceState     TraceKind = iota + 1 // a protocol state transition (From, To)
	TraceFault                          // a connection fault (State, Err)
	TraceDeliver                        // a message received in order (Msg)
	TraceDispatch                       // a message handed to a dispatcher (Msg, Fast)
	TraceConnEvent                      // a connection event queued (Event)
	TraceDecision                       // an accept decision (Rule)
	TraceSend                           // a message queued for sending (Msg)
	TraceDrop                           // a message dropped: sent on a closed connection (Msg)
	TraceHeld                           // a received message held back by delay injection (Msg)
	TraceAcked                          // a sent message the peer acknowledged, about to be forgotten (Msg)
	TraceReach                          // a rare path ran (Probe; Conn when one ran it): see proto.Probe
	TraceMarkDown                       // the connection is being marked down (before its reset event, if any)
	// TraceDiscard: the session is done with a message no acknowledgement covered (Msg): a
	// lossy session's once written, or one a session reset, lossy fault, mark-down or
	// shutdown discarded. With TraceAcked and TraceDrop it accounts for every message
	// SendMessage took: each is reported by exactly one of the three.
	TraceDiscard
)

// TraceEvent is one traced happening inside a messenger.
type TraceEvent struct {
	Kind     TraceKind
	Msgr     *Messenger
	Conn     *Connection
	From, To proto.State
	Err      error
	Msg      *Message
	Fast     bool
	Event    proto.EventKind
	Rule     string
	Probe    proto.Probe
}
