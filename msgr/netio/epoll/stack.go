//go:build linux

package epoll

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// DefaultBacklog is the listen backlog used when neither Options.Backlog nor the backlog
// argument of Listen is positive.
const DefaultBacklog = 512

// Options configures a Stack. The zero value gives the defaults.
type Options struct {
	// Backlog is the listen(2) backlog used when Listen is called with backlog <= 0.
	// Zero means DefaultBacklog.
	Backlog int
	// Nagle leaves Nagle's algorithm on. By default (false) every accepted and connected socket
	// gets TCP_NODELAY, as Ceph does with ms_tcp_nodelay=true. The field is inverted so that the
	// zero Options means the default.
	Nagle bool
	// RcvBuf, if positive, sets SO_RCVBUF on listeners (inherited by accepted sockets) and on
	// connecting sockets. Zero leaves the kernel's autotuning alone.
	RcvBuf int
	// SpinWait is how long Poller.Wait busy-polls with epoll_wait(…, 0) before it blocks, when
	// its timeout is not zero. Zero (the default) turns spinning off.
	SpinWait time.Duration
	// ThreadWait makes Poller.Wait block its thread in epoll_wait. By default a Wait parks its
	// goroutine in Go's netpoller instead (see the package documentation); the thread-blocking
	// wait is also what a Poller falls back to if the runtime does not accept its descriptor.
	ThreadWait bool
	// WriteChunk has messengers on this stack compute the crc of a data section longer than
	// WriteChunk bytes one chunk at a time, each right before the chunk is written
	// (netio.ChunkedWriter, proto.Config.WriteChunk), so that the kernel's copy finds the
	// bytes the crc just read in cache, and the reader gets the first chunk while the writer
	// sums the next. Zero means DefaultWriteChunk; a negative value turns it off (the whole
	// crc computed when a message is encoded, then one writev for the batch). A Messenger
	// computes the crcs of data sections of 64 KiB and more when they are sent, before the
	// core sees them, so that this applies to messages whose footer the core computes.
	WriteChunk int
	// NotSentLowat, if positive, sets TCP_NOTSENT_LOWAT on every connected and accepted
	// socket: a write takes no more bytes once this many are queued in the kernel but not yet
	// sent (the peer's window is full), and the socket polls writable again once fewer than
	// half as many are; the rest of a batch waits in the connection's output and is written
	// when the socket turns writable, on the writer's own thread. Without it (zero, the
	// default) a sender hands the kernel up to its whole send buffer, and on loopback the
	// reader's thread does the sending: a read that opens the window transmits the queued
	// data, cut at the window's edge, from within the read. It is off by default: on
	// msgr-bench's cells it cuts the CPU per message of one-way 4 KiB and 64 KiB streams by a
	// quarter to a third, but makes rr 4 KiB at depth 128 settle in its slow mode (BENCHMARKS.md,
	// "4 KiB one-way with one connection"). StreamLowat gives streams the limit without it.
	NotSentLowat int
	// StreamLowat is the TCP_NOTSENT_LOWAT a socket takes, once, when it turns out to carry a
	// stream of small messages: a write finds the send buffer full (a partial write or EAGAIN)
	// while at least streamBuffers buffers were handed to it (netio.Socket.Writev). From then
	// on the writer's batch waits in the connection's output instead of the kernel, and the
	// writer sends it on its own thread when the socket polls writable; without it, on
	// loopback, the reader's reads transmit the queued data in slices cut at the window's
	// edge (BENCHMARKS.md, "4 KiB one-way: msgr's kernel work per message"). Request trains
	// shorter than streamBuffers buffers (rr at depth 128: 256) and sockets whose batches
	// fit in the send buffer never take it, which is what keeps rr 4 KiB out of the slow mode
	// NotSentLowat puts it in. Zero means DefaultStreamLowat; a negative value turns it off.
	// NotSentLowat, when set, takes precedence.
	StreamLowat int
	// Clock is what Stack.Clock returns. Nil means netio.NewSystemClock(). The poller's own
	// timeouts always use the OS monotonic clock, as epoll does.
	Clock netio.Clock
}

// Stack is the Linux implementation of netio.Stack. It holds only configuration, so one Stack
// may be shared by any number of EventCenters.
type Stack struct {
	opts Options
}

var _ netio.Stack = (*Stack)(nil)

