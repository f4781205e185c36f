package explore

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/simnet"
)

// stack is one side's netio.Stack: its simulated host, every socket wrapped so that the
// explorer sees every byte the side writes and reads, and fires the fault points there.
type stack struct {
	netio.Stack
	x    *explorer
	side Side
	cuts *int // Variant.ChallengeCuts: the handshakes still to cut (nil: none)
}

// Listen wraps the sockets the listener accepts: they write the server-to-client stream.
func (s *stack) Listen(addr netip.AddrPort, backlog int) (netio.Listener, error) {
	l, err := s.Stack.Listen(addr, backlog)
	if err != nil {
		return nil, err
	}
	return &listener{Listener: l, s: s}, nil
}

// Connect wraps the connecting socket: it writes the client-to-server stream.
func (s *stack) Connect(addr netip.AddrPort) (netio.Socket, error) {
	s.x.backoff.connect(s.x.h, s.side, s.x.h.W.Now())
	so, err := s.Stack.Connect(addr)
	if err != nil {
		return nil, err
	}
	return s.wrap(so, simnet.ClientToServer), nil
}

func (s *stack) wrap(so netio.Socket, out simnet.Dir) *socket {
	ss, ok := so.(*simnet.Socket)
	if !ok {
		panic(fmt.Sprintf("explore: a socket of %T, not of simnet", so))
	}
	return &socket{Socket: so, x: s.x, side: s.side, conn: ss.Conn(), out: out, wall: s.Clock().Wall, cuts: s.cuts}
}

type listener struct {
	netio.Listener
	s *stack
}

func (l *listener) Accept() (netio.Socket, error) {
	so, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.s.wrap(so, simnet.ServerToClient), nil
}

// socket is a simulated socket the explorer watches: it counts the msgr1 elements its side
// begins writing, stops a write or a read exactly where a fault point's element begins, and
// fires the point when the side goes on: reset (shut down both ways, the operation fails) or
// hold the stream there (stall, block) — what the side writes from there on is taken and kept
// until the hold ends, then written in order.
type socket struct {
	netio.Socket
	x      *explorer
	side   Side
	conn   uint64     // the simulated connection
	out    simnet.Dir // the stream this side writes; it reads the other
	wr, rd uint64     // stream offsets of the next byte written and read

	holding bool   // a stall or block holds the stream
	held    []byte // bytes taken while or after it held, not yet written
	closed  bool

	wall func() time.Time // the side's wall clock (its KEEPALIVE2 stamps)

	cuts    *int // Variant.ChallengeCuts: the handshakes still to cut (nil: none)
	replies int  // connect_reply elements begun on this socket
}

func (s *socket) stream() simnet.StreamID { return simnet.StreamID{Conn: s.conn, Dir: s.out} }

// Writev writes up to the next fault point's element, or fires the point when the write
// begins with it.
func (s *socket) Writev(bufs [][]byte) (int, error) {
	if s.holding || len(s.held) > 0 {
		return s.hold(bufs), nil
	}
	starts := s.x.starts(s, bufs)
	limit := total(bufs)
	if off, ok := s.cutAt(starts); ok {
		if off == s.wr {
			*s.cuts--
			s.x.h.Note(s.x.names[s.side], "challenge-cuts: conn %d %v cut at its second connect_reply (offset %d)", s.conn, s.out, off)
			_ = s.Socket.Shutdown(netio.ShutReadWrite)
			return s.Socket.Writev(bufs)
		}
		limit = int(off - s.wr)
	}
	for _, st := range starts {
		if st.target < 0 {
			continue
		}
		if st.Off == s.wr {
			return s.fireWrite(st.target, bufs)
		}
		limit = min(limit, int(st.Off-s.wr))
		break
	}
	n, err := s.Socket.Writev(truncate(bufs, limit))
	s.countReplies(starts, s.wr+uint64(max(n, 0)))
	s.x.writes[s.side]++
	s.x.wrote(s, starts, s.wr+uint64(n))
	s.stamps(starts, bufs, n)
	s.wr += uint64(n)
	return n, err
}

// cutAt is where Variant.ChallengeCuts cuts this socket: the start of the second
// connect_reply written on it (with cephx, the reply after the CHALLENGE_AUTHORIZER round), if
// it begins in this write and handshakes are still to be cut.
func (s *socket) cutAt(starts []start) (uint64, bool) {
	if s.cuts == nil || *s.cuts <= 0 {
		return 0, false
	}
	n := s.replies
	for _, st := range starts {
		if st.name != "connect_reply" {
			continue
		}
		if n++; n == 2 {
			return st.Off, true
		}
	}
	return 0, false
}

