package simnet

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

func TestClock(t *testing.T) {
	c := NewClock()
	if c.Now() != 0 || !c.Wall().Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("start: now %v wall %v", c.Now(), c.Wall())
	}
	c.AdvanceTo(1500 * time.Millisecond)
	if c.Now() != 1500*time.Millisecond || !c.Wall().Equal(time.Unix(1700000001, 5e8)) {
		t.Fatalf("after advance: now %v wall %v", c.Now(), c.Wall())
	}
	c.AdvanceTo(c.Now()) // Standing still is allowed.
	defer func() {
		if recover() == nil {
			t.Fatalf("AdvanceTo backwards did not panic")
		}
	}()
	c.AdvanceTo(time.Second)
}

func TestConnectAcceptAndExchange(t *testing.T) {
	w := newWorld(t, 1, Config{})
	l := w.listen(w.b, testPort, 0)
	if l.FD() != 3 || l.Addr() != netip.AddrPortFrom(ipB, testPort) {
		t.Fatalf("listener fd %d addr %v", l.FD(), l.Addr())
	}
	cl := w.connect(w.a, netip.AddrPortFrom(ipB, testPort))
	if cl.FD() != 3 || cl.LocalAddr() != netip.AddrPortFrom(ipA, ephemeralMin) {
		t.Fatalf("client fd %d local %v", cl.FD(), cl.LocalAddr())
	}
	if err := cl.ConnectError(); !errors.Is(err, netio.ErrInProgress) {
		t.Fatalf("ConnectError before establish = %v", err)
	}
	if _, err := cl.Read(make([]byte, 1)); !errors.Is(err, netio.ErrWouldBlock) {
		t.Fatalf("Read while connecting = %v", err)
	}
	if _, err := cl.Writev([][]byte{{1}}); !errors.Is(err, netio.ErrWouldBlock) {
		t.Fatalf("Writev while connecting = %v", err)
	}
	if _, err := l.Accept(); !errors.Is(err, netio.ErrWouldBlock) {
		t.Fatalf("Accept before establish = %v", err)
	}
	if w.net.Runnable() != 1 {
		t.Fatalf("runnable = %d, want the establish", w.net.Runnable())
	}
	tr := w.net.Run(0)
	want := Transfer{Kind: Establish, Conn: 1, From: cl.LocalAddr(), To: netip.AddrPortFrom(ipB, testPort)}
	if tr != want {
		t.Fatalf("transfer %v, want %v", tr, want)
	}
	if err := cl.ConnectError(); err != nil {
		t.Fatalf("ConnectError after establish = %v", err)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	srv := s.(*Socket)
	if srv.FD() != 4 || srv.LocalAddr() != cl.RemoteAddr() || srv.RemoteAddr() != cl.LocalAddr() {
		t.Fatalf("server fd %d local %v remote %v", srv.FD(), srv.LocalAddr(), srv.RemoteAddr())
	}
	if srv.ConnectError() != nil {
		t.Fatalf("accepted ConnectError = %v", srv.ConnectError())
	}
	msg := pattern(200000, 1)
	if got := w.transfer(cl, srv, msg); !bytes.Equal(got, msg) {
		t.Fatalf("client->server: got %d bytes, want %d (equal=%v)", len(got), len(msg), bytes.Equal(got, msg))
	}
	reply := pattern(150000, 2)
	if got := w.transfer(srv, cl, reply); !bytes.Equal(got, reply) {
		t.Fatalf("server->client mismatch: got %d bytes", len(got))
	}
	st := w.net.Stats()
	if st.BytesDelivered != 350000 || st.BytesRead != 350000 || st.BytesWritten != 350000 {
		t.Fatalf("stats %+v", st)
	}
	if st.Connects != 1 || st.Established != 1 || st.Resets != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWritevShortAndFull(t *testing.T) {
	const sendBuf = 1000
	short, one := 0, 0
	for seed := uint64(0); seed < 200; seed++ {
		w := newWorld(t, seed, Config{SendBuf: sendBuf})
		cl, _ := w.pair()
		total := 0
		for {
			n, err := cl.Writev([][]byte{make([]byte, 300), make([]byte, 400), nil, make([]byte, 500)})
			if errors.Is(err, netio.ErrWouldBlock) {
				break
			}
			if err != nil || n < 1 || n > min(1200, sendBuf-total) {
				t.Fatalf("seed %d: writev = %d, %v with %d queued", seed, n, err, total)
			}
			if n < min(1200, sendBuf-total) {
				short++
			}
			if n == 1 {
				one++
			}
			total += n
		}
		if total != sendBuf {
			t.Fatalf("seed %d: EAGAIN with %d of %d queued", seed, total, sendBuf)
		}
		if n, err := cl.Writev(nil); n != 0 || err != nil {
			t.Fatalf("empty writev = %d, %v", n, err)
		}
	}
	if short == 0 || one == 0 {
		t.Fatalf("short writes %d, one-byte writes %d: chunking never shortened", short, one)
	}
}

func TestWritevGathersInOrder(t *testing.T) {
	w := newWorld(t, 3, Config{})
	cl, srv := w.pair()
	bufs := [][]byte{[]byte("hello, "), nil, []byte("simulated "), []byte("world")}
	var want []byte
	for _, b := range bufs {
		want = append(want, b...)
	}
	var got []byte
	for len(want) > len(got) || w.net.Runnable() > 0 {
		n, err := cl.Writev(bufs)
		if err != nil {
			t.Fatalf("writev: %v", err)
		}
		bufs = advance(bufs, n)
		w.settle()
		b, _ := readAvailable(t, srv)
		got = append(got, b...)
		if len(bufs) == 0 {
			break
		}
	}
	w.settle()
	b, _ := readAvailable(t, srv)
	got = append(got, b...)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// advance drops the first n bytes of bufs.
func advance(bufs [][]byte, n int) [][]byte {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	if len(bufs) > 0 {
		bufs[0] = bufs[0][n:]
	}
	return bufs
}

func TestDeliveryChunks(t *testing.T) {
	sizes := map[int]int{}
	for seed := uint64(0); seed < 100; seed++ {
		w := newWorld(t, seed, Config{})
		cl, srv := w.pair()
		w.net.SetTracer(func(tr Transfer) {
			if tr.Kind != Deliver || tr.Bytes < 1 || tr.Bytes > 100 {
				t.Fatalf("transfer %v", tr)
			}
			sizes[tr.Bytes]++
		})
		msg := pattern(100, byte(seed))
		for len(msg) > 0 {
			msg = msg[writeSome(t, cl, msg):]
		}
		w.settle()
		got, _ := readAvailable(t, srv)
		if !bytes.Equal(got, pattern(100, byte(seed))) {
			t.Fatalf("seed %d: got %v", seed, got)
		}
	}
	if sizes[1] == 0 || sizes[100] == 0 {
		t.Fatalf("delivery sizes %v: want both 1-byte and whole deliveries", sizes)
	}
}

func TestReceiveBufferLimitsDelivery(t *testing.T) {
	w := newWorld(t, 5, Config{RecvBuf: 100, SendBuf: 1000})
	cl, srv := w.pair()
	if n := writeSome(t, cl, make([]byte, 1000)); n == 0 {
		t.Fatalf("nothing written")
	}
	w.settle()
	if got := srv.inStream().in.n; got != 100 {
		t.Fatalf("receive buffer holds %d, want 100 (full)", got)
	}
	if w.net.Runnable() != 0 {
		t.Fatalf("delivery runnable into a full receive buffer")
	}
	if _, ok := w.net.NextEvent(); ok {
		t.Fatalf("NextEvent reported a transfer blocked on room")
	}
	if n, err := srv.Read(make([]byte, 1)); n != 1 || err != nil {
		t.Fatalf("read = %d, %v", n, err)
	}
	if w.net.Runnable() != 1 {
		t.Fatalf("read freed room but no delivery runnable")
	}
}

func TestReadChunks(t *testing.T) {
	sizes := map[int]int{}
	for seed := uint64(0); seed < 100; seed++ {
		w := newWorld(t, seed, Config{})
		cl, srv := w.pair()
		msg := pattern(50, 9)
		for len(msg) > 0 {
			msg = msg[writeSome(t, cl, msg):]
		}
		w.settle()
		var got []byte
		buf := make([]byte, 64)
		for {
			n, err := srv.Read(buf)
			if err != nil {
				if !errors.Is(err, netio.ErrWouldBlock) {
					t.Fatalf("read: %v", err)
				}
				break
			}
			sizes[n]++
			got = append(got, buf[:n]...)
		}
		if !bytes.Equal(got, pattern(50, 9)) {
			t.Fatalf("seed %d: read %v", seed, got)
		}
		if n, err := srv.Read(nil); n != 0 || err != nil {
			t.Fatalf("empty read = %d, %v", n, err)
		}
	}
	if sizes[1] == 0 || sizes[50] == 0 {
		t.Fatalf("read sizes %v: want both 1-byte and whole reads", sizes)
	}
}

func TestShutWriteEOF(t *testing.T) {
	w := newWorld(t, 7, Config{Latency: time.Millisecond})
	cl, srv := w.pair()
	msg := pattern(5000, 3)
	sent := 0
	for sent < len(msg) {
		sent += writeSome(t, cl, msg[sent:])
	}
	if err := cl.Shutdown(netio.ShutWrite); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := cl.Shutdown(netio.ShutWrite); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	if _, err := cl.Writev([][]byte{{1}}); !errors.Is(err, netio.ErrBrokenPipe) {
		t.Fatalf("write after shutdown = %v, want EPIPE", err)
	}
	var fins int
	w.net.SetTracer(func(tr Transfer) {
		if tr.FIN {
			fins++
		}
	})
	w.settle()
	got, err := readAvailable(t, srv)
	if err != io.EOF || !bytes.Equal(got, msg) {
		t.Fatalf("read %d bytes then %v; want all %d then EOF", len(got), err, len(msg))
	}
	if _, err := srv.Read(make([]byte, 8)); err != io.EOF {
		t.Fatalf("EOF is not sticky: %v", err)
	}
	if fins != 1 {
		t.Fatalf("%d FIN deliveries", fins)
	}
	// The other direction still works.
	reply := pattern(100, 4)
	if got := w.transfer(srv, cl, reply); !bytes.Equal(got, reply) {
		t.Fatalf("half-closed reply mismatch")
	}
	// Orderly close on both sides: no reset.
	if err := srv.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	w.settle()
	if _, err := cl.Read(make([]byte, 8)); err != io.EOF {
		t.Fatalf("client read after server close = %v, want EOF", err)
	}
	if err := cl.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	w.settle()
	if w.net.Stats().Resets != 0 {
		t.Fatalf("orderly close reset the connection")
	}
	if len(w.net.active) != 0 {
		t.Fatalf("%d connections still active", len(w.net.active))
	}
}

func TestFINWaitsForData(t *testing.T) {
	w := newWorld(t, 8, Config{RecvBuf: 10})
	cl, srv := w.pair()
	for sent := 0; sent < 30; {
		sent += writeSome(t, cl, make([]byte, 30-sent))
	}
	if err := cl.Shutdown(netio.ShutWrite); err != nil {
		t.Fatal(err)
	}
	w.settle()
	total := 0
	for {
		n, err := srv.Read(make([]byte, 100))
		total += n
		if err == io.EOF {
			break
		}
		if errors.Is(err, netio.ErrWouldBlock) {
			w.settle()
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if total != 30 {
		t.Fatalf("EOF after %d of 30 bytes", total)
	}
}

func TestCloseWithUnreadResets(t *testing.T) {
	w := newWorld(t, 11, Config{})
	cl, srv := w.pair()
	for sent := 0; sent < 100; {
		sent += writeSome(t, cl, make([]byte, 100-sent))
	}
	w.settle()
	// The server also has bytes in flight towards the client: they are lost.
	writeSome(t, srv, []byte("lost"))
	if err := srv.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if w.net.Stats().Resets != 1 {
		t.Fatalf("close with unread bytes did not reset")
	}
	if w.settle() != 0 {
		t.Fatalf("transfers ran on a reset connection")
	}
	for i := 0; i < 3; i++ {
		if _, err := cl.Read(make([]byte, 10)); !errors.Is(err, netio.ErrReset) {
			t.Fatalf("read %d after reset = %v", i, err)
		}
		if _, err := cl.Writev([][]byte{{1}}); !errors.Is(err, netio.ErrReset) {
			t.Fatalf("write %d after reset = %v", i, err)
		}
	}
	if err := cl.ConnectError(); err != nil {
		t.Fatalf("ConnectError after reset = %v", err)
	}
	if err := cl.Shutdown(netio.ShutWrite); !errors.Is(err, netio.ErrNotConnected) {
		t.Fatalf("shutdown after reset = %v", err)
	}
	if err := cl.Close(); err != nil {
		t.Fatalf("close after reset: %v", err)
	}
}

func TestCloseWithBytesInFlightResets(t *testing.T) {
	w := newWorld(t, 12, Config{Latency: time.Second})
	cl, srv := w.pair()
	writeSome(t, cl, []byte("x"))
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if w.net.Stats().Resets != 1 {
		t.Fatalf("close with bytes in flight towards it did not reset")
	}
	if _, err := cl.Read(make([]byte, 1)); !errors.Is(err, netio.ErrReset) {
		t.Fatalf("read = %v", err)
	}
}

func TestWriteToClosedPeerResets(t *testing.T) {
	w := newWorld(t, 13, Config{})
	cl, srv := w.pair()
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if _, err := srv.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after peer close = %v, want EOF", err)
	}
	writeSome(t, srv, []byte("anyone there?"))
	var last Transfer
	w.net.SetTracer(func(tr Transfer) { last = tr })
	w.settle()
	if last.Kind != Reset || !last.RST || last.Bytes == 0 || last.From != srv.LocalAddr() {
		t.Fatalf("last transfer %v, want a reset from the server", last)
	}
	if _, err := srv.Writev([][]byte{{1}}); !errors.Is(err, netio.ErrReset) {
		t.Fatalf("write after RST = %v", err)
	}
	if _, err := srv.Read(make([]byte, 1)); !errors.Is(err, netio.ErrReset) {
		t.Fatalf("read after RST = %v", err)
	}
}

func TestShutRead(t *testing.T) {
	w := newWorld(t, 14, Config{})
	cl, srv := w.pair()
	writeSome(t, cl, []byte("discard me"))
	w.settle()
	if err := srv.Shutdown(netio.ShutRead); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Read(make([]byte, 4)); err != io.EOF {
		t.Fatalf("read after ShutRead = %v", err)
	}
	// Later bytes are discarded on delivery without resetting.
	for i := 0; i < 10; i++ {
		writeSome(t, cl, make([]byte, 50000))
		w.settle()
	}
	if w.net.Stats().Resets != 0 || srv.inStream().in.n != 0 {
		t.Fatalf("ShutRead: resets %d, buffered %d", w.net.Stats().Resets, srv.inStream().in.n)
	}
	// The write side still works.
	if got := w.transfer(srv, cl, []byte("still talking")); string(got) != "still talking" {
		t.Fatalf("got %q", got)
	}
	if err := srv.Shutdown(netio.How(7)); !errors.Is(err, syscallEINVAL) {
		t.Fatalf("bad how = %v", err)
	}
}

func TestShutReadWrite(t *testing.T) {
	w := newWorld(t, 15, Config{})
	cl, srv := w.pair()
	if err := cl.Shutdown(netio.ShutReadWrite); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read = %v", err)
	}
	if _, err := cl.Writev([][]byte{{1}}); !errors.Is(err, netio.ErrBrokenPipe) {
		t.Fatalf("write = %v", err)
	}
	w.settle()
	if _, err := srv.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("peer read = %v", err)
	}
}

func TestRefused(t *testing.T) {
	cases := []struct {
		name string
		to   netip.AddrPort
	}{
		{"no listener", netip.AddrPortFrom(ipB, 1)},
		{"no host", netip.AddrPortFrom(ipC, testPort)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, 21, Config{Latency: 5 * time.Millisecond})
			w.listen(w.b, testPort, 0)
			p := mustPoller(t, w.a)
			cl := w.connect(w.a, tc.to)
			if err := p.Add(cl.FD(), netio.Write); err != nil {
				t.Fatal(err)
			}
			if p.HasReady() {
				t.Fatalf("connecting socket reported ready")
			}
			if w.net.Runnable() != 0 {
				t.Fatalf("connect decided before the latency passed")
			}
			if due, ok := w.net.NextEvent(); !ok || due != 5*time.Millisecond {
				t.Fatalf("NextEvent = %v, %v", due, ok)
			}
			w.net.Clock().AdvanceTo(5 * time.Millisecond)
			if tr := w.net.Run(0); tr.Kind != Refuse {
				t.Fatalf("transfer %v, want refuse", tr)
			}
			if err := cl.ConnectError(); !errors.Is(err, netio.ErrRefused) {
				t.Fatalf("ConnectError = %v", err)
			}
			evs := make([]netio.Event, 4)
			if n, _ := p.Wait(evs, 0); n != 1 || evs[0] != (netio.Event{FD: cl.FD(), Events: netio.Read | netio.Write}) {
				t.Fatalf("wait = %v", evs[:n])
			}
			if _, err := cl.Read(make([]byte, 1)); !errors.Is(err, netio.ErrRefused) {
				t.Fatalf("read = %v", err)
			}
			if _, err := cl.Writev([][]byte{{1}}); !errors.Is(err, netio.ErrRefused) {
				t.Fatalf("write = %v", err)
			}
			if err := cl.Close(); err != nil {
				t.Fatal(err)
			}
			if p.HasReady() || w.net.Stats().Refused != 1 {
				t.Fatalf("after close: ready %v refused %d", p.HasReady(), w.net.Stats().Refused)
			}
		})
	}
}

