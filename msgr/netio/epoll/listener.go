//go:build linux

package epoll

import (
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// Listener is a nonblocking listening TCP socket. It implements netio.Listener.
type Listener struct {
	fd    int
	addr  netip.AddrPort
	stack *Stack
}

var _ netio.Listener = (*Listener)(nil)

// FD returns the descriptor to register (for Read) with a Poller, or -1 once closed.
func (l *Listener) FD() int { return l.fd }

// Addr returns the bound address, with the port the kernel chose if 0 was asked.
func (l *Listener) Addr() netip.AddrPort { return l.addr }

// Accept returns the next established connection as a nonblocking, close-on-exec Socket with
// TCP_NODELAY set (unless Options.Nagle), or netio.ErrWouldBlock when none is pending.
// Connections that were aborted while queued (ECONNABORTED) are skipped.
func (l *Listener) Accept() (netio.Socket, error) {
	if l.fd < 0 {
		return nil, netio.ErrBadFD
	}
	for {
		fd, sa, err := unix.Accept4(l.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch err {
		case nil:
			return l.newConn(fd, sa)
		case unix.EAGAIN:
			return nil, netio.ErrWouldBlock
		case unix.EINTR, unix.ECONNABORTED:
			continue
		}
		return nil, fmt.Errorf("epoll: accept on %v: %w", l.addr, os.NewSyscallError("accept4", err))
	}
}

// newConn wraps an accepted descriptor, closing it if its options cannot be set.
func (l *Listener) newConn(fd int, sa unix.Sockaddr) (*Socket, error) {
	if err := l.stack.setupConn(fd); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("epoll: accept on %v: %w", l.addr, err)
	}
	local, err := sockname(fd)
	if err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("epoll: accept on %v: %w", l.addr, err)
	}
	return &Socket{fd: fd, local: local, remote: fromSockaddr(sa), connected: true, streamLowat: l.stack.opts.StreamLowat}, nil
}

// Close stops listening; connections still in the accept queue are reset. It is idempotent:
// later calls return nil.
func (l *Listener) Close() error {
	if l.fd < 0 {
		return nil
	}
	fd := l.fd
	l.fd = -1
	if err := unix.Close(fd); err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}