// countReplies counts the connect_reply elements among starts that begin below end.
func (s *socket) countReplies(starts []start, end uint64) {
	for _, st := range starts {
		if st.name == "connect_reply" && st.Off < end {
			s.replies++
		}
	}
}

// stamps hands the keepalive timespecs among the first n bytes of bufs (which begin at s.wr)
// to the keepalive check (InvKeepalive).
func (s *socket) stamps(starts []start, bufs [][]byte, n int) {
	for _, st := range starts {
		if st.Kind != wire.ElemTimespec || st.Off+wire.TimespecLen > s.wr+uint64(n) {
			continue
		}
		b := make([]byte, 0, wire.TimespecLen)
		skip := int(st.Off - s.wr)
		for _, p := range bufs {
			if skip >= len(p) {
				skip -= len(p)
				continue
			}
			b = append(b, p[skip:min(len(p), skip+wire.TimespecLen-len(b))]...)
			skip = 0
			if len(b) == wire.TimespecLen {
				break
			}
		}
		ts, err := wire.DecodeTimespec(b)
		if err == nil {
			s.x.ka.stamp(s.x.h, s.side, st.Frame, ts, s.wall(), s.x.h.W.Now())
		}
	}
}

// fireWrite fires write point i at this socket's next byte.
func (s *socket) fireWrite(i int, bufs [][]byte) (int, error) {
	p := s.x.fire(i, s, s.wr)
	if p.Action == Reset {
		_ = s.Socket.Shutdown(netio.ShutReadWrite)
		return s.Socket.Writev(bufs)
	}
	s.holding = true
	s.x.h.W.Schedule(s.x.h.W.Now()+s.x.holdFor(p.Action), s.release)
	return s.hold(bufs), nil
}

// hold takes bufs into the held bytes (flushing them if the hold is over).
func (s *socket) hold(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		s.held = append(s.held, b...)
		n += len(b)
	}
	s.wr += uint64(n)
	if !s.holding {
		s.flush()
	}
	return n
}

// release ends the hold: the held bytes go out.
func (s *socket) release() {
	s.holding = false
	s.x.logf("explore: conn %d %v: hold released, %d bytes held", s.conn, s.out, len(s.held))
	s.flush()
}

// flush writes what the socket takes of the held bytes, and tries again a millisecond later
// while some are left; a closed or failed socket drops them.
func (s *socket) flush() {
	if s.closed || len(s.held) == 0 {
		s.held = nil
		return
	}
	n, err := s.Socket.Writev([][]byte{s.held})
	if err != nil && !errors.Is(err, netio.ErrWouldBlock) {
		s.x.logf("explore: conn %d %v: %d held bytes dropped: %v", s.conn, s.out, len(s.held), err)
		s.held = nil
		return
	}
	s.held = s.held[n:]
	if len(s.held) > 0 {
		s.x.h.W.Schedule(s.x.h.W.Now()+time.Millisecond, s.flush)
	}
}

// Read reads up to the read point's element on this stream, or fires it there.
func (s *socket) Read(p []byte) (int, error) {
	if i, off, ok := s.x.readTarget(s); ok {
		switch {
		case off == s.rd:
			s.x.fire(i, s, s.rd)
			_ = s.Socket.Shutdown(netio.ShutReadWrite)
		case off < s.rd+uint64(len(p)):
			p = p[:off-s.rd]
		}
	}
	n, err := s.Socket.Read(p)
	s.rd += uint64(n)
	return n, err
}

func (s *socket) Close() error {
	s.closed = true
	s.held = nil
	return s.Socket.Close()
}

func total(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

// truncate is the first n bytes of bufs.
func truncate(bufs [][]byte, n int) [][]byte {
	if n >= total(bufs) {
		return bufs
	}
	var out [][]byte
	for _, b := range bufs {
		if n == 0 {
			break
		}
		m := min(len(b), n)
		out = append(out, b[:m])
		n -= m
	}
	return out
}

// start is an element a write begins: where, its name, its round (its occurrence among the
// side's writes), and the write point it is (-1: none).
type start struct {
	fault.Start
	name   string
	round  int
	target int
}