// refusedCount counts the sockets whose connect was refused; all others must be connected.
func refusedCount(t *testing.T, cs ...*Socket) int {
	t.Helper()
	n := 0
	for _, c := range cs {
		switch err := c.ConnectError(); {
		case errors.Is(err, netio.ErrRefused):
			n++
		case err != nil:
			t.Fatalf("ConnectError = %v", err)
		}
	}
	return n
}

func TestBacklog(t *testing.T) {
	w := newWorld(t, 22, Config{})
	l := w.listen(w.b, testPort, 2)
	to := netip.AddrPortFrom(ipB, testPort)
	c1, c2, c3 := w.connect(w.a, to), w.connect(w.a, to), w.connect(w.a, to)
	w.settle() // The attempts are decided in an order the seed picks.
	if n := refusedCount(t, c1, c2, c3); n != 1 {
		t.Fatalf("%d of 3 refused with backlog 2", n)
	}
	if _, err := l.Accept(); err != nil {
		t.Fatal(err)
	}
	c4 := w.connect(w.a, to)
	w.settle()
	if c4.ConnectError() != nil {
		t.Fatalf("accept did not make room: %v", c4.ConnectError())
	}
	// Ephemeral ports count up and are never shared.
	ports := []uint16{c1.LocalAddr().Port(), c2.LocalAddr().Port(), c3.LocalAddr().Port(), c4.LocalAddr().Port()}
	if ports[0] != 40000 || ports[1] != 40001 || ports[2] != 40002 || ports[3] != 40003 {
		t.Fatalf("ports %v", ports)
	}
	s, _ := l.Accept()
	s4, _ := l.Accept()
	if s4.RemoteAddr() != c4.LocalAddr() || s.RemoteAddr() == c4.LocalAddr() {
		t.Fatalf("accept order: %v %v", s.RemoteAddr(), s4.RemoteAddr())
	}
	if _, err := l.Accept(); !errors.Is(err, netio.ErrWouldBlock) {
		t.Fatalf("accept on empty queue = %v", err)
	}
}

