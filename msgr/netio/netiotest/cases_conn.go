package netiotest

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// testListenPort0: listening on port 0 binds the server IP and reports the chosen port.
func testListenPort0(t *testing.T, h Harness) {
	w := newWorld(t, h)
	ln := w.listen()
	if ln.Addr().Port() == 0 {
		t.Fatalf("Addr() = %v after listening on port 0, want a chosen port", ln.Addr())
	}
	if ln.Addr().Addr() != h.ServerIP {
		t.Fatalf("Addr() = %v, want IP %v", ln.Addr(), h.ServerIP)
	}
	if ln.FD() < 0 {
		t.Fatalf("listener FD() = %d", ln.FD())
	}
	other := w.listen()
	if other.Addr().Port() == ln.Addr().Port() {
		t.Fatalf("two listeners on port 0 both got port %d", ln.Addr().Port())
	}
}

// testAcceptEmpty: Accept with nothing pending is ErrWouldBlock, before and after a real accept.
func testAcceptEmpty(t *testing.T, h Harness) {
	w := newWorld(t, h)
	ln := w.listen()
	if sock, err := ln.Accept(); !errors.Is(err, netio.ErrWouldBlock) {
		t.Fatalf("Accept on an idle listener = (%v, %v), want ErrWouldBlock", sock, err)
	}
	_, _, ln2 := w.pairRaw()
	if sock, err := ln2.Accept(); !errors.Is(err, netio.ErrWouldBlock) {
		t.Fatalf("Accept after the only connection was taken = (%v, %v), want ErrWouldBlock", sock, err)
	}
}

// testConnectAccept: a connect is accepted, both ends become writable, ConnectError is nil on
// both, and the endpoints match across the pair.
func testConnectAccept(t *testing.T, h Harness) {
	w := newWorld(t, h)
	cli, srv, ln := w.pairRaw()
	for _, sd := range []struct {
		s    *side
		sock netio.Socket
	}{{w.cli, cli}, {w.srv, srv}} {
		if err := sd.sock.ConnectError(); err != nil {
			t.Fatalf("%s: ConnectError on an established socket = %v, want nil", sd.s.name, err)
		}
		w.add(sd.s, sd.sock.FD(), netio.Write)
		w.waitFor(sd.s, sd.sock.FD(), netio.Write, "established socket writable")
		w.del(sd.s, sd.sock.FD())
	}
	checkAddrs(t, cli, srv, ln.Addr())
}

// checkAddrs checks that the endpoints of a connected pair mirror each other.
func checkAddrs(t *testing.T, cli, srv netio.Socket, lnAddr netip.AddrPort) {
	t.Helper()
	if cli.RemoteAddr() != lnAddr {
		t.Errorf("client RemoteAddr = %v, want the listener's %v", cli.RemoteAddr(), lnAddr)
	}
	if srv.LocalAddr() != lnAddr {
		t.Errorf("server LocalAddr = %v, want the listener's %v", srv.LocalAddr(), lnAddr)
	}
	if !cli.LocalAddr().IsValid() || cli.LocalAddr().Port() == 0 {
		t.Errorf("client LocalAddr = %v, want an address with a port", cli.LocalAddr())
	}
	if cli.LocalAddr() != srv.RemoteAddr() {
		t.Errorf("client LocalAddr = %v but server RemoteAddr = %v", cli.LocalAddr(), srv.RemoteAddr())
	}
}

// testReadEmpty: reading a connected socket with nothing to read is ErrWouldBlock, not EOF.
func testReadEmpty(t *testing.T, h Harness) {
	w := newWorld(t, h)
	cli, srv, _ := w.pairRaw()
	buf := make([]byte, 16)
	for i, sock := range []netio.Socket{cli, srv} {
		if n, err := sock.Read(buf); !errors.Is(err, netio.ErrWouldBlock) {
			t.Errorf("%s: Read on an idle connection = (%d, %v), want ErrWouldBlock",
				[]string{"client", "server"}[i], n, err)
		}
	}
}

// testCloseIdempotent: a second Close of a socket or listener returns nil or ErrBadFD.
func testCloseIdempotent(t *testing.T, h Harness) {
	w := newWorld(t, h)
	cli, srv, ln := w.pairRaw()
	closers := []struct {
		name  string
		close func() error
	}{{"client", cli.Close}, {"server", srv.Close}, {"listener", ln.Close}}
	for _, c := range closers {
		if err := c.close(); err != nil {
			t.Fatalf("%s: first Close: %v", c.name, err)
		}
		if err := c.close(); err != nil && !errors.Is(err, netio.ErrBadFD) {
			t.Errorf("%s: second Close = %v, want nil or ErrBadFD", c.name, err)
		}
	}
}
