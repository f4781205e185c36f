package simnet

import (
	"io"
	"net/netip"
	"syscall"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// Socket is one end of a simulated TCP connection. It implements netio.Socket.
//
// Errors follow TCP on Linux where it matters to a caller, with one deliberate difference:
// once a connection is reset, every Read and Writev keeps failing with the reset's error
// (ECONNRESET; EPIPE for writes where Network.Reset says so) where Linux reports the error
// once, then reads EOF and writes EPIPE, so a reset can never be mistaken for an orderly
// shutdown. A refused connect likewise keeps failing with ECONNREFUSED. After Close every
// method that can fail returns EBADF.
type Socket struct {
	watch
	host *Host
	c    *conn
	side int // client or server
	// in and out are the streams this end reads and writes: &c.streams[1-side] and
	// &c.streams[side], kept (readiness, Read and Writev use them at every call).
	in, out  *stream
	local    netip.AddrPort
	remote   netip.AddrPort
	ownsPort bool // local port was reserved for this socket (client side)
	closed   bool
	rdShut   bool // read side shut down: reads return EOF, arriving bytes are discarded

	// After a reset (conn.abort): reads return the receive buffer first if keepIn, then
	// fail with rdErr; writes fail with wrErr.
	keepIn       bool
	rdErr, wrErr error
}

var _ netio.Socket = (*Socket)(nil)

func (s *Socket) watchOf() *watch { return &s.watch }

func (s *Socket) outStream() *stream { return s.out }
func (s *Socket) inStream() *stream  { return s.in }

// join makes s the end side of c.
func (s *Socket) join(c *conn, side int) {
	s.c, s.side = c, side
	s.out, s.in = &c.streams[side], &c.streams[1-side]
}

// FD returns the socket's descriptor number on its host, or -1 once closed (as the epoll
// implementation does).
func (s *Socket) FD() int {
	if s.closed {
		return -1
	}
	return s.fd
}

// LocalAddr returns the socket's own address.
func (s *Socket) LocalAddr() netip.AddrPort { return s.local }

// RemoteAddr returns the peer's address (the address connected to, for a client).
func (s *Socket) RemoteAddr() netip.AddrPort { return s.remote }

// Host returns the host the socket belongs to.
func (s *Socket) Host() *Host { return s.host }

// Conn returns the id of the socket's connection, as in Transfer.Conn.
func (s *Socket) Conn() uint64 { return s.c.id }

// stateErr is the error every I/O call returns in a state where no I/O is possible.
func (s *Socket) stateErr() error {
	if s.closed {
		return netio.ErrBadFD
	}
	switch s.c.state {
	case connecting:
		return netio.ErrWouldBlock
	case refused:
		return netio.ErrRefused
	case resetState:
		return netio.ErrReset
	}
	return nil
}

// Read reads up to len(p) buffered bytes; how many is drawn from the network's random source
// (all available with probability 1/2, otherwise uniform in [1, available]) or chosen by the
// Chunker. It returns ErrWouldBlock when nothing is buffered, (0, io.EOF) after the peer's FIN
// once the buffer is drained or after Shutdown(ShutRead), ErrWouldBlock while a connect is in
// progress, and after a reset the error Network.Reset documents (ECONNRESET), possibly after
// the bytes the reset left in the receive buffer.
func (s *Socket) Read(p []byte) (int, error) {
	if err := s.stateErr(); err != nil {
		if s.closed || s.c.state != resetState {
			return 0, err
		}
		if !s.keepIn || s.inStream().in.n == 0 {
			return 0, s.rdErr
		}
		// A reset that left the receive buffer: read it first.
	} else if s.rdShut {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	st := s.inStream()
	if st.in.n == 0 {
		if st.eof {
			return 0, io.EOF
		}
		return 0, netio.ErrWouldBlock
	}
	n := s.host.net
	k := n.chunkOp(s.c, 1-s.side, OpRead, st.readOff(), min(len(p), st.in.n))
	full := st.in.n >= n.cfg.RecvBuf
	st.read(p[:k], &n.pool)
	n.stats.BytesRead += uint64(k)
	if full {
		// Room for a delivery held back by the full receive buffer: the only thing a read
		// changes in the network's scan of the connection (see scanStream, canReceive).
		n.touch(s.c)
	}
	if st.in.n == 0 {
		s.notify() // Readable until the receive buffer is drained; nothing else changed.
	}
	return k, nil
}

// Writev queues a prefix of bufs for delivery to the peer: as much as fits in the send buffer
// with probability 1/2, otherwise a uniform count in [1, fit] (or what the Chunker chooses).
// It returns ErrWouldBlock when the send buffer is full or the connect is in progress, EPIPE
// after the write side was shut down, the reset's error after a reset (ECONNRESET, or EPIPE
// as Network.Reset documents) and ECONNREFUSED after a refused connect. Writing nothing
// returns (0, nil). The Observer, if any, sees the accepted bytes before Writev returns.
func (s *Socket) Writev(bufs [][]byte) (int, error) {
	if err := s.stateErr(); err != nil {
		if !s.closed && s.c.state == resetState {
			return 0, s.wrErr
		}
		return 0, err
	}
	st := s.outStream()
	if st.fin {
		return 0, netio.ErrBrokenPipe
	}
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	if total == 0 {
		return 0, nil
	}
	n := s.host.net
	room := n.cfg.SendBuf - st.out.n
	if room <= 0 {
		return 0, netio.ErrWouldBlock
	}
	k := n.chunkOp(s.c, s.side, OpWrite, st.written, min(total, room))
	if n.observer != nil {
		n.observe(s.c, s.side, st.written, bufs, k)
	}
	st.write(bufs, k, &n.pool)
	st.segs.push(st.due(n.now(), s.c.latency+n.jitter()), k)
	st.written += uint64(k)
	n.stats.BytesWritten += uint64(k)
	n.activate(s.c)
	if st.out.n >= n.cfg.SendBuf {
		s.notify() // Writable until the send buffer is full; nothing else changed.
	}
	return k, nil
}

// ConnectError returns EINPROGRESS while the connect is pending, ECONNREFUSED if it was
// refused, and nil once connected (also for accepted sockets, and after a later reset).
func (s *Socket) ConnectError() error {
	if s.closed {
		return netio.ErrBadFD
	}
	switch s.c.state {
	case connecting:
		return netio.ErrInProgress
	case refused:
		return netio.ErrRefused
	}
	return nil
}

// Shutdown shuts down reading, writing or both. ShutWrite queues a FIN after the data already
// written; later writes fail with EPIPE. ShutRead discards buffered input, makes reads return
// EOF and silently discards bytes that arrive later. Shutting down a half twice is a no-op.
// A socket that is not connected (connecting, refused or reset) gives ENOTCONN.
func (s *Socket) Shutdown(how netio.How) error {
	if s.closed {
		return netio.ErrBadFD
	}
	if how != netio.ShutRead && how != netio.ShutWrite && how != netio.ShutReadWrite {
		return syscall.EINVAL
	}
	if s.c.state != open {
		return netio.ErrNotConnected
	}
	if how != netio.ShutWrite {
		s.shutRead()
	}
	if how != netio.ShutRead {
		s.shutWrite()
	}
	s.notify()
	return nil
}

func (s *Socket) shutRead() {
	n := s.host.net
	s.rdShut = true
	s.inStream().clearIn(&n.pool)
	n.touch(s.c)
}

// shutWrite queues a FIN behind the data already written.
func (s *Socket) shutWrite() {
	st := s.outStream()
	if st.fin {
		return
	}
	n := s.host.net
	st.fin = true
	st.finDue = st.due(n.now(), s.c.latency+n.jitter())
	n.activate(s.c)
}

// Close releases the socket and its descriptor. If unread bytes remain, buffered or still in
// flight towards this socket, the connection is reset (the peer gets ECONNRESET and all bytes
// in both directions are dropped). Otherwise a FIN follows the data already written, and bytes
// the peer sends later reset the connection when they arrive, as in TCP. Closing a socket
// whose connect is pending abandons the attempt.
func (s *Socket) Close() error {
	if s.closed {
		return netio.ErrBadFD
	}
	s.closed = true
	s.host.uninstall(s)
	if s.ownsPort {
		s.host.releasePort(s.local.Port())
	}
	s.host.net.touch(s.c)
	switch s.c.state {
	case connecting:
		s.c.state = aborted
	case open:
		s.closeOpen()
	case resetState:
		s.inStream().clearIn(&s.host.net.pool) // What a reset left unread.
	}
	return nil
}

func (s *Socket) closeOpen() {
	in := s.inStream()
	if in.in.n > 0 || in.out.n > 0 {
		s.c.reset()
		return
	}
	s.rdShut = true
	s.shutWrite()
	s.c.notifyEnds()
}

// readiness: see file. Read when bytes are buffered, at EOF or after ShutRead; Write while
// the send buffer has room or after ShutWrite (the write then fails at once); Read|Write
// unasked after a reset or refusal, or when both halves are shut (a hang-up).
func (s *Socket) readiness() (netio.Events, bool) {
	switch s.c.state {
	case connecting, aborted:
		return 0, false
	case refused, resetState:
		return netio.Read | netio.Write, true
	}
	in, out := s.inStream(), s.outStream()
	var ev netio.Events
	rdDone := in.eof || s.rdShut
	if in.in.n > 0 || rdDone {
		ev |= netio.Read
	}
	if out.fin || out.out.n < s.host.net.cfg.SendBuf {
		ev |= netio.Write
	}
	return ev, rdDone && out.fin
}
