package netiotest

import (
	"errors"
	"strconv"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// checkBytes fails the test if got differs from want, naming the first difference.
func checkBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("%s: got %d bytes, want %d; first difference at offset %d", what, len(got), len(want), i)
	}
}

// testEcho1MiB: 1 MiB written with Writev of several buffers, through short writes and
// EAGAIN, comes back from an echo server intact and in order.
func testEcho1MiB(t *testing.T, h Harness) {
	w := newWorld(t, h)
	ln := w.listen()
	accepted := w.serve(ln, func(c *peer) { c.onData = echo })
	c := w.dial(ln.Addr())
	data := payload(1<<20, 1)
	c.send(split(data, 1, 7000, 65536, 100, 300000, 4096)...)
	w.run("echo 1 MiB", func() bool { return len(c.in) >= len(data) })
	checkBytes(t, "echoed stream", c.in, data)
	if len(*accepted) != 1 {
		t.Fatalf("server accepted %d connections, want 1", len(*accepted))
	}
	checkBytes(t, "server's received stream", (*accepted)[0].in, data)
}

// testWritevManyBuffers: one Writev of 3000 small buffers, some of them empty, is accepted
// (perhaps in part), and the bytes arrive in order.
func testWritevManyBuffers(t *testing.T, h Harness) {
	w := newWorld(t, h)
	ln := w.listen()
	accepted := w.serve(ln, nil)
	c := w.dial(ln.Addr())
	w.run("connect", func() bool { return !c.connecting && len(*accepted) == 1 })
	var bufs [][]byte
	var want []byte
	for i := range 3000 {
		b := payload(i%7, uint64(i))
		bufs = append(bufs, b)
		want = append(want, b...)
	}
	n, err := c.sock.Writev(bufs)
	if err != nil || n <= 0 || n > len(want) {
		t.Fatalf("Writev of %d bytes in %d buffers = (%d, %v), want a positive count", len(want), len(bufs), n, err)
	}
	c.send(consume(bufs, n)...)
	srv := (*accepted)[0]
	w.run("transfer 3000 buffers", func() bool { return len(srv.in) >= len(want) })
	checkBytes(t, "received stream", srv.in, want)
}

// testWritevEmpty: a Writev with nothing to write returns (0, nil) and sends nothing.
func testWritevEmpty(t *testing.T, h Harness) {
	w := newWorld(t, h)
	cli, srv, _ := w.pairRaw()
	for _, bufs := range [][][]byte{nil, {}, {{}, nil, {}}} {
		if n, err := cli.Writev(bufs); n != 0 || err != nil {
			t.Fatalf("Writev(%d empty buffers) = (%d, %v), want (0, nil)", len(bufs), n, err)
		}
	}
	w.add(w.srv, srv.FD(), netio.Read)
	w.quiet(w.srv, srv.FD(), netio.Read, "after empty writes")
	if n, err := srv.Read(make([]byte, 8)); !errors.Is(err, netio.ErrWouldBlock) {
		t.Fatalf("peer Read after empty writes = (%d, %v), want ErrWouldBlock", n, err)
	}
}

// testManyConnections: 50 connections at once each echo their own stream correctly, and
// every client's local address is one accepted socket's remote address.
func testManyConnections(t *testing.T, h Harness) {
	const conns, size = 50, 32 << 10
	w := newWorld(t, h)
	ln := w.listen()
	accepted := w.serve(ln, func(c *peer) { c.onData = echo })
	clients := make([]*peer, conns)
	data := make([][]byte, conns)
	for i := range clients {
		clients[i] = w.dial(ln.Addr())
		data[i] = payload(size, uint64(100+i))
		clients[i].send(split(data[i], 1000, 5000)...)
	}
	w.run("50 echoes", func() bool {
		for _, c := range clients {
			if len(c.in) < size {
				return false
			}
		}
		return true
	})
	for i, c := range clients {
		checkBytes(t, "echo of connection "+strconv.Itoa(i), c.in, data[i])
	}
	if len(*accepted) != conns {
		t.Fatalf("server accepted %d connections, want %d", len(*accepted), conns)
	}
	remotes := make(map[string]bool)
	for _, s := range *accepted {
		remotes[s.sock.RemoteAddr().String()] = true
	}
	for i, c := range clients {
		if !remotes[c.sock.LocalAddr().String()] {
			t.Errorf("client %d LocalAddr %v is no accepted socket's RemoteAddr", i, c.sock.LocalAddr())
		}
	}
}

// fillLimit bounds how much testBackpressure writes before it expects ErrWouldBlock.
const fillLimit = 256 << 20

// testBackpressure: writing to a peer that does not read ends in ErrWouldBlock (never a
// (0, nil) write); once the peer has read everything, every byte arrived in order and the
// writer is reported writable again.
func testBackpressure(t *testing.T, h Harness) {
	w := newWorld(t, h)
	cli, srv, _ := w.pairRaw()
	chunk := payload(64<<10, 8)
	var sent []byte
	for {
		if len(sent) >= fillLimit {
			t.Fatalf("Writev never blocked after %d bytes to a peer that does not read", len(sent))
		}
		n, err := cli.Writev([][]byte{chunk})
		if errors.Is(err, netio.ErrWouldBlock) {
			break
		}
		if err != nil || n <= 0 || n > len(chunk) {
			t.Fatalf("Writev of %d bytes after %d sent = (%d, %v)", len(chunk), len(sent), n, err)
		}
		sent = append(sent, chunk[:n]...)
	}
	w.add(w.cli, cli.FD(), netio.Write)
	w.add(w.srv, srv.FD(), netio.Read)
	checkBytes(t, "stream written until blocked", w.readN(w.srv, srv, len(sent)), sent)
	w.waitFor(w.cli, cli.FD(), netio.Write, "writer after the peer drained")
}
