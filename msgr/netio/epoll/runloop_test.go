//go:build linux

package epoll

import (
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// loopPair is a connected non-blocking socket pair: the loop watches fds[0], the test writes
// to fds[1].
func loopPair(t *testing.T, p *Poller) [2]int {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(fds[0]); _ = unix.Close(fds[1]) })
	if err := p.Add(fds[0], netio.Read); err != nil {
		t.Fatal(err)
	}
	return [2]int{fds[0], fds[1]}
}

// several is RunLoop's "only" for a loop that does not watch exactly one descriptor.
var several = netio.Event{FD: -1}

// runLoop runs p.RunLoop on its own goroutine, with read(n) as the step's handling of the
// events (its result is the step's settled) and only as the loop's only watched descriptor
// (or several), until stop is closed; it returns a channel that gets RunLoop's error.
func runLoop(p *Poller, only netio.Event, read func(evs []netio.Event, n int) bool, stop *atomic.Bool) <-chan error {
	evs := make([]netio.Event, 4)
	errc := make(chan error, 1)
	go func() {
		errc <- p.RunLoop(
			func() ([]netio.Event, time.Duration, time.Duration, netio.Event, bool) {
				return evs, -1, -1, only, stop.Load()
			},
			func(n int) bool { return read(evs, n) })
	}()
	return errc
}

// drainTo reads fd until it is drained (or has nothing), sending each read's length to got.
func drainTo(fd int, got chan<- int) {
	var buf [64]byte
	for {
		k, err := unix.Read(fd, buf[:])
		if k > 0 {
			got <- k
		}
		if err != nil || k < len(buf) {
			return
		}
	}
}