// New returns a Stack configured by opts, with defaults filled in.
func New(opts Options) *Stack {
	if opts.Backlog <= 0 {
		opts.Backlog = DefaultBacklog
	}
	if opts.RcvBuf < 0 {
		opts.RcvBuf = 0
	}
	if opts.SpinWait < 0 {
		opts.SpinWait = 0
	}
	if opts.WriteChunk == 0 {
		opts.WriteChunk = DefaultWriteChunk
	}
	switch {
	case opts.StreamLowat < 0, opts.NotSentLowat > 0:
		opts.StreamLowat = 0 // off, or NotSentLowat already limits every socket
	case opts.StreamLowat == 0:
		opts.StreamLowat = DefaultStreamLowat
	}
	if opts.Clock == nil {
		opts.Clock = netio.NewSystemClock()
	}
	return &Stack{opts: opts}
}

// Clock returns the clock given in Options, or the system clock.
func (s *Stack) Clock() netio.Clock { return s.opts.Clock }

// NewPoller creates an epoll instance and its wakeup eventfd.
func (s *Stack) NewPoller() (netio.Poller, error) {
	return newPoller(s.opts.SpinWait, s.opts.ThreadWait)
}

// Listen creates a nonblocking listening socket bound to addr with SO_REUSEADDR. A backlog
// <= 0 means Options.Backlog.
func (s *Stack) Listen(addr netip.AddrPort, backlog int) (netio.Listener, error) {
	if backlog <= 0 {
		backlog = s.opts.Backlog
	}
	sa, family, err := toSockaddr(addr)
	if err != nil {
		return nil, fmt.Errorf("epoll: listen %v: %w", addr, err)
	}
	fd, err := newSocket(family)
	if err != nil {
		return nil, fmt.Errorf("epoll: listen %v: %w", addr, err)
	}
	if err := s.setupListener(fd, sa, backlog); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("epoll: listen %v: %w", addr, err)
	}
	local, err := sockname(fd)
	if err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("epoll: listen %v: %w", addr, err)
	}
	return &Listener{fd: fd, addr: local, stack: s}, nil
}

// setupListener sets the listener's options, binds it and starts listening.
func (s *Stack) setupListener(fd int, sa unix.Sockaddr, backlog int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return os.NewSyscallError("setsockopt SO_REUSEADDR", err)
	}
	if err := s.setRcvBuf(fd); err != nil {
		return err
	}
	if err := unix.Bind(fd, sa); err != nil {
		return os.NewSyscallError("bind", err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return os.NewSyscallError("listen", err)
	}
	return nil
}

// Connect starts a nonblocking connect to addr. It returns an error only when no socket could
// be set up; the outcome of the attempt, even one connect(2) knew at once, is reported by
// Socket.ConnectError once the socket polls writable (see the package documentation).
func (s *Stack) Connect(addr netip.AddrPort) (netio.Socket, error) {
	sa, family, err := toSockaddr(addr)
	if err != nil {
		return nil, fmt.Errorf("epoll: connect %v: %w", addr, err)
	}
	fd, err := newSocket(family)
	if err != nil {
		return nil, fmt.Errorf("epoll: connect %v: %w", addr, err)
	}
	if err := s.setupConn(fd); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("epoll: connect %v: %w", addr, err)
	}
	if err := s.setRcvBuf(fd); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("epoll: connect %v: %w", addr, err)
	}
	sock := &Socket{fd: fd, remote: normalize(addr), streamLowat: s.opts.StreamLowat}
	sock.connErr = startConnect(fd, sa)
	sock.local, _ = sockname(fd)
	return sock, nil
}

// startConnect calls connect(2) and returns the attempt's immediate failure, or nil when it
// is under way or done.
func startConnect(fd int, sa unix.Sockaddr) error {
	switch err := unix.Connect(fd, sa); err {
	case nil, unix.EINPROGRESS, unix.EINTR, unix.EALREADY:
		// EINTR: the attempt goes on asynchronously, as with EINPROGRESS.
		return nil
	default:
		return err
	}
}

// setupConn applies per-connection options (TCP_NODELAY, TCP_NOTSENT_LOWAT) to a connected
// or accepted socket.
func (s *Stack) setupConn(fd int) error {
	if !s.opts.Nagle {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			return os.NewSyscallError("setsockopt TCP_NODELAY", err)
		}
	}
	if s.opts.NotSentLowat > 0 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, s.opts.NotSentLowat); err != nil {
			return os.NewSyscallError("setsockopt TCP_NOTSENT_LOWAT", err)
		}
	}
	return nil
}

// setRcvBuf sets SO_RCVBUF when Options.RcvBuf asks for it.
func (s *Stack) setRcvBuf(fd int) error {
	if s.opts.RcvBuf <= 0 {
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, s.opts.RcvBuf); err != nil {
		return os.NewSyscallError("setsockopt SO_RCVBUF", err)
	}
	return nil
}

// newSocket creates a nonblocking, close-on-exec stream socket.
func newSocket(family int) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	return fd, nil
}
