//go:build linux

package epoll

import (
	"encoding/binary"
	"errors"
	"math"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// newTestPoller creates a poller closed at test end.
func newTestPoller(tb testing.TB, spin time.Duration) *Poller {
	tb.Helper()
	p, err := newPoller(spin)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	return p
}

// testPair returns an established loopback connection (client, server) and a poller with
// nothing registered.
func testPair(tb testing.TB, st *Stack) (cli, srv *Socket, p *Poller) {
	tb.Helper()
	p = newTestPoller(tb, 0)
	l, err := st.Listen(netip.MustParseAddrPort("127.0.0.1:0"), 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = l.Close() })
	c, err := st.Connect(l.Addr())
	if err != nil {
		tb.Fatal(err)
	}
	cli = c.(*Socket)
	tb.Cleanup(func() { _ = cli.Close() })
	srv = acceptOne(tb, p, l.(*Listener))
	tb.Cleanup(func() { _ = srv.Close() })
	waitReady(tb, p, cli.FD(), netio.Write)
	if err := cli.ConnectError(); err != nil {
		tb.Fatalf("ConnectError: %v", err)
	}
	return cli, srv, p
}

// acceptOne waits for and accepts one connection on l.
func acceptOne(tb testing.TB, p *Poller, l *Listener) *Socket {
	tb.Helper()
	waitReady(tb, p, l.FD(), netio.Read)
	s, err := l.Accept()
	if err != nil {
		tb.Fatalf("Accept: %v", err)
	}
	return s.(*Socket)
}

// waitReady registers fd for want, waits (bounded) until it is reported, and unregisters it.
func waitReady(tb testing.TB, p *Poller, fd int, want netio.Events) netio.Events {
	tb.Helper()
	if err := p.Add(fd, want); err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = p.Delete(fd) }()
	evs := make([]netio.Event, 8)
	for range 500 {
		n, err := p.Wait(evs, 10*time.Millisecond)
		if err != nil {
			tb.Fatal(err)
		}
		for _, ev := range evs[:n] {
			if ev.FD == fd && ev.Events&want != 0 {
				return ev.Events
			}
		}
	}
	tb.Fatalf("fd %d never reported %v", fd, want)
	return 0
}

// eventfdCount reads (and so resets) the poller's eventfd counter; 0 if it is empty.
func eventfdCount(t *testing.T, p *Poller) uint64 {
	t.Helper()
	var b [8]byte
	if _, err := unix.Read(p.wakefd, b[:]); err == unix.EAGAIN {
		return 0
	} else if err != nil {
		t.Fatal(err)
	}
	return binary.NativeEndian.Uint64(b[:])
}

// eventfdAdd adds n to the poller's eventfd counter.
func eventfdAdd(t *testing.T, p *Poller, n uint64) {
	t.Helper()
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], n)
	if _, err := unix.Write(p.wakefd, b[:]); err != nil {
		t.Fatal(err)
	}
}

func TestWakeDedupe(t *testing.T) {
	p := newTestPoller(t, 0)
	for range 100 {
		if err := p.Wake(); err != nil {
			t.Fatal(err)
		}
	}
	if got := eventfdCount(t, p); got != 1 {
		t.Fatalf("100 Wakes wrote %d times to the eventfd, want 1", got)
	}
	eventfdAdd(t, p, 1) // put the one wakeup back
	evs := make([]netio.Event, 4)
	if n, err := p.Wait(evs, 5*time.Second); n != 0 || err != nil {
		t.Fatalf("Wait after Wake = (%d, %v), want (0, nil)", n, err)
	}
	if got := eventfdCount(t, p); got != 0 {
		t.Fatalf("eventfd holds %d after Wait drained it", got)
	}
	if p.woken.Load() {
		t.Fatal("wake flag still set after Wait drained the eventfd")
	}
	if err := p.Wake(); err != nil {
		t.Fatal(err)
	}
	if got := eventfdCount(t, p); got != 1 {
		t.Fatalf("Wake after a drain wrote %d times, want 1", got)
	}
}