func TestDefaultBacklog(t *testing.T) {
	w := newWorld(t, 23, Config{Backlog: 3})
	w.listen(w.b, testPort, 0)
	to := netip.AddrPortFrom(ipB, testPort)
	var cs []*Socket
	for range 4 {
		cs = append(cs, w.connect(w.a, to))
	}
	w.settle()
	if n := refusedCount(t, cs...); n != 1 {
		t.Fatalf("%d of 4 refused with default backlog 3", n)
	}
}

func TestListenerCloseResetsQueued(t *testing.T) {
	w := newWorld(t, 24, Config{})
	l := w.listen(w.b, testPort, 0)
	to := netip.AddrPortFrom(ipB, testPort)
	accepted := w.connect(w.a, to)
	w.settle()
	queued := w.connect(w.a, to)
	w.settle()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := queued.Read(make([]byte, 1)); !errors.Is(err, netio.ErrReset) {
		t.Fatalf("queued connection read = %v, want reset", err)
	}
	if got := w.transfer(accepted, s.(*Socket), []byte("ok")); string(got) != "ok" {
		t.Fatalf("accepted connection broken: %q", got)
	}
	if _, err := l.Accept(); !errors.Is(err, netio.ErrBadFD) {
		t.Fatalf("accept after close = %v", err)
	}
	// The port is free again, and connects to it are refused until someone listens.
	late := w.connect(w.a, to)
	w.settle()
	if !errors.Is(late.ConnectError(), netio.ErrRefused) {
		t.Fatalf("connect to closed listener = %v", late.ConnectError())
	}
	w.listen(w.b, testPort, 0)
}

