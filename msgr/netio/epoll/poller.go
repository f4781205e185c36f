//go:build linux

package epoll

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// maxEventsPerWait caps how many events one Wait asks the kernel for, whatever len(evs) is.
const maxEventsPerWait = 4096

// Poller is a level-triggered epoll instance with an eventfd for wakeups. It implements
// netio.Poller. Only Wake may be called from another goroutine than the one calling Wait, and
// Close must not run concurrently with Wake.
type Poller struct {
	epfd   int
	wakefd int
	spin   time.Duration
	park   *parker // nil: Wait blocks its thread in epoll_wait

	woken    atomic.Bool // a Wake not yet consumed by a returning Wait
	sleeping atomic.Bool // Wait is blocked (or about to block): Wake must write the eventfd
	closed   atomic.Bool

	polls uint64            // epoll_waits made by Wait and RunLoop (for tests)
	full  bool              // the last epoll_wait filled its buffer: more may be ready (RunLoop)
	buf   []unix.EpollEvent // reused by every Wait
	ctl   unix.EpollEvent   // reused by Add and Modify
	one   [8]byte           // the eventfd increment, read-only after newPoller
	drain [8]byte           // scratch for reading the eventfd, used by Wait only
}

var _ netio.Poller = (*Poller)(nil)

// newPoller creates the epoll instance and registers the wakeup eventfd in it. Unless
// threadWait is set, the epoll descriptor is also handed to Go's netpoller, so that a Wait
// parks its goroutine rather than its thread (see parker).
func newPoller(spin time.Duration, threadWait bool) (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	p := &Poller{epfd: epfd, wakefd: wakefd, spin: spin, buf: make([]unix.EpollEvent, 64)}
	binary.NativeEndian.PutUint64(p.one[:], 1)
	if err := p.ctlOp(unix.EPOLL_CTL_ADD, wakefd, unix.EPOLLIN); err != nil {
		_ = unix.Close(wakefd)
		_ = unix.Close(epfd)
		return nil, os.NewSyscallError("epoll_ctl add eventfd", err)
	}
	if !threadWait {
		p.park = newParker(p)
	}
	return p, nil
}

// interest converts a netio mask to epoll event bits.
func interest(mask netio.Events) uint32 {
	var e uint32
	if mask&netio.Read != 0 {
		e |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if mask&netio.Write != 0 {
		e |= unix.EPOLLOUT
	}
	return e
}

// readiness converts epoll event bits to a netio mask; errors and hang-ups give Read|Write.
func readiness(e uint32) netio.Events {
	var m netio.Events
	if e&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		m |= netio.Read
	}
	if e&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		m |= netio.Write
	}
	return m
}

// ctlOp runs one epoll_ctl with the reusable event, returning the bare errno.
func (p *Poller) ctlOp(op, fd int, events uint32) error {
	p.ctl = unix.EpollEvent{Events: events, Fd: int32(fd)}
	return unix.EpollCtl(p.epfd, op, fd, &p.ctl)
}

// Add starts watching fd for the events in mask.
func (p *Poller) Add(fd int, mask netio.Events) error {
	if err := p.ctlOp(unix.EPOLL_CTL_ADD, fd, interest(mask)); err != nil {
		return os.NewSyscallError("epoll_ctl add", err)
	}
	return nil
}

// Modify replaces the interest mask of a watched fd.
func (p *Poller) Modify(fd int, mask netio.Events) error {
	if err := p.ctlOp(unix.EPOLL_CTL_MOD, fd, interest(mask)); err != nil {
		return os.NewSyscallError("epoll_ctl mod", err)
	}
	return nil
}

// Delete stops watching fd. An fd that is not watched (ENOENT), or already closed and so
// dropped from the set by the kernel (EBADF), is not an error.
func (p *Poller) Delete(fd int) error {
	err := p.ctlOp(unix.EPOLL_CTL_DEL, fd, 0)
	switch err {
	case nil, unix.ENOENT, unix.EBADF:
		return nil
	}
	return os.NewSyscallError("epoll_ctl del", err)
}

