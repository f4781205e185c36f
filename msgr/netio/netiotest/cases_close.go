package netiotest

import (
	"errors"
	"io"
	"net/netip"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// maxAttempts bounds retry loops that wait one round per attempt.
const maxAttempts = 1000

// testShutdownWriteEOF: after the client shuts down its write side the server reads every
// byte and then io.EOF (again on every later Read), the client can no longer write (EPIPE),
// and the server can still send to the client.
func testShutdownWriteEOF(t *testing.T, h Harness) {
	w := newWorld(t, h)
	c, srv, data := flushedPair(w, 256<<10, 2)
	if err := c.sock.Shutdown(netio.ShutWrite); err != nil {
		t.Fatalf("Shutdown(ShutWrite): %v", err)
	}
	w.run("server reads to EOF", func() bool { return srv.eof })
	checkBytes(t, "stream before EOF", srv.in, data)
	if n, err := srv.sock.Read(make([]byte, 16)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("Read after EOF = (%d, %v), want (0, io.EOF) again", n, err)
	}
	if n, err := c.sock.Writev([][]byte{[]byte("late")}); !errors.Is(err, netio.ErrBrokenPipe) {
		t.Fatalf("Writev after Shutdown(ShutWrite) = (%d, %v), want EPIPE", n, err)
	}
	reply := payload(4096, 3)
	srv.send(reply)
	w.run("reply over the half-closed connection", func() bool { return len(c.in) >= len(reply) })
	checkBytes(t, "reply", c.in, reply)
	srv.close()
	w.run("client reads to EOF", func() bool { return c.eof })
	checkBytes(t, "reply before EOF", c.in, reply)
}

// testCloseEOF: after the client closes (with nothing unread) the server reads every byte it
// sent and then io.EOF.
func testCloseEOF(t *testing.T, h Harness) {
	w := newWorld(t, h)
	c, srv, data := flushedPair(w, 256<<10, 7)
	c.close()
	w.run("server reads to EOF", func() bool { return srv.eof })
	checkBytes(t, "stream before EOF", srv.in, data)
	if n, err := srv.sock.Read(make([]byte, 16)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("Read after EOF = (%d, %v), want (0, io.EOF) again", n, err)
	}
}

// flushedPair connects a client peer to a server peer and has the client hand size bytes to
// its socket; the server keeps reading meanwhile.
func flushedPair(w *world, size int, seed uint64) (c, srv *peer, data []byte) {
	ln := w.listen()
	accepted := w.serve(ln, nil)
	c = w.dial(ln.Addr())
	data = payload(size, seed)
	c.send(split(data, 65536)...)
	w.run("client hands all bytes to its socket", func() bool {
		return !c.connecting && len(c.out) == 0 && len(*accepted) == 1
	})
	return c, (*accepted)[0], data
}

// testConnectRefused: a connect to a port nobody listens on fails with ECONNREFUSED, either
// from Connect or from ConnectError once the socket polls ready, which keeps saying so.
func testConnectRefused(t *testing.T, h Harness) {
	w := newWorld(t, h)
	ln := w.listen()
	addr := ln.Addr()
	if err := ln.Close(); err != nil {
		t.Fatalf("listener Close: %v", err)
	}
	w.expectRefused(addr, "connect to a port nobody listens on")
}

// testListenerCloseRefuses: once a listener is closed new connects are refused, while a
// connection it accepted before keeps working.
func testListenerCloseRefuses(t *testing.T, h Harness) {
	w := newWorld(t, h)
	ln := w.listen()
	w.serve(ln, func(c *peer) { c.onData = echo })
	c := w.dial(ln.Addr())
	w.run("connect", func() bool { return !c.connecting })
	w.del(w.srv, ln.FD())
	delete(w.srv.handlers, ln.FD())
	if err := ln.Close(); err != nil {
		t.Fatalf("listener Close: %v", err)
	}
	w.expectRefused(ln.Addr(), "connect after Listener.Close")
	msg := payload(1000, 4)
	c.send(msg)
	w.run("echo on the earlier connection", func() bool { return len(c.in) >= len(msg) })
	checkBytes(t, "echo", c.in, msg)
}

// expectRefused connects to addr and requires ECONNREFUSED, from Connect or from
// ConnectError; a second ConnectError must still report it.
func (w *world) expectRefused(addr netip.AddrPort, what string) {
	t := w.t
	t.Helper()
	sock, err := w.cli.stack.Connect(addr)
	if err != nil {
		if !errors.Is(err, netio.ErrRefused) {
			t.Fatalf("%s: Connect = %v, want nil or ECONNREFUSED", what, err)
		}
		return
	}
	t.Cleanup(func() { _ = sock.Close() })
	w.add(w.cli, sock.FD(), netio.Write)
	defer w.del(w.cli, sock.FD())
	for range maxAttempts {
		w.waitFor(w.cli, sock.FD(), netio.Read|netio.Write, what)
		err := sock.ConnectError()
		if errors.Is(err, netio.ErrInProgress) {
			continue
		}
		if !errors.Is(err, netio.ErrRefused) {
			t.Fatalf("%s: ConnectError = %v, want ECONNREFUSED", what, err)
		}
		if err := sock.ConnectError(); !errors.Is(err, netio.ErrRefused) {
			t.Fatalf("%s: second ConnectError = %v, want ECONNREFUSED again", what, err)
		}
		return
	}
	t.Fatalf("%s: ConnectError still in progress after %d ready reports", what, maxAttempts)
}

// testCloseUnreadResets: closing a socket with unread input resets the connection; the peer
// reads ECONNRESET, and then writing fails with ECONNRESET or EPIPE.
func testCloseUnreadResets(t *testing.T, h Harness) {
	w := newWorld(t, h)
	cli, srv, _ := w.pairRaw()
	w.writeSome(w.cli, cli, payload(1000, 5))
	w.add(w.srv, srv.FD(), netio.Read)
	w.waitFor(w.srv, srv.FD(), netio.Read, "data reaches the server")
	w.del(w.srv, srv.FD())
	if err := srv.Close(); err != nil {
		t.Fatalf("server Close: %v", err)
	}
	w.add(w.cli, cli.FD(), netio.Read)
	buf := make([]byte, 4096)
	for attempt := 0; ; attempt++ {
		if attempt == maxAttempts {
			t.Fatalf("client Read still would block after %d ready reports", maxAttempts)
		}
		w.waitFor(w.cli, cli.FD(), netio.Read, "reset reaches the client")
		n, err := cli.Read(buf)
		if errors.Is(err, netio.ErrWouldBlock) {
			continue
		}
		if !errors.Is(err, netio.ErrReset) {
			t.Fatalf("client Read after the peer closed with unread data = (%d, %v), want ECONNRESET", n, err)
		}
		break
	}
	n, err := cli.Writev([][]byte{[]byte("after reset")})
	if !errors.Is(err, netio.ErrReset) && !errors.Is(err, netio.ErrBrokenPipe) {
		t.Fatalf("Writev after reset = (%d, %v), want ECONNRESET or EPIPE", n, err)
	}
}

// testWriteAfterPeerClose: a client that keeps writing to a closed peer eventually gets
// ECONNRESET or EPIPE.
func testWriteAfterPeerClose(t *testing.T, h Harness) {
	w := newWorld(t, h)
	cli, srv, _ := w.pairRaw()
	if err := srv.Close(); err != nil {
		t.Fatalf("server Close: %v", err)
	}
	w.add(w.cli, cli.FD(), netio.Read)
	chunk := payload(1024, 6)
	for range maxAttempts {
		n, err := cli.Writev([][]byte{chunk})
		switch {
		case errors.Is(err, netio.ErrReset) || errors.Is(err, netio.ErrBrokenPipe):
			return
		case err != nil && !errors.Is(err, netio.ErrWouldBlock):
			t.Fatalf("Writev to a closed peer = (%d, %v), want success, EAGAIN, ECONNRESET or EPIPE", n, err)
		}
		w.pump()
		w.wait(w.cli, pollTimeout)
	}
	t.Fatalf("Writev to a closed peer never failed in %d attempts", maxAttempts)
}

// writeSome writes from data until at least one byte was taken, waiting while it would block,
// and returns how many bytes were written.
func (w *world) writeSome(s *side, sock netio.Socket, data []byte) int {
	t := w.t
	t.Helper()
	for range maxAttempts {
		n, err := sock.Writev([][]byte{data})
		switch {
		case err == nil && n > 0 && n <= len(data):
			return n
		case err == nil:
			t.Fatalf("%s: Writev of %d bytes returned (%d, nil)", s.name, len(data), n)
		case !errors.Is(err, netio.ErrWouldBlock):
			t.Fatalf("%s: Writev: %v", s.name, err)
		}
		w.pump()
		w.wait(s, pollTimeout)
	}
	t.Fatalf("%s: Writev would block %d times in a row on a fresh connection", s.name, maxAttempts)
	return 0
}