func TestListenErrors(t *testing.T) {
	w := newWorld(t, 25, Config{})
	w.listen(w.b, testPort, 0)
	if _, err := w.b.Listen(netip.AddrPortFrom(netip.IPv4Unspecified(), testPort), 0); !errors.Is(err, netio.ErrAddrInUse) {
		t.Fatalf("wildcard over specific = %v", err)
	}
	if _, err := w.b.Listen(netip.AddrPortFrom(ipA, 1), 0); !errors.Is(err, netio.ErrAddrNotAvail) {
		t.Fatalf("foreign address = %v", err)
	}
	l, err := w.b.Listen(netip.AddrPort{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if l.Addr() != netip.AddrPortFrom(netip.IPv4Unspecified(), ephemeralMin) {
		t.Fatalf("ephemeral listener at %v", l.Addr())
	}
	// A wildcard listener accepts connects to the host's address.
	cl := w.connect(w.a, netip.AddrPortFrom(ipB, ephemeralMin))
	w.settle()
	if cl.ConnectError() != nil {
		t.Fatalf("connect to wildcard listener: %v", cl.ConnectError())
	}
	if _, err := w.a.Connect(netip.AddrPort{}); !errors.Is(err, syscallEINVAL) {
		t.Fatalf("connect to invalid address = %v", err)
	}
}

func TestCloseWhileConnecting(t *testing.T) {
	w := newWorld(t, 26, Config{Latency: time.Millisecond})
	l := w.listen(w.b, testPort, 0)
	cl := w.connect(w.a, netip.AddrPortFrom(ipB, testPort))
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if n := w.settle(); n != 0 {
		t.Fatalf("%d transfers ran for an abandoned connect", n)
	}
	if _, err := l.Accept(); !errors.Is(err, netio.ErrWouldBlock) {
		t.Fatalf("abandoned connect reached the listener: %v", err)
	}
}

func TestEBADFAfterClose(t *testing.T) {
	w := newWorld(t, 27, Config{})
	cl, _ := w.pair()
	fd := cl.FD()
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if cl.FD() != -1 {
		t.Errorf("FD after close = %d, want -1", cl.FD())
	}
	calls := map[string]error{
		"close":    cl.Close(),
		"connect":  cl.ConnectError(),
		"shutdown": cl.Shutdown(netio.ShutWrite),
	}
	_, calls["read"] = cl.Read(make([]byte, 1))
	_, calls["writev"] = cl.Writev([][]byte{{1}})
	for _, name := range []string{"close", "connect", "shutdown", "read", "writev"} {
		if !errors.Is(calls[name], netio.ErrBadFD) {
			t.Errorf("%s after close = %v", name, calls[name])
		}
	}
	p := mustPoller(t, w.a)
	if err := p.Add(fd, netio.Read); !errors.Is(err, netio.ErrBadFD) {
		t.Errorf("poller add of closed fd = %v", err)
	}
	// Descriptors are never reused.
	if again := w.connect(w.a, netip.AddrPortFrom(ipB, testPort)); again.FD() <= fd {
		t.Errorf("fd %d after closing fd %d", again.FD(), fd)
	}
}

func TestLatencyOrdersDeliveries(t *testing.T) {
	w := newWorld(t, 28, Config{Latency: 10 * time.Millisecond})
	cl, srv := w.pair()
	start := w.net.Clock().Now()
	writeSome(t, cl, []byte("a"))
	w.net.Clock().AdvanceTo(start + 4*time.Millisecond)
	writeSome(t, cl, []byte("b"))
	if w.net.Runnable() != 0 {
		t.Fatalf("delivery before latency passed")
	}
	due, ok := w.net.NextEvent()
	if !ok || due != start+10*time.Millisecond {
		t.Fatalf("NextEvent = %v, %v", due, ok)
	}
	w.net.Clock().AdvanceTo(due)
	tr := w.net.Run(0)
	if tr.Bytes != 1 {
		t.Fatalf("first delivery %v: only the first byte is due", tr)
	}
	if due, _ := w.net.NextEvent(); due != start+14*time.Millisecond {
		t.Fatalf("second byte due %v", due)
	}
	w.settle()
	if got, _ := readAvailable(t, srv); string(got) != "ab" {
		t.Fatalf("got %q", got)
	}
}

func TestRunOrderAndPanics(t *testing.T) {
	w := newWorld(t, 29, Config{})
	l := w.listen(w.b, testPort, 0)
	to := netip.AddrPortFrom(ipB, testPort)
	c1 := w.connect(w.a, to)
	w.settle()
	c2 := w.connect(w.a, to)
	w.settle()
	s1, _ := l.Accept()
	s2, _ := l.Accept()
	writeSome(t, c2, []byte("x"))
	writeSome(t, s2.(*Socket), []byte("y"))
	writeSome(t, s1.(*Socket), []byte("z"))
	writeSome(t, c1, []byte("w"))
	if w.net.Runnable() != 4 {
		t.Fatalf("runnable %d", w.net.Runnable())
	}
	var order []string
	for w.net.Runnable() > 0 {
		tr := w.net.Run(0)
		order = append(order, tr.From.String())
	}
	want := []string{c1.LocalAddr().String(), s1.LocalAddr().String(), c2.LocalAddr().String(), s2.LocalAddr().String()}
	if len(order) != 4 || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] || order[3] != want[3] {
		t.Fatalf("order %v, want %v", order, want)
	}
	defer func() {
		if recover() == nil {
			t.Fatalf("Run out of range did not panic")
		}
	}()
	w.net.Run(0)
}

func TestTransferString(t *testing.T) {
	tr := Transfer{Kind: Deliver, Conn: 3, From: netip.MustParseAddrPort("10.0.0.1:40000"),
		To: netip.MustParseAddrPort("10.0.0.2:6789"), Bytes: 512}
	if got := tr.String(); got != "c3 deliver 10.0.0.1:40000>10.0.0.2:6789 512B" {
		t.Fatalf("got %q", got)
	}
	tr.Bytes, tr.FIN = 0, true
	if got := tr.String(); got != "c3 deliver 10.0.0.1:40000>10.0.0.2:6789 FIN" {
		t.Fatalf("got %q", got)
	}
	tr = Transfer{Kind: Reset, Conn: 1, Bytes: 2, RST: true}
	if got := tr.String(); got != "c1 reset invalid AddrPort>invalid AddrPort 2B RST" {
		t.Fatalf("got %q", got)
	}
	if TransferKind(99).String() != "kind(99)" {
		t.Fatalf("unknown kind: %v", TransferKind(99))
	}
}

func TestAddHostPanics(t *testing.T) {
	n := New(NewClock(), nil, Config{})
	n.AddHost("a", ipA)
	if n.Host(ipA).Name() != "a" || n.Host(ipB) != nil {
		t.Fatalf("host lookup")
	}
	for _, ip := range []netip.Addr{ipA, {}, netip.IPv4Unspecified()} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AddHost(%v) did not panic", ip)
				}
			}()
			n.AddHost("dup", ip)
		}()
	}
}

// Listening tells a bound listener from a closed one, by host address and port.
func TestNetworkListening(t *testing.T) {
	w := newWorld(t, 1, Config{})
	addr := netip.AddrPortFrom(ipB, testPort)
	if w.net.Listening(addr) {
		t.Fatal("listening before Listen")
	}
	l, err := w.b.Listen(addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !w.net.Listening(addr) || w.net.Listening(netip.AddrPortFrom(ipA, testPort)) || w.net.Listening(netip.AddrPortFrom(ipB, testPort+1)) {
		t.Fatal("Listening does not find exactly the bound listener")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if w.net.Listening(addr) {
		t.Fatal("still listening after Close")
	}
	if w.net.Listening(netip.AddrPortFrom(ipC, testPort)) {
		t.Fatal("listening on a host that does not exist")
	}
}
