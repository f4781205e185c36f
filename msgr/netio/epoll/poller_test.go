//go:build linux

package epoll

import (
	"encoding/binary"
	"errors"
	"fmt"
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
	p, err := newPoller(spin, false)
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

// TestWakeWritesOnlyForASleeper: Wakes while no Wait sleeps only set the flag (no system
// call) and the next Wait returns at once, consuming them; Wakes while a Wait sleeps write the
// eventfd once, however many there are.
func TestWakeWritesOnlyForASleeper(t *testing.T) {
	for _, threadWait := range []bool{false, true} {
		t.Run(fmt.Sprintf("threadWait=%v", threadWait), func(t *testing.T) {
			p, err := newPoller(0, threadWait)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if (p.park != nil) == threadWait {
				t.Fatalf("threadWait=%v but parker=%v", threadWait, p.park != nil)
			}
			for range 100 {
				if err := p.Wake(); err != nil {
					t.Fatal(err)
				}
			}
			if got := eventfdCount(t, p); got != 0 {
				t.Fatalf("100 Wakes with nobody sleeping wrote %d times to the eventfd, want 0", got)
			}
			evs := make([]netio.Event, 4)
			start := time.Now()
			if n, err := p.Wait(evs, 5*time.Second); n != 0 || err != nil || time.Since(start) > time.Second {
				t.Fatalf("Wait after Wake = (%d, %v) after %v, want (0, nil) at once", n, err, time.Since(start))
			}
			if p.woken.Load() {
				t.Fatal("wake flag still set after a Wait returned")
			}
			p.sleeping.Store(true) // as Wait does before it blocks
			for range 100 {
				if err := p.Wake(); err != nil {
					t.Fatal(err)
				}
			}
			p.sleeping.Store(false)
			if got := eventfdCount(t, p); got != 1 {
				t.Fatalf("100 Wakes while sleeping wrote %d times, want 1", got)
			}
			if n, err := p.Wait(evs, 5*time.Second); n != 0 || err != nil {
				t.Fatalf("Wait after Wakes = (%d, %v), want (0, nil)", n, err)
			}
		})
	}
}

// TestParkedWaitAfterAnEarlierDeadline: a Wait that inherits a shorter deadline armed by an
// earlier Wait parks again when it fires, and still sees a Wake that comes later. (A
// regression: the expired deadline was kept, every park failed at once, and the Wait spun
// without polling, deaf to Wakes, until its own timeout; it hung messenger shutdowns.)
func TestParkedWaitAfterAnEarlierDeadline(t *testing.T) {
	p := newTestPoller(t, 0)
	if p.park == nil {
		t.Fatal("the runtime's poller did not take the epoll descriptor")
	}
	evs := make([]netio.Event, 4)
	go func() {
		time.Sleep(5 * time.Millisecond)
		_ = p.Wake()
	}()
	if n, err := p.Wait(evs, 60*time.Millisecond); n != 0 || err != nil {
		t.Fatalf("first Wait = (%d, %v)", n, err)
	}
	// The 60 ms deadline is still armed; this Wait keeps it and must survive its expiry.
	woke := make(chan error, 1)
	go func() {
		time.Sleep(150 * time.Millisecond)
		woke <- p.Wake()
	}()
	start := time.Now()
	if n, err := p.Wait(evs, 30*time.Second); n != 0 || err != nil {
		t.Fatalf("second Wait = (%d, %v)", n, err)
	}
	if err := <-woke; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Wait returned %v after it started: the Wake 150 ms in was missed", d)
	}
}

// TestParkedWaitSeesSockets: a Wait parked in the runtime's poller returns when a watched
// socket becomes readable, and honours its timeout when nothing happens.
func TestParkedWaitSeesSockets(t *testing.T) {
	st := New(Options{})
	cli, srv, _ := testPair(t, st)
	p := newTestPoller(t, 0)
	if p.park == nil {
		t.Fatal("the runtime's poller did not take the epoll descriptor")
	}
	if err := p.Add(srv.FD(), netio.Read); err != nil {
		t.Fatal(err)
	}
	evs := make([]netio.Event, 4)
	start := time.Now()
	if n, err := p.Wait(evs, 50*time.Millisecond); n != 0 || err != nil {
		t.Fatalf("idle Wait = (%d, %v), want (0, nil)", n, err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("idle Wait(50ms) returned after %v", d)
	}
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		time.Sleep(20 * time.Millisecond)
		_, _ = cli.Writev([][]byte{[]byte("x")})
	}()
	n, err := p.Wait(evs, -1)
	<-wrote
	if err != nil || n != 1 || evs[0].FD != srv.FD() || evs[0].Events&netio.Read == 0 {
		t.Fatalf("Wait = (%d, %v, %v), want the server socket readable", n, err, evs[:n])
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
