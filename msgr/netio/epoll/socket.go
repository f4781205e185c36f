//go:build linux

package epoll

import (
	"io"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// iovMax is the most iovecs one sendmsg may carry (IOV_MAX on Linux).
const iovMax = 1024

// Socket is a nonblocking TCP socket. It implements netio.Socket. All methods are called from
// the goroutine that owns the socket.
type Socket struct {
	fd        int
	local     netip.AddrPort
	remote    netip.AddrPort
	connected bool         // the connect finished (always true for an accepted socket)
	connErr   error        // why the connect failed, once known
	iov       []unix.Iovec // reused by Writev; entries are cleared after each call
	// streamLowat is the TCP_NOTSENT_LOWAT to set once this socket carries a stream of small
	// messages (Options.StreamLowat, noteFull); 0 once set, or when off.
	streamLowat int
}

var _ netio.Socket = (*Socket)(nil)

// FD returns the descriptor to register with a Poller, or -1 once the socket is closed.
func (s *Socket) FD() int { return s.fd }

// LocalAddr returns the local endpoint, cached when the socket was connected or accepted.
func (s *Socket) LocalAddr() netip.AddrPort { return s.local }

// RemoteAddr returns the peer's endpoint: for a connecting socket the address given to
// Connect, for an accepted one the peer's address.
func (s *Socket) RemoteAddr() netip.AddrPort { return s.remote }

// Read reads available bytes with read(2). It returns (0, io.EOF) once the peer shut down its
// side and everything before that was read, netio.ErrWouldBlock when nothing is available,
// and the bare errno for connection errors (ECONNRESET, ETIMEDOUT, …). An empty p reads
// nothing and returns (0, nil).
func (s *Socket) Read(p []byte) (int, error) {
	if s.fd < 0 {
		return 0, netio.ErrBadFD
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, errno := read(s.fd, p)
		switch {
		case errno == 0 && n > 0:
			return n, nil
		case errno == 0:
			return 0, io.EOF
		case errno == unix.EAGAIN:
			return 0, netio.ErrWouldBlock
		case errno == unix.EINTR:
			continue
		}
		return 0, s.ioError("read", errno)
	}
}

// Writev writes the buffers in order with one sendmsg(MSG_NOSIGNAL), skipping empty ones and
// taking at most the first 1024 non-empty buffers (IOV_MAX). It may write only a prefix of
// the bytes. It returns netio.ErrWouldBlock when nothing could be written, (0, nil) when there
// was nothing to write, and the bare errno (EPIPE, ECONNRESET, …) when the connection is gone.
// It does not allocate once its iovec array has grown to the batch size.
func (s *Socket) Writev(bufs [][]byte) (int, error) {
	if s.fd < 0 {
		return 0, netio.ErrBadFD
	}
	iov, bytes := s.fillIov(bufs)
	if len(iov) == 0 {
		return 0, nil
	}
	n, err := s.sendmsg(iov, bytes)
	if n < bytes && (err == nil || err == netio.ErrWouldBlock) {
		s.noteFull(len(bufs))
	}
	// Drop the pointers into the caller's buffers, one store each: clear(iov) is
	// memclrHasPointers with its bulk write barrier, ~50 instructions for the three or four
	// iovecs a message takes.
	for i := range iov {
		iov[i].Base = nil
	}
	return n, err
}

// fillIov points the reusable iovec array at the non-empty buffers, up to iovMax of them, in
// one pass over bufs, and returns how many bytes they hold.
func (s *Socket) fillIov(bufs [][]byte) ([]unix.Iovec, int) {
	iov, bytes := s.iov[:0], 0
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		if len(iov) == iovMax {
			break
		}
		var v unix.Iovec
		v.Base = &b[0]
		v.SetLen(len(b))
		iov = append(iov, v)
		bytes += len(b)
	}
	s.iov = iov
	return iov, bytes
}

// sendmsg sends the iovecs, which hold bytes bytes, with MSG_NOSIGNAL, retrying after EINTR.
func (s *Socket) sendmsg(iov []unix.Iovec, bytes int) (int, error) {
	var msg unix.Msghdr
	msg.Iov = &iov[0]
	msg.SetIovlen(len(iov))
	for {
		n, errno := sendmsg(s.fd, &msg, bytes)
		switch errno {
		case 0:
			return n, nil
		case unix.EAGAIN:
			return 0, netio.ErrWouldBlock
		case unix.EINTR:
			continue
		}
		return 0, s.ioError("sendmsg", errno)
	}
}

// ioError classifies a data-path error: connection-state errno values come back bare (and
// are remembered as the connect's outcome if that was still unknown); anything else is
// wrapped with the call's name.
func (s *Socket) ioError(op string, err error) error {
	switch err {
	case unix.ECONNRESET, unix.EPIPE, unix.ETIMEDOUT, unix.ECONNREFUSED, unix.ECONNABORTED,
		unix.EHOSTUNREACH, unix.ENETUNREACH, unix.ENETDOWN, unix.EHOSTDOWN, unix.ENOTCONN:
		if !s.connected && s.connErr == nil && err != unix.ENOTCONN {
			s.connErr = err
		}
		return err
	}
	return os.NewSyscallError(op, err)
}

// ConnectError reports the state of a nonblocking connect: nil once connected,
// netio.ErrInProgress while pending, otherwise why it failed. It reads SO_ERROR and, if that
// is 0, getpeername; the answer is cached once final, so it may be called any number of
// times. Call it when the socket first polls writable and before reading or writing, as
// SO_ERROR is consumed by whichever call sees it first (Read and Writev remember a failure
// they consume, so it is not lost). For an accepted socket it is always nil.
func (s *Socket) ConnectError() error {
	if s.connected {
		return nil
	}
	if s.connErr != nil {
		return s.connErr
	}
	if s.fd < 0 {
		return netio.ErrBadFD
	}
	v, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return os.NewSyscallError("getsockopt SO_ERROR", err)
	}
	if v != 0 {
		s.connErr = unix.Errno(v)
		return s.connErr
	}
	remote, err := peername(s.fd)
	if err == unix.ENOTCONN {
		return netio.ErrInProgress
	}
	if err != nil {
		return os.NewSyscallError("getpeername", err)
	}
	s.connected = true
	s.remote = remote
	if local, err := sockname(s.fd); err == nil {
		s.local = local
	}
	return nil
}

// Shutdown shuts down one or both directions with shutdown(2).
func (s *Socket) Shutdown(how netio.How) error {
	if s.fd < 0 {
		return netio.ErrBadFD
	}
	var h int
	switch how {
	case netio.ShutRead:
		h = unix.SHUT_RD
	case netio.ShutWrite:
		h = unix.SHUT_WR
	case netio.ShutReadWrite:
		h = unix.SHUT_RDWR
	default:
		return os.NewSyscallError("shutdown", unix.EINVAL)
	}
	if err := unix.Shutdown(s.fd, h); err != nil {
		return os.NewSyscallError("shutdown", err)
	}
	return nil
}

// Close closes the descriptor, which also drops it from every epoll set. Unread input makes
// the kernel reset the connection. Close is idempotent: later calls return nil.
func (s *Socket) Close() error {
	if s.fd < 0 {
		return nil
	}
	fd := s.fd
	s.fd = -1
	s.iov = nil
	if err := unix.Close(fd); err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}
