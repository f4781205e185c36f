package netio

import (
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// Events is a readiness mask: what a file descriptor is interested in, or what it is ready for.
type Events uint8

// Readiness bits. Error and hang-up conditions are reported as Read|Write, as Ceph's epoll
// driver does, so that the next read or write call observes the error itself.
const (
	Read  Events = 1 << iota // readable, or an error or hang-up is pending
	Write                    // writable, or a nonblocking connect finished (either way)
)

// String renders the mask as "r", "w", "rw" or "-".
func (e Events) String() string {
	switch e & (Read | Write) {
	case Read:
		return "r"
	case Write:
		return "w"
	case Read | Write:
		return "rw"
	}
	return "-"
}

// Event is one readiness report from Poller.Wait.
type Event struct {
	FD     int
	Events Events
}

// Poller watches file descriptors for readiness. One EventCenter owns one Poller; only Wake may
// be called from another goroutine.
//
// Readiness is level-triggered: an fd that stays readable is reported by every Wait until it is
// drained. Interest in Write should be registered only while output is blocked, or Wait will
// report the fd at once, every time.
type Poller interface {
	// Add starts watching fd for the events in mask.
	Add(fd int, mask Events) error
	// Modify replaces the interest mask of a watched fd.
	Modify(fd int, mask Events) error
	// Delete stops watching fd. Deleting an fd that is not watched is not an error.
	Delete(fd int) error
	// Wait stores up to len(evs) ready events in evs and returns how many it stored. It waits
	// at most timeout for the first one: a negative timeout waits until an event or a Wake, zero
	// only polls. It returns 0 when the timeout passed or Wake was called.
	Wait(evs []Event, timeout time.Duration) (int, error)
	// Wake makes a concurrent or the next Wait return promptly. Safe from any goroutine.
	Wake() error
	// Close releases the poller. It must not run concurrently with Wake.
	Close() error
}

// How selects the half of a connection to shut down.
type How int

// Shutdown directions, as shutdown(2).
const (
	ShutRead How = iota
	ShutWrite
	ShutReadWrite
)

// Socket is one nonblocking stream socket. All methods are called from the goroutine of the
// EventCenter that owns the socket.
type Socket interface {
	// FD is the descriptor to register with the owner's Poller.
	FD() int
	// Read reads available bytes. It returns (0, io.EOF) once the peer shut down its side and
	// everything before that was read, ErrWouldBlock when nothing is available, and an Errno
	// such as ECONNRESET when the connection failed.
	Read(p []byte) (int, error)
	// Writev writes the buffers in order, possibly only a prefix of their bytes (a short write).
	// It returns ErrWouldBlock when nothing could be written, and EPIPE or ECONNRESET when the
	// connection is gone (EPIPE also after Shutdown(ShutWrite)). Nothing to write is (0, nil).
	Writev(bufs [][]byte) (int, error)
	// ConnectError reports the state of a nonblocking connect: nil once connected, EINPROGRESS
	// while pending, otherwise why it failed (ECONNREFUSED, ETIMEDOUT, …); the final result is
	// stable across calls. For an accepted socket it is always nil.
	ConnectError() error
	// Shutdown shuts down one or both directions.
	Shutdown(how How) error
	// Close releases the socket; a second Close is harmless. Unread input is discarded and the
	// peer gets a reset. Delete the fd from its Poller first: fd numbers are reused.
	Close() error
	// LocalAddr and RemoteAddr are the endpoints of the connection.
	LocalAddr() netip.AddrPort
	RemoteAddr() netip.AddrPort
}

// Listener accepts incoming connections without blocking.
type Listener interface {
	// FD is the descriptor to register (for Read) with the owner's Poller.
	FD() int
	// Accept returns the next established connection, or ErrWouldBlock when there is none.
	Accept() (Socket, error)
	// Addr is the address the listener is bound to (with the port chosen, if 0 was asked).
	Addr() netip.AddrPort
	// Close stops listening.
	Close() error
}

// Stack creates sockets, listeners and pollers. It is the only way the messenger touches a
// network, real (msgr/netio/epoll) or simulated (simnet).
type Stack interface {
	// NewPoller creates a poller for one EventCenter.
	NewPoller() (Poller, error)
	// Listen binds and listens on addr; port 0 asks for any free port.
	Listen(addr netip.AddrPort, backlog int) (Listener, error)
	// Connect starts a nonblocking connect to addr and returns at once. The socket becomes
	// writable when the attempt finished; ConnectError then tells how.
	Connect(addr netip.AddrPort) (Socket, error)
	// Clock is the stack's notion of time.
	Clock() Clock
}

// Clock is the only source of time above the seam.
type Clock interface {
	// Now is monotonic time since an arbitrary origin fixed for the clock's life.
	Now() time.Duration
	// Wall is calendar time, used only for wire timestamps (KEEPALIVE2).
	Wall() time.Time
}

// Errors are the usual errno values, so connection code has one error path for both worlds.
var (
	ErrWouldBlock   error = syscall.EAGAIN
	ErrInProgress   error = syscall.EINPROGRESS
	ErrRefused      error = syscall.ECONNREFUSED
	ErrReset        error = syscall.ECONNRESET
	ErrBrokenPipe   error = syscall.EPIPE
	ErrTimedOut     error = syscall.ETIMEDOUT
	ErrAddrInUse    error = syscall.EADDRINUSE
	ErrAddrNotAvail error = syscall.EADDRNOTAVAIL
	ErrBadFD        error = syscall.EBADF
	ErrNotConnected error = syscall.ENOTCONN
	ErrUnreachable  error = syscall.ENETUNREACH
)

// SystemClock is the production Clock: the monotonic clock and the wall clock of the OS.
type SystemClock struct{ origin time.Time }

// NewSystemClock returns a clock whose Now counts from the moment of the call.
func NewSystemClock() *SystemClock { return &SystemClock{origin: time.Now()} }

// Now returns monotonic time since the clock was created.
func (c *SystemClock) Now() time.Duration { return time.Since(c.origin) }

// Wall returns the current calendar time.
func (c *SystemClock) Wall() time.Time { return time.Now() }

// Internal delay points: where the messenger calls InternalDelayer.InternalDelay, the places
// where Ceph's AsyncConnection::inject_delay() sleeps (msgr1-protocol.md §8.7).
const (
	// DelayAcceptLookup: an acceptor looked up the existing session for the peer's address
	// and has not yet locked it.
	DelayAcceptLookup = "accept-lookup"
	// DelayOpen: an acceptor registered the session it is about to open.
	DelayOpen = "open"
	// DelayReplace: an existing lossless session is about to adopt the socket of a replace.
	DelayReplace = "replace"
	// DelayLearnedAddr: a connector learned its own address from the acceptor's greeting
	// (Ceph delays here only one time in ms_inject_socket_failures).
	DelayLearnedAddr = "learned-addr"
	// DelayDispatchEvent: the dispatch queue is about to deliver a connection event (Ceph
	// delays here with probability ms_inject_delay_probability).
	DelayDispatchEvent = "dispatch-event"
)

// InternalDelayer is implemented by a Stack that injects internal delays (Ceph's
// ms_inject_internal_delays; msgr/netio/inject). The messenger calls InternalDelay at the
// points above, on the goroutine of the event center doing the work, which it blocks for the
// delay: the point is to widen the race windows around accept, replace and open. A stack
// without injection does not implement it, so the messenger pays nothing.
type InternalDelayer interface {
	// InternalDelays is the delay currently injected at each point (0: none).
	InternalDelays() time.Duration
	// InternalDelay blocks for the delay at point, when the stack decides to delay there.
	InternalDelay(point string)
}

// ChunkedWriter is implemented by a Stack whose sockets copy written bytes out of the CPU's
// caches (a kernel socket: epoll, unless its Options.WriteChunk turns it off). When WriteChunk
// is positive the messenger computes the crc of a long data section a chunk of WriteChunk
// bytes at a time, right before handing that chunk to Writev, so that the kernel's copy finds
// the bytes the crc just read still in cache; the batch is written in several Writev calls. A
// Stack without it (the simulator's, where a schedule depends on the bytes offered to each
// Writev) gets the whole crc computed when a message is encoded.
type ChunkedWriter interface {
	WriteChunk() int
}

// Ratio is a probability Num/Den, kept as integers so that no float enters a decision (the
// messenger's dispatch-delay injection takes one; internal/detrand draws against it).
type Ratio struct {
	Num, Den uint64
}

// String renders the ratio as "num/den".
func (p Ratio) String() string {
	return strconv.FormatUint(p.Num, 10) + "/" + strconv.FormatUint(p.Den, 10)
}