// Wake makes a concurrent or the next Wait return promptly. It writes to the eventfd only
// when a Wait is blocked and no Wake since it blocked has written already; a Wake while the
// loop is running (a callback posted from the loop itself, or while it is busy) just sets a
// flag that the next Wait checks, costing no system call.
func (p *Poller) Wake() error {
	if p.closed.Load() {
		return os.NewSyscallError("eventfd write", unix.EBADF)
	}
	if p.woken.Swap(true) {
		return nil // a Wake is pending: the Wait it concerns will return
	}
	if !p.sleeping.Load() {
		return nil // Wait checks woken after announcing that it sleeps (see sleep)
	}
	for {
		switch errno := eventfdWrite(p.wakefd, &p.one); errno {
		case unix.EINTR:
			continue
		case 0, unix.EAGAIN: // EAGAIN: the counter is saturated, so it is readable anyway
			return nil
		default:
			return os.NewSyscallError("eventfd write", errno)
		}
	}
}

// consumeWake clears a pending Wake before a step runs (the step runs what it was for). Most
// steps have none: the flag is cleared only when set, which spares the atomic exchange a
// store would be. A Wake that sets it just after the check stays pending: the loop then
// polls and steps again instead of parking, as for any Wake during a step.
func (p *Poller) consumeWake() {
	if p.woken.Load() {
		p.woken.Store(false)
	}
}

// drainWake empties the eventfd after epoll reported it.
func (p *Poller) drainWake() {
	for eventfdRead(p.wakefd, &p.drain) == unix.EINTR {
	}
}

// Wait stores up to len(evs) ready events in evs and returns how many it stored. It waits at
// most timeout (rounded up to whole milliseconds when its thread blocks) for the first one:
// negative waits until an event or a Wake, zero only polls. With Options.SpinWait it first
// polls without blocking for up to that long. A Wake makes it return 0 unless other events
// were ready too; the eventfd is never reported. With an empty evs nothing can be stored:
// ready descriptors stay ready (level-triggered) and are reported by a later Wait.
//
// Returning for any reason consumes a pending Wake: its purpose, making the loop run its
// posted callbacks, is served by any return (Post queues before it wakes).
func (p *Poller) Wait(evs []netio.Event, timeout time.Duration) (int, error) {
	if p.closed.Load() {
		return 0, os.NewSyscallError("epoll_wait", unix.EBADF)
	}
	p.growBuf(len(evs))
	n, err := p.wait(evs, timeout)
	p.woken.Store(false)
	return n, err
}

func (p *Poller) wait(evs []netio.Event, timeout time.Duration) (int, error) {
	if timeout == 0 || p.woken.Load() {
		return p.pollOnce(evs)
	}
	var start time.Time
	if timeout > 0 || p.spin > 0 {
		start = time.Now()
	}
	if p.spin > 0 {
		n, done, err := p.spinPoll(evs, spinLimit(p.spin, timeout), start)
		if done || err != nil {
			return n, err
		}
	}
	return p.sleep(evs, timeout, start)
}

// RunLoop runs an event loop on the poller until next reports stop: next gives the event
// buffer and timeout of each wait (as Wait takes them), the time, on the caller's clock, that
// the timeout runs to (-1: none; the same time as before names the same deadline, which is
// then not armed again), and the loop's only watched descriptor with its interest mask (FD
// -1 when it watches none or several; see parker.runSteps); handle handles the n events the
// wait stored and reports whether the step settled (left nothing ready that the kernel will
// not report as a new event). Parked in Go's netpoller, a settled step is followed by a park
// without a non-blocking epoll_wait first (see parker.loop); otherwise it is Wait in a loop.
func (p *Poller) RunLoop(next func() ([]netio.Event, time.Duration, time.Duration, netio.Event, bool), handle func(n int) bool) error {
	if p.park != nil && p.spin == 0 {
		return p.park.loop(next, handle)
	}
	for {
		evs, timeout, _, _, stop := next()
		if stop {
			return nil
		}
		n, err := p.Wait(evs, timeout)
		if err != nil {
			return err
		}
		handle(n)
	}
}

// pollOnce is one non-blocking epoll_wait.
func (p *Poller) pollOnce(evs []netio.Event) (int, error) {
	for {
		n, err := p.poll(evs, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, os.NewSyscallError("epoll_wait", err)
		}
		return n, nil
	}
}

