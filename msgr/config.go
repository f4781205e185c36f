package msgr

import (
	"log/slog"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Config configures a Messenger. Zero values take Ceph's defaults.
type Config struct {
	Name  wire.EntityName // who this messenger is, e.g. osd.3 or client.-1
	Nonce uint32          // instance nonce in our address (0: drawn from Rand, unless ExplicitNonce)
	// ExplicitNonce uses Nonce even when it is 0 (monitors announce nonce 0).
	ExplicitNonce bool
	Stack         netio.Stack   // the network: epoll.Stack or a simnet host (required)
	Runtime       event.Runtime // who drives the event centers (nil: a GoRuntime)
	Rand          *detrand.Rand // the random source (nil: seeded from the stack clock's wall time)
	Workers       int           // ms_async_op_threads (0: 3)
	// Pool, if set, is a worker pool shared with other messengers of the process, as Ceph's
	// NetworkStack workers are shared by every messenger of a CephContext. Its owner creates
	// and starts it (event.NewPool on the same Stack) and stops it once every messenger using
	// it has shut down; Workers is then ignored.
	Pool *event.Pool

	ClusterProtocol       uint32 // protocol_version toward peers of our own type
	NoCRCHeader           bool   // turn off ms_crc_header
	NoCRCData             bool   // turn off ms_crc_data
	DispatchThrottleBytes int64  // ms_dispatch_throttle_bytes (0: 100 MiB; negative: unlimited)
	DefaultSendPriority   uint16 // priority of messages sent with priority 0 (0: 127)
	// Limits bound every length a peer announces (message sections, authorizer); zero
	// fields take wire's defaults (DefaultLimits).
	Limits wire.Limits
	// MaxConnections bounds the live connections (incoming and outgoing): while the
	// messenger has that many, a newly accepted socket is closed at once (counted in
	// Metrics.ConnectionsRefused, logged with ErrTooManyConnections). Outgoing connections
	// are never refused. 0: DefaultMaxConnections; negative: unlimited.
	MaxConnections int
	// PrefetchSize is ms_tcp_prefetch_max_size: the read buffer of a connection, into which
	// small messages are read many at a time (sections at least this large are read in
	// place). 0 means Ceph's 4 KiB; 64 KiB reads about sixteen 4 KiB messages per read(2).
	// An idle connection gives its buffer back (see proto.Conn.ReleaseIdle).
	PrefetchSize int

	InitialBackoff time.Duration // ms_initial_backoff (0.2 s)
	MaxBackoff     time.Duration // ms_max_backoff (15 s)
	ReadyTimeout   time.Duration // ms_connection_ready_timeout (10 s): the handshake deadline of both sides
	IdleTimeout    time.Duration // ms_connection_idle_timeout (900 s)

	BindPortMin uint16 // ms_bind_port_min (6800)
	BindPortMax uint16 // ms_bind_port_max (7568)
	NoLearnAddr bool   // turn off ms_learn_addr_from_peer

	InjectDelay *InjectDelay // ms_inject_delay_*: hold received messages back (nil: off)

	Auth   Auth         // authorizers (nil: NewAuthNone(Name))
	Logger *slog.Logger // nil: discard
	// Tracer is called synchronously for every traced event (simulator, tests), on the
	// goroutine where the event happened, possibly with the connection's lock held. It may
	// read anything (Connection's getters read a published view and never wait) and send
	// messages; it must not block, and must not call MarkDown, Shutdown or Rebind.
	Tracer func(TraceEvent)
}

// Defaults.
const (
	DefaultDispatchThrottleBytes = 100 << 20
	DefaultBindPortMin           = 6800
	DefaultBindPortMax           = 7568
	DefaultMaxConnections        = 16384
)

func (cfg *Config) setDefaults() {
	if cfg.Runtime == nil {
		cfg.Runtime = &event.GoRuntime{Logger: cfg.Logger}
	}
	if cfg.Rand == nil {
		cfg.Rand = detrand.NewSeeded(uint64(cfg.Stack.Clock().Wall().UnixNano()))
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
	if cfg.Auth == nil {
		cfg.Auth = NewAuthNone(cfg.Name)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
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
		InitialBackoff:  cfg.InitialBackoff,
		MaxBackoff:      cfg.MaxBackoff,
		ReadyTimeout:    cfg.ReadyTimeout,
		IdleTimeout:     cfg.IdleTimeout,
	}
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
}
