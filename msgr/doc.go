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
// Everything that touches a connection's protocol state runs on the event center that owns
// the connection; calls from other goroutines become posted events, so the same code path
// runs in both worlds and protocol state needs no lock of its own. Dispatchers are called
// without any messenger lock held: fast dispatch on the connection's center, in arrival order;
// normal dispatch from the DispatchQueue's center, by priority.
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
