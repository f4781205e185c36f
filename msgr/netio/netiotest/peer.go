package netiotest

import (
	"bytes"
	"errors"
	"io"
	"net/netip"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// readsPerEvent caps reads per readiness report, as an EventCenter does; level triggering
// reports whatever is left again.
const readsPerEvent = 16

// peer is one end of a connection driven by the run loop the way the messenger drives it: it
// reads whatever arrives, keeps an out-queue written with Writev, and arms Write interest only
// while that queue is blocked.
type peer struct {
	w          *world
	s          *side
	sock       netio.Socket
	connecting bool // waiting for the connect to finish
	out        [][]byte
	in         []byte
	eof        bool
	onData     func(c *peer, data []byte) // called with each chunk read, if set
	buf        []byte
	watched    bool
	mask       netio.Events
}

// newPeer wraps sock, owned by side s, and registers it with s's poller.
func (w *world) newPeer(s *side, sock netio.Socket, connecting bool) *peer {
	c := &peer{w: w, s: s, sock: sock, connecting: connecting, buf: make([]byte, 64<<10)}
	s.handlers[sock.FD()] = c.handle
	c.updateInterest()
	return c
}

// dial connects a client peer to addr; the run loop finishes the connect.
func (w *world) dial(addr netip.AddrPort) *peer {
	return w.newPeer(w.cli, w.connect(addr), true)
}

// serve registers ln with the server poller; every accepted connection becomes a server
// peer, passed to onAccept (if set) and appended to the returned slice's target.
func (w *world) serve(ln netio.Listener, onAccept func(*peer)) *[]*peer {
	accepted := new([]*peer)
	w.add(w.srv, ln.FD(), netio.Read)
	w.srv.handlers[ln.FD()] = func(netio.Events) {
		for _, sock := range w.acceptAll(ln) {
			c := w.newPeer(w.srv, sock, false)
			if onAccept != nil {
				onAccept(c)
			}
			*accepted = append(*accepted, c)
		}
	}
	return accepted
}

// echo sends every chunk a peer reads back to its sender.
func echo(c *peer, data []byte) { c.send(bytes.Clone(data)) }

// handle reacts to one readiness report.
func (c *peer) handle(ev netio.Events) {
	if c.connecting {
		c.connecting = !c.w.connectDone(c.sock)
		if !c.connecting {
			c.flush()
		}
		c.updateInterest()
		return
	}
	if ev&netio.Write != 0 {
		c.flush()
	}
	if ev&netio.Read != 0 {
		c.readSome()
	}
	c.updateInterest()
}

// send queues bufs and writes as much as the socket takes now.
func (c *peer) send(bufs ...[]byte) {
	c.out = append(c.out, bufs...)
	if !c.connecting {
		c.flush()
	}
	c.updateInterest()
}

// flush writes the out-queue until it is empty or the socket would block.
func (c *peer) flush() {
	t := c.w.t
	t.Helper()
	for len(c.out) > 0 {
		total := queued(c.out)
		n, err := c.sock.Writev(c.out)
		if errors.Is(err, netio.ErrWouldBlock) {
			return
		}
		if err != nil {
			t.Fatalf("%s: Writev of %d bytes in %d buffers: %v", c.s.name, total, len(c.out), err)
		}
		if n <= 0 || n > total {
			t.Fatalf("%s: Writev of %d bytes returned (%d, nil)", c.s.name, total, n)
		}
		c.out = consume(c.out, n)
	}
}

// readSome reads up to readsPerEvent times, recording data and EOF.
func (c *peer) readSome() {
	t := c.w.t
	t.Helper()
	for range readsPerEvent {
		if c.eof {
			return
		}
		n, err := c.sock.Read(c.buf)
		switch {
		case errors.Is(err, netio.ErrWouldBlock):
			return
		case err == io.EOF:
			c.eof = true
			return
		case err != nil:
			t.Fatalf("%s: Read: %v", c.s.name, err)
		case n <= 0 || n > len(c.buf):
			t.Fatalf("%s: Read into %d bytes returned (%d, nil)", c.s.name, len(c.buf), n)
		}
		c.in = append(c.in, c.buf[:n]...)
		if c.onData != nil {
			c.onData(c, c.buf[:n])
		}
	}
}

// updateInterest makes the poller registration match what the peer is waiting for: Write
// while connecting or while output is blocked, Read until EOF.
func (c *peer) updateInterest() {
	if c.sock.FD() < 0 {
		return
	}
	var want netio.Events
	if c.connecting || len(c.out) > 0 {
		want |= netio.Write
	}
	if !c.connecting && !c.eof {
		want |= netio.Read
	}
	switch {
	case want == 0 && c.watched:
		c.w.del(c.s, c.sock.FD())
		c.watched = false
	case want != 0 && !c.watched:
		c.w.add(c.s, c.sock.FD(), want)
		c.watched = true
	case want != 0 && want != c.mask:
		c.w.modify(c.s, c.sock.FD(), want)
	}
	c.mask = want
}

// close unregisters and closes the peer's socket.
func (c *peer) close() {
	t := c.w.t
	t.Helper()
	fd := c.sock.FD()
	if c.watched {
		c.w.del(c.s, fd)
		c.watched = false
	}
	delete(c.s.handlers, fd)
	if err := c.sock.Close(); err != nil {
		t.Fatalf("%s: Close: %v", c.s.name, err)
	}
}

// queued is the number of bytes in bufs.
func queued(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

// consume drops the first n bytes from bufs.
func consume(bufs [][]byte, n int) [][]byte {
	for n > 0 && len(bufs) > 0 {
		if n < len(bufs[0]) {
			bufs[0] = bufs[0][n:]
			return bufs
		}
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	for len(bufs) > 0 && len(bufs[0]) == 0 {
		bufs = bufs[1:]
	}
	return bufs
}

// payload returns n pseudo-random bytes, a different stream for each seed.
func payload(n int, seed uint64) []byte {
	b := make([]byte, n)
	x := seed*0x9e3779b97f4a7c15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x >> 32)
	}
	return b
}

// split cuts b into consecutive buffers whose sizes cycle through sizes.
func split(b []byte, sizes ...int) [][]byte {
	var bufs [][]byte
	for i := 0; len(b) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(b))
		bufs = append(bufs, b[:n])
		b = b[n:]
	}
	return bufs
}

// firstDiff returns the first index where a and b differ, or -1 if equal.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}