func TestTimeoutMillis(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want int
	}{
		{-1, -1},
		{-time.Hour, -1},
		{0, 0},
		{1, 1},
		{100 * time.Microsecond, 1},
		{time.Millisecond, 1},
		{time.Millisecond + 1, 2},
		{1500 * time.Millisecond, 1500},
		{math.MaxInt64, math.MaxInt32},
	} {
		if got := timeoutMillis(tc.in); got != tc.want {
			t.Errorf("timeoutMillis(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// A sub-millisecond timeout must block (for a whole millisecond), not busy-poll. Only a lower
// bound is checked: epoll timeouts never end early, so this cannot flake on a slow machine.
func TestShortTimeoutBlocks(t *testing.T) {
	p := newTestPoller(t, 0)
	evs := make([]netio.Event, 4)
	const waits = 20
	start := time.Now()
	for range waits {
		if n, err := p.Wait(evs, 100*time.Microsecond); n != 0 || err != nil {
			t.Fatalf("Wait = (%d, %v)", n, err)
		}
	}
	if d := time.Since(start); d < waits*time.Millisecond/2 {
		t.Fatalf("%d Waits of 100µs took %v; the timeout was not rounded up to 1ms", waits, d)
	}
}

func TestSpinWaitStillWakes(t *testing.T) {
	p := newTestPoller(t, time.Millisecond)
	evs := make([]netio.Event, 4)
	if err := p.Wake(); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Wait(evs, -1); n != 0 || err != nil {
		t.Fatalf("spinning Wait after Wake = (%d, %v), want (0, nil)", n, err)
	}
	if n, err := p.Wait(evs, 100*time.Microsecond); n != 0 || err != nil {
		t.Fatalf("spinning Wait with a timeout shorter than the spin = (%d, %v)", n, err)
	}
}

func TestWaitEmptyEvents(t *testing.T) {
	cli, srv, p := testPair(t, New(Options{}))
	if _, err := cli.Writev([][]byte{[]byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(srv.FD(), netio.Read); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Wait(nil, 10*time.Millisecond); n != 0 || err != nil {
		t.Fatalf("Wait(nil) = (%d, %v), want (0, nil)", n, err)
	}
	evs := make([]netio.Event, 1)
	if n, err := p.Wait(evs, 0); n != 1 || evs[0].FD != srv.FD() {
		t.Fatalf("Wait after Wait(nil) = (%d, %v) %v: the ready fd was lost", n, err, evs)
	}
}

func TestReadinessMapping(t *testing.T) {
	r, w, rw := netio.Read, netio.Write, netio.Read|netio.Write
	for _, tc := range []struct {
		bits uint32
		want netio.Events
	}{
		{unix.EPOLLIN, r},
		{unix.EPOLLRDHUP, r},
		{unix.EPOLLOUT, w},
		{unix.EPOLLIN | unix.EPOLLOUT, rw},
		{unix.EPOLLHUP, rw},
		{unix.EPOLLERR, rw},
		{0, 0},
	} {
		if got := readiness(tc.bits); got != tc.want {
			t.Errorf("readiness(%#x) = %v, want %v", tc.bits, got, tc.want)
		}
	}
	if got := interest(rw); got != unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLOUT {
		t.Errorf("interest(rw) = %#x", got)
	}
	if got := interest(0); got != 0 {
		t.Errorf("interest(0) = %#x", got)
	}
}

func TestPollerClose(t *testing.T) {
	p := newTestPoller(t, 0)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	if _, err := p.Wait(make([]netio.Event, 1), 0); !errors.Is(err, netio.ErrBadFD) {
		t.Fatalf("Wait after Close = %v, want EBADF", err)
	}
	if err := p.Wake(); !errors.Is(err, netio.ErrBadFD) {
		t.Fatalf("Wake after Close = %v, want EBADF", err)
	}
}

func TestAddErrors(t *testing.T) {
	p := newTestPoller(t, 0)
	if err := p.Add(p.epfd, netio.Read); err == nil {
		t.Fatal("adding an epoll fd to itself succeeded")
	}
	if err := p.Modify(1<<20, netio.Read); !errors.Is(err, unix.EBADF) {
		t.Fatalf("Modify of a bad fd = %v, want EBADF", err)
	}
	if err := p.Delete(1 << 20); err != nil {
		t.Fatalf("Delete of a closed fd = %v, want nil", err)
	}
}
