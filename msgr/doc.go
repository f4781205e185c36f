// Package msgr is a Go implementation of Ceph's AsyncMessenger speaking messenger protocol v1
// ("msgr1", banner "ceph v027") byte for byte.
//
// A Messenger is created with a network Stack (msgr/netio/epoll for real TCP, simnet in
// simulation) and a Runtime that drives its event centers (event.GoRuntime in production, the
// simulator's scheduler in simulation). Its life follows Ceph's: New, Bind, Start, then the
// first AddDispatcherHead/Tail makes it ready (it starts listening and dispatching);
// ConnectTo/SendTo/Connection.SendMessage send; MarkDown and Shutdown stop; Wait waits for the
// end.
//
// # Who touches what
//
// A connection's protocol state (its proto.Conn and socket) belongs to the event center that
// owns the connection: reads, writes, timers and the session's own decisions run there, so the
// same code path runs in both worlds. Calls from other goroutines become posted events on that
// center: SendMessage (queued under the connection's small send lock, then one posted flush),
// SendKeepalive, ConnectTo's first connect, a lossless replace's adoption of the new socket.
// Introspection (State, Seqs, Features, Queued, LastFault, LastReplyTag…) reads a view the
// connection publishes whenever it releases its lock, and never waits for its center.
//
// Two actions cannot wait for the owning center, and take the connection's lock instead, as
// Ceph's AsyncConnection does: mark_down from any goroutine (the session must be stopped,
// forgotten by the registry and its reset event queued before MarkDown returns), and an accept
// decision, where the accepting connection's center reads and changes the session registered
// for the peer's address (the "existing" session: snapshot, mark replacing, stop a replaced
// lossy session) as one atomic step. The lock protocol, checked on every acquisition by every
// test of this package (lockorder.go: an inversion panics, naming both locks):
//
//	Connection.mu      protocol core and socket state; held by the owning center while it
//	                   runs the connection, by MarkDown, and by an accept decision
//	Messenger.mu       lifecycle, registry (and Connection.regAddr), policies, globalSeq
//	dispatchQueue.mu   queued messages and connection events
//	Connection.pmu     messages sent and not yet moved into the core
//
// A goroutine holding one of these takes only locks further down the list, with one
// exception: an acceptor's center, holding its own Connection.mu and nothing else, takes the
// existing session's Connection.mu. The existing session never takes another connection's
// lock (a registered session is never itself deciding an accept), so the two cannot wait for
// each other. Leaf locks below all of these (the published view, the event centers' posted
// queues, the message and buffer free lists, throttles) never have another lock taken under
// them. No lock is held while a dispatcher runs: fast dispatch runs on the connection's center
// after it released the lock, in arrival order; normal dispatch from the DispatchQueue's
// center, by priority. Tracer runs where the event happens, possibly under Connection.mu.
//
// Policies (package proto) say per peer type whether sessions are lossy, who reconnects and
// which features are required; the defaults are Ceph's.
//
// # Limits
//
// Ceph trusts what a peer announces; a Messenger bounds it, with these defaults (Config):
//
//	message front / middle / data   16 MiB / 16 MiB / 128 MiB    Limits (wire.DefaultLimits)
//	front+middle+data together      160 MiB                      Limits.MaxMessageLen
//	authorizer                      4095 bytes                   Limits.MaxAuthorizerLen
//	handshake deadline              10 s, both sides             ReadyTimeout (ms_connection_ready_timeout)
//	idle session                    900 s                        IdleTimeout (ms_connection_idle_timeout)
//	live connections                16384                        MaxConnections
//	bytes waiting for dispatch      100 MiB                      DispatchThrottleBytes
//
// A length over its limit faults the connection before anything is allocated (wire.ErrTooLarge);
// a peer whose first 9 bytes are not the msgr1 banner is dropped at once (wire.ErrBadBanner); a
// handshake not done by the deadline faults with proto.ErrHandshakeTimeout, which ends a peer
// that trickles its handshake one byte at a time; while MaxConnections connections are live,
// accepted sockets are closed at once (ErrTooManyConnections). Legal lengths can still pin
// memory until the bytes arrive: what all sessions together hold is bounded by the dispatch
// throttle (plus one message over it), and per peer type by the policy throttles.
//
// # Observability
//
// Metrics returns a snapshot of the messenger's counters: connections (live, accepted, refused
// over the limit), accept failures, sessions connected and accepted, resets, faults by reason
// (FaultReason: bad_banner, bad_crc, too_large, handshake_timeout, …), messages and bytes in
// and out, throttle waits and delayed messages. WritePrometheus renders snapshots in the
// Prometheus text format; a snapshot marshals to JSON for expvar. Every fault is logged on
// Config.Logger with its reason (Warn when the peer misbehaved, Info otherwise), and
// Connection.LastFault tells why a connection last faulted.
//
// # Fault injection
//
// Ceph's ms_inject_* options, all off by default and free when off: socket failures and
// internal delays wrap the Stack (msgr/netio/inject; the messenger calls the stack's
// netio.InternalDelayer at Ceph's inject_delay points), dispatch delays are
// Config.InjectDelay. Socket failures and dispatch delays work the same on the epoll stack
// and in simulation; internal delays block the center's goroutine, as Ceph's sleep blocks
// its worker thread, and are meant for the real stack.
package msgr