// sleep blocks until events, a Wake or the timeout measured from start. It first announces
// that it sleeps and then checks for a Wake, while Wake sets its flag and then checks whether
// anyone sleeps: whichever comes second sees the other, so no Wake is lost.
func (p *Poller) sleep(evs []netio.Event, timeout time.Duration, start time.Time) (int, error) {
	p.sleeping.Store(true)
	defer p.sleeping.Store(false)
	if p.woken.Load() {
		return p.pollOnce(evs)
	}
	if p.park != nil {
		return p.park.wait(evs, timeout, start)
	}
	return p.block(evs, timeout, start)
}

// growBuf makes the reusable event buffer hold len(evs) events, within maxEventsPerWait.
func (p *Poller) growBuf(want int) {
	want = min(max(want, 1), maxEventsPerWait)
	if len(p.buf) < want {
		p.buf = make([]unix.EpollEvent, want)
	}
}

// spinLimit is how long to spin: the spin budget, but never longer than a positive timeout.
func spinLimit(spin, timeout time.Duration) time.Duration {
	if timeout > 0 && timeout < spin {
		return timeout
	}
	return spin
}

// spinPoll polls without blocking until events are ready, a Wake arrives or limit has passed
// since start. done reports that Wait should return n.
func (p *Poller) spinPoll(evs []netio.Event, limit time.Duration, start time.Time) (n int, done bool, err error) {
	for {
		n, err := p.pollOnce(evs)
		if err != nil || n > 0 || p.woken.Load() {
			return n, true, err
		}
		if time.Since(start) >= limit {
			return 0, false, nil
		}
		runtime.Gosched()
	}
}

// block waits in epoll_wait until events, a Wake or the timeout measured from start, and
// retries after EINTR with the time that is left. It blocks the calling thread.
func (p *Poller) block(evs []netio.Event, timeout time.Duration, start time.Time) (int, error) {
	left := timeout
	for {
		if timeout > 0 {
			left = timeout - time.Since(start)
			if left <= 0 {
				return 0, nil
			}
		}
		n, err := p.poll(evs, timeoutMillis(left))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, os.NewSyscallError("epoll_wait", err)
		}
		if n == 0 && !p.woken.Load() {
			continue // only the eventfd was ready, left over from an earlier Wake (or timed out: see above)
		}
		return n, nil
	}
}

// poll runs one epoll_wait with a timeout in milliseconds and translates what it returned.
// Errors are bare errno values.
func (p *Poller) poll(evs []netio.Event, ms int) (int, error) {
	size := min(max(len(evs), 1), len(p.buf))
	p.polls++
	var got int
	if ms == 0 {
		var errno unix.Errno
		if got, errno = epollPoll(p.epfd, p.buf[:size]); errno != 0 {
			return 0, errno
		}
	} else {
		var err error
		if got, err = unix.EpollWait(p.epfd, p.buf[:size], ms); err != nil {
			return 0, err
		}
	}
	p.full = got == size // counting the eventfd, which translate drops
	return p.translate(evs, got), nil
}

// translate copies the first got events of p.buf into evs, draining the eventfd if it was
// among them (it is never reported).
func (p *Poller) translate(evs []netio.Event, got int) int {
	n := 0
	for i := range got {
		ev := &p.buf[i]
		if int(ev.Fd) == p.wakefd {
			p.drainWake()
			continue
		}
		if n < len(evs) {
			evs[n] = netio.Event{FD: int(ev.Fd), Events: readiness(ev.Events)}
			n++
		}
	}
	return n
}

// timeoutMillis converts a Wait timeout to epoll_wait's milliseconds, rounding up so that a
// sub-millisecond timer does not turn into a busy poll. Negative means block (-1).
func timeoutMillis(d time.Duration) int {
	if d < 0 {
		return -1
	}
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	if ms > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(ms)
}

// Close releases the epoll instance and the eventfd. It is idempotent: later calls return nil.
func (p *Poller) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	var errs []error
	if err := unix.Close(p.wakefd); err != nil {
		errs = append(errs, os.NewSyscallError("close eventfd", err))
	}
	if p.park != nil {
		if err := p.park.file.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close epoll: %w", err))
		}
	} else if err := unix.Close(p.epfd); err != nil {
		errs = append(errs, os.NewSyscallError("close epoll", err))
	}
	return errors.Join(errs...)
}