// pingAndStop writes pings one-byte pings to fd, each after the loop reported the previous
// one on got, then stops the loop and fails t if RunLoop returned an error.
func pingAndStop(t *testing.T, p *Poller, fd, pings int, got <-chan int, stop *atomic.Bool, errc <-chan error) {
	t.Helper()
	for i := 0; i < pings; i++ {
		if _, err := unix.Write(fd, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		<-got
	}
	stop.Store(true)
	if err := p.Wake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestRunLoopSettledStepParksWithoutPolling: after a step that drained the socket and said
// so, the loop parks in the runtime's netpoller without a non-blocking epoll_wait first, so a
// ping costs one epoll_wait (the one after the wakeup), not two; and each later ping still
// wakes it (the runtime keeps the readiness it saw between the steps).
func TestRunLoopSettledStepParksWithoutPolling(t *testing.T) {
	p := newTestPoller(t, 0)
	if p.park == nil {
		t.Fatal("the runtime's poller did not take the epoll descriptor")
	}
	fds := loopPair(t, p)
	const pings = 200
	got := make(chan int, 1)
	var stop atomic.Bool
	errc := runLoop(p, several, func(evs []netio.Event, n int) bool {
		for i := 0; i < n; i++ {
			drainTo(evs[i].FD, got)
		}
		return true
	}, &stop)
	pingAndStop(t, p, fds[1], pings, got, &stop, errc)
	// One poll per ping, and a few more (the first RawRead's, the Wake's); a poll before
	// every park would make it at least 2 per ping.
	if p.polls > pings+pings/4 {
		t.Fatalf("%d epoll_waits for %d pings: the loop polls before it parks after settled steps", p.polls, pings)
	}
}

// TestRunLoopUnsettledStepPollsBeforeParking: a step that leaves input in the socket (it
// reads one byte per event) and says so is followed by a poll, which reports the socket again:
// every byte is read though nothing more arrives. Parked without that poll, the loop would
// sleep on a ready socket (the kernel signals an event to the runtime only when new data
// comes, not for data a level-triggered epoll_wait reported before).
func TestRunLoopUnsettledStepPollsBeforeParking(t *testing.T) {
	p := newTestPoller(t, 0)
	fds := loopPair(t, p)
	const size = 100
	done := make(chan struct{})
	var stop atomic.Bool
	read := 0
	errc := runLoop(p, several, func(evs []netio.Event, n int) bool {
		var b [1]byte
		for i := 0; i < n; i++ {
			if k, _ := unix.Read(evs[i].FD, b[:]); k == 1 {
				read++
				if read == size {
					close(done)
				}
			}
		}
		return false
	}, &stop)
	if _, err := unix.Write(fds[1], make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("read %d of %d bytes, then the loop slept on a readable socket", read, size)
	}
	stop.Store(true)
	_ = p.Wake()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestRunLoopDeadlineAndWake: the loop wakes for the timeout next gives it (a deadline of the
// runtime's poller, which ends the RawRead), keeps running after it, and still sees Wakes.
func TestRunLoopDeadlineAndWake(t *testing.T) {
	p := newTestPoller(t, 0)
	var stop atomic.Bool
	steps := make(chan struct{}, 64)
	start := time.Now()
	timeouts := 0
	evs := make([]netio.Event, 4)
	errc := make(chan error, 1)
	go func() {
		errc <- p.RunLoop(
			func() ([]netio.Event, time.Duration, time.Duration, netio.Event, bool) {
				// A timer 20 ms after the start, then none: wait for Wakes.
				if timeouts == 0 {
					left := 20*time.Millisecond - time.Since(start)
					if left <= 0 {
						timeouts++
						return evs, 0, -1, several, stop.Load()
					}
					return evs, left, 20, several, stop.Load()
				}
				return evs, -1, -1, several, stop.Load()
			},
			func(int) bool {
				steps <- struct{}{}
				return true
			})
	}()
	<-steps // the step at the deadline
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("the step for a 20 ms timeout ran after %v", d)
	}
	for range 3 {
		if err := p.Wake(); err != nil {
			t.Fatal(err)
		}
		<-steps
	}
	stop.Store(true)
	_ = p.Wake()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestRunLoopFullBufferPollsAgain: a poll whose buffer the kernel filled may have left ready
// descriptors behind, even when the step saw fewer events than its buffer holds because one
// was the eventfd (dropped by translate). Here the buffer holds one event, the eventfd is
// ready before the socket, and the step settles: the loop must poll again before parking, or
// the socket's data (signalled before the RawRead began) would wait for ever.
func TestRunLoopFullBufferPollsAgain(t *testing.T) {
	p := newTestPoller(t, 0)
	fds := loopPair(t, p)
	// A Wake's eventfd write first, then the data: epoll's ready list keeps that order.
	p.woken.Store(true)
	if _, err := unix.Write(p.wakefd, p.one[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(fds[1], []byte("x")); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	got := make(chan struct{})
	evs := make([]netio.Event, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- p.RunLoop(
			func() ([]netio.Event, time.Duration, time.Duration, netio.Event, bool) {
				return evs, -1, -1, several, stop.Load()
			},
			func(n int) bool {
				var b [8]byte
				for i := 0; i < n; i++ {
					if k, _ := unix.Read(evs[i].FD, b[:]); k > 0 {
						close(got)
					}
				}
				return true // drained (a one-byte read of an eight-byte buffer)
			})
	}()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop parked with a readable socket left behind a full poll")
	}
	stop.Store(true)
	_ = p.Wake()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestRunLoopOnlyDescriptorSkipsThePoll: a loop that watches one descriptor is woken by it
// (no Wake), and the step gets it as ready without an epoll_wait: 200 pings cost a handful
// of polls (the first RawRead's, the stopping Wake's), where polling after every wakeup
// makes 200. Every ping still reaches the handler, and each later ping still wakes the park
// though the epoll set is never scanned in between.
func TestRunLoopOnlyDescriptorSkipsThePoll(t *testing.T) {
	p := newTestPoller(t, 0)
	fds := loopPair(t, p)
	const pings = 200
	got := make(chan int, 1)
	var stop atomic.Bool
	errc := runLoop(p, netio.Event{FD: fds[0], Events: netio.Read}, func(evs []netio.Event, n int) bool {
		for i := 0; i < n; i++ {
			if evs[i].FD != fds[0] || evs[i].Events != netio.Read {
				t.Errorf("event %+v, want fd %d ready for r", evs[i], fds[0])
			}
			drainTo(evs[i].FD, got)
		}
		return true
	}, &stop)
	pingAndStop(t, p, fds[1], pings, got, &stop, errc)
	if p.polls > pings/10 {
		t.Fatalf("%d epoll_waits for %d pings: the loop polls after wakeups by its only descriptor", p.polls, pings)
	}
}

// TestRunLoopOnlyDescriptorWakePolls: with one watched descriptor, a Wake is still polled
// for: its step runs with no event, the eventfd is drained, and the loop parks again and is
// woken by the descriptor's next data. Handing a Wake's wakeup to the step as the
// descriptor's readiness would leave the eventfd readable (every later park would then
// return at once).
func TestRunLoopOnlyDescriptorWakePolls(t *testing.T) {
	p := newTestPoller(t, 0)
	fds := loopPair(t, p)
	type step struct{ n, read int }
	steps := make(chan step, 1)
	var stop atomic.Bool
	errc := runLoop(p, netio.Event{FD: fds[0], Events: netio.Read}, func(evs []netio.Event, n int) bool {
		var buf [64]byte
		read := 0
		for i := 0; i < n; i++ {
			k, _ := unix.Read(evs[i].FD, buf[:])
			read += max(k, 0)
		}
		if !stop.Load() {
			steps <- step{n, read}
		}
		return true
	}, &stop)
	if _, err := unix.Write(fds[1], []byte("a")); err != nil {
		t.Fatal(err)
	}
	if s := <-steps; s.read != 1 {
		t.Fatalf("first step read %d bytes, want 1", s.read)
	}
	// A step may also come from a spurious wakeup of the park (the kernel signals the epoll
	// descriptor for wakeups of the socket that bring no data): it gets the socket as ready
	// and reads nothing. A few of those are allowed around each Wake; a Wake handed to the
	// step as the socket's readiness would leave the eventfd readable, and the steps that
	// read nothing would never stop.
	const spuriousMax = 3
	spurious := 0
	next := func(what string) step {
		for {
			s := <-steps
			if s.n != 1 || s.read != 0 {
				return s
			}
			if spurious++; spurious > spuriousMax {
				t.Fatalf("%s: more than %d steps with the socket ready and nothing to read: the eventfd is not drained", what, spuriousMax)
			}
		}
	}
	for range 3 {
		if err := p.Wake(); err != nil {
			t.Fatal(err)
		}
		if s := next("a Wake's step"); s.n != 0 {
			t.Fatalf("a Wake's step had %d events, %d bytes, want 0 (polled: nothing on the socket)", s.n, s.read)
		}
	}
	if _, err := unix.Write(fds[1], []byte("b")); err != nil {
		t.Fatal(err)
	}
	if s := next("the step after the Wakes"); s.n != 1 || s.read != 1 {
		t.Fatalf("step after the Wakes: %d events, %d bytes, want 1 and 1", s.n, s.read)
	}
	if spurious > 0 {
		t.Logf("%d steps from spurious wakeups", spurious)
	}
	stop.Store(true)
	if err := p.Wake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	var b [8]byte
	if _, err := unix.Read(p.wakefd, b[:]); err != unix.EAGAIN {
		t.Fatalf("eventfd read after the loop stopped: %v, want EAGAIN (drained)", err)
	}
}
