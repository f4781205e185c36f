//go:build linux

package epoll

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

func TestWritevCapsAtIovMax(t *testing.T) {
	cli, _, _ := testPair(t, New(Options{}))
	var bufs [][]byte
	for i := range 2000 {
		bufs = append(bufs, []byte{byte(i)}, nil)
	}
	n, err := cli.Writev(bufs)
	if err != nil || n != iovMax {
		t.Fatalf("Writev of 2000 one-byte buffers = (%d, %v), want (%d, nil)", n, err, iovMax)
	}
	for i, v := range cli.iov[:cap(cli.iov)] {
		if v.Base != nil {
			t.Fatalf("iovec %d still points at a caller's buffer after Writev", i)
		}
	}
}

func TestClosedSocket(t *testing.T) {
	cli, _, _ := testPair(t, New(Options{}))
	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	if cli.FD() != -1 {
		t.Fatalf("FD after Close = %d, want -1", cli.FD())
	}
	if _, err := cli.Read(make([]byte, 1)); !errors.Is(err, netio.ErrBadFD) {
		t.Fatalf("Read after Close = %v, want EBADF", err)
	}
	if _, err := cli.Writev([][]byte{{1}}); !errors.Is(err, netio.ErrBadFD) {
		t.Fatalf("Writev after Close = %v, want EBADF", err)
	}
	if err := cli.Shutdown(netio.ShutWrite); !errors.Is(err, netio.ErrBadFD) {
		t.Fatalf("Shutdown after Close = %v, want EBADF", err)
	}
	if err := cli.ConnectError(); err != nil {
		t.Fatalf("ConnectError after Close of a connected socket = %v, want nil (cached)", err)
	}
	if err := cli.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
}

// A connect that fails inside connect(2) itself still returns a socket; it polls ready and
// ConnectError tells why. TCP to the limited broadcast address fails with ENETUNREACH at once.
func TestConnectImmediateFailureIsDeferred(t *testing.T) {
	st := New(Options{})
	c, err := st.Connect(netip.MustParseAddrPort("255.255.255.255:1"))
	if err != nil {
		t.Fatalf("Connect = %v, want the failure deferred to ConnectError", err)
	}
	defer c.Close()
	if c.(*Socket).connErr == nil {
		t.Skip("connect(2) did not fail at once on this machine")
	}
	p := newTestPoller(t, 0)
	if ev := waitReady(t, p, c.FD(), netio.Write); ev != netio.Read|netio.Write {
		t.Fatalf("failed connect polled %v, want rw", ev)
	}
	err = c.ConnectError()
	if err == nil || errors.Is(err, netio.ErrInProgress) {
		t.Fatalf("ConnectError = %v, want the failure", err)
	}
	if err2 := c.ConnectError(); err2 != err {
		t.Fatalf("second ConnectError = %v, want %v", err2, err)
	}
}

func TestShutdownInvalidHow(t *testing.T) {
	cli, _, _ := testPair(t, New(Options{}))
	if err := cli.Shutdown(netio.How(42)); err == nil {
		t.Fatal("Shutdown(42) succeeded")
	}
}

func TestListenErrors(t *testing.T) {
	st := New(Options{})
	l, err := st.Listen(netip.MustParseAddrPort("127.0.0.1:0"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := st.Listen(l.Addr(), 0); !errors.Is(err, netio.ErrAddrInUse) {
		t.Fatalf("second Listen on %v = %v, want EADDRINUSE", l.Addr(), err)
	}
	if _, err := st.Listen(netip.AddrPort{}, 0); err == nil {
		t.Fatal("Listen on the zero AddrPort succeeded")
	}
}

func TestOptions(t *testing.T) {
	st := New(Options{Backlog: -1, RcvBuf: 1 << 16, Nagle: true})
	if st.opts.Backlog != DefaultBacklog || st.Clock() == nil {
		t.Fatalf("defaults not applied: %+v", st.opts)
	}
	cli, srv, _ := testPair(t, st)
	if _, err := cli.Writev([][]byte{[]byte("hi")}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := srv.Read(buf)
		if err == nil && n == 2 {
			break
		}
		if !errors.Is(err, netio.ErrWouldBlock) || time.Now().After(deadline) {
			t.Fatalf("Read = (%d, %v)", n, err)
		}
		waitReady(t, newTestPoller(t, 0), srv.FD(), netio.Read)
	}
}

func TestNoAllocsSteadyState(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	cli, srv, p := testPair(t, New(Options{}))
	if err := p.Add(srv.FD(), netio.Read); err != nil {
		t.Fatal(err)
	}
	hdr, data := make([]byte, 64), make([]byte, 4096)
	bufs := [][]byte{hdr, data}
	rbuf := make([]byte, 8192)
	evs := make([]netio.Event, 16)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := cli.Writev(bufs); err != nil {
			t.Fatal(err)
		}
		if n, err := p.Wait(evs, time.Second); n != 1 || err != nil {
			t.Fatalf("Wait = (%d, %v)", n, err)
		}
		if _, err := srv.Read(rbuf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Writev+Wait+Read allocates %v times per run, want 0", allocs)
	}
	allocs = testing.AllocsPerRun(200, func() {
		_ = p.Wake()
		_, _ = p.Wait(evs, -1)
		_, _ = srv.Read(rbuf) // ErrWouldBlock
	})
	if allocs != 0 {
		t.Errorf("Wake+Wait+empty Read allocates %v times per run, want 0", allocs)
	}
}

// Reads and writes of up to rawMax bytes are raw system calls, larger ones are not (raw.go):
// bytes cross both kinds intact and in order.
func TestReadWritevAcrossRawMax(t *testing.T) {
	cli, srv, p := testPair(t, New(Options{}))
	var want []byte
	for _, size := range []int{1, rawMax, rawMax + 1, 3 * rawMax} {
		for i := range size {
			want = append(want, byte(len(want)+i*7))
		}
	}
	sizes := []int{rawMax, 100, 2 * rawMax} // read buffers at, below and above rawMax in turn
	out, in, reads := want, 0, 0
	for in < len(want) {
		if len(out) > 0 {
			// Writes of 1, rawMax, rawMax+1 and 3*rawMax bytes, each in two buffers.
			next := []int{1, rawMax, rawMax + 1, 3 * rawMax}[min(reads, 3)]
			b := out[:min(next, len(out))]
			n, err := cli.Writev([][]byte{b[:len(b)/2], b[len(b)/2:]})
			if err != nil && !errors.Is(err, netio.ErrWouldBlock) {
				t.Fatalf("Writev: %v", err)
			}
			out = out[n:]
		}
		buf := make([]byte, sizes[reads%len(sizes)])
		n, err := srv.Read(buf)
		if errors.Is(err, netio.ErrWouldBlock) {
			waitReady(t, p, srv.FD(), netio.Read)
			continue
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if string(buf[:n]) != string(want[in:in+n]) {
			t.Fatalf("bytes %d..%d differ from those written", in, in+n)
		}
		in += n
		reads++
	}
}
