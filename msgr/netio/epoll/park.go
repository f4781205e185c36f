//go:build linux

package epoll

import (
	"errors"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// parker makes a Wait block in Go's netpoller instead of in its own epoll_wait. An epoll
// descriptor is itself pollable: it is readable while any of the descriptors it watches is
// ready. Handed to the runtime as an os.File, it is watched by the runtime's poller like a
// socket, and a Wait that finds nothing ready parks its goroutine until it is. The thread is
// free meanwhile, and a wakeup is the Go scheduler readying a goroutine (often on the thread
// that just made the peer's socket readable) instead of the kernel waking a sleeping thread,
// which costs 25–35 µs on a VM. This is how goroutine-per-connection servers wait, and why
// their ping-pong latency is low.
type parker struct {
	p        *Poller
	file     *os.File
	rc       syscall.RawConn
	deadline time.Time // read deadline armed on file (zero: none)

	evs   []netio.Event // where the ready callback stores events
	n     int
	err   error
	ready func(fd uintptr) bool // p.pollReady, bound once

	// RunLoop's state: the center's callbacks, and how the last RawRead ended.
	next   func() ([]netio.Event, time.Duration, time.Duration, netio.Event, bool)
	handle func(n int) bool
	stop   bool
	due    time.Duration         // the caller's time the armed deadline was armed for (-1: unknown)
	parked []netio.Event         // the event buffer of the park runSteps returned false for (nil: none)
	only   netio.Event           // that park's only watched descriptor and its interest (FD < 0: none or several)
	steps  func(fd uintptr) bool // k.runSteps, bound once
}

// newParker registers p's epoll descriptor with the runtime's poller, or returns nil (Wait
// then blocks its thread) if the runtime does not take it.
func newParker(p *Poller) *parker {
	if err := unix.SetNonblock(p.epfd, true); err != nil {
		return nil
	}
	f := os.NewFile(uintptr(p.epfd), "epoll")
	if f == nil {
		return nil
	}
	// A file the runtime poller does not watch has no deadlines: that is the test.
	if f.SetReadDeadline(time.Time{}) != nil {
		// The File must not close the descriptor the Poller still owns.
		_ = unix.SetNonblock(p.epfd, false)
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil
	}
	k := &parker{p: p, file: f, rc: rc}
	k.ready = k.pollReady
	k.steps = k.runSteps
	return k
}

// wait polls, and parks until the epoll descriptor is readable while nothing is ready, until
// events, a Wake or the timeout measured from start. A deadline armed earlier than this Wait
// needs (see arm) makes it park again, so it never returns before its own timeout.
func (k *parker) wait(evs []netio.Event, timeout time.Duration, start time.Time) (int, error) {
	for {
		if err := k.arm(timeout, start); err != nil {
			return 0, err
		}
		k.evs, k.n, k.err = evs, 0, nil
		err := k.rc.Read(k.ready)
		k.evs = nil
		switch {
		case k.err != nil:
			return 0, os.NewSyscallError("epoll_wait", k.err)
		case errors.Is(err, os.ErrDeadlineExceeded):
			if timeout < 0 || time.Since(start) < timeout {
				continue // an earlier deadline than ours fired
			}
			return 0, nil
		case err != nil:
			return 0, err
		}
		return k.n, nil
	}
}

// pollReady is the callback of RawConn.Read: one non-blocking epoll_wait. It reports done when
// events (or a Wake) were found; otherwise the runtime parks the goroutine until the epoll
// descriptor is readable and calls it again.
func (k *parker) pollReady(uintptr) bool {
	n, err := k.p.poll(k.evs, 0)
	switch {
	case err == unix.EINTR:
		return false
	case err != nil:
		k.err = err
		return true
	}
	k.n = n
	return n > 0 || k.p.woken.Load()
}

// arm sets the file's read deadline for a timeout measured from start. A deadline already
// armed that is still ahead and no later than needed is kept (Wait parks again if it fires
// early), so the runtime timer is only touched when the deadline must move earlier, has
// passed, or is first needed. A deadline that has passed is always replaced: it would make
// every park fail at once, and the Wait would spin without ever polling.
func (k *parker) arm(timeout time.Duration, start time.Time) error {
	var want time.Time
	if timeout > 0 {
		want = start.Add(timeout)
	}
	live := !k.deadline.IsZero() && time.Now().Before(k.deadline)
	switch {
	case want.IsZero() && k.deadline.IsZero():
		return nil
	case want.IsZero() && live:
		return nil // no timeout: the armed deadline only makes the park return early
	case !want.IsZero() && live && !want.Before(k.deadline):
		return nil
	}
	if err := k.file.SetReadDeadline(want); err != nil {
		return err
	}
	k.deadline = want
	return nil
}

// loop runs the center's steps (see Poller.RunLoop) inside one RawRead for as long as it can:
// runSteps is the RawRead callback, and returning false from it parks the goroutine in the
// runtime's netpoller until the epoll descriptor is readable. The runtime resets its record
// of readiness only when a RawRead begins (prepareRead); within one, a readiness the runtime
// saw while the steps ran (an event on a watched descriptor, a Wake's eventfd write) makes the
// next park return at once. So after a settled step (every handled descriptor read or written
// until it would block, no interest changed, and the epoll_wait's buffer not filled, counting
// the eventfd, which the step does not see), nothing is ready that
// the kernel will not signal anew, and the loop parks without the epoll_wait that a fresh
// RawRead needs before parking. A RawRead ends when the read deadline (the next timer or
// chore) passes, and at Stop.
func (k *parker) loop(next func() ([]netio.Event, time.Duration, time.Duration, netio.Event, bool), handle func(n int) bool) error {
	k.next, k.handle, k.due = next, handle, -1
	defer func() { k.next, k.handle, k.parked = nil, nil, nil }()
	for {
		k.stop, k.err, k.parked = false, nil, nil
		err := k.rc.Read(k.steps)
		k.p.sleeping.Store(false)
		switch {
		case k.err != nil:
			return k.err
		case k.stop:
			return nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			// The deadline passed (its timer is due, or it was armed earlier than needed):
			// clear it, or the next RawRead would fail before calling runSteps, which arms
			// the one the next wait needs.
			if err := k.file.SetReadDeadline(time.Time{}); err != nil {
				return err
			}
			k.deadline, k.due = time.Time{}, -1
		case err != nil:
			return err
		}
	}
}

// runSteps is loop's RawRead callback: it is called once when a RawRead begins and again each
// time the parked goroutine is woken, and polls first each time (the runtime said the epoll
// descriptor is readable, or the RawRead is new), unless a park of a loop that watches one
// descriptor ended without a Wake: that descriptor is then the step's event. It runs steps
// until one has nothing to do and returns false to park, or returns true to end the RawRead
// (Stop or an error).
func (k *parker) runSteps(uintptr) bool {
	p := k.p
	poll := true
	if k.parked != nil {
		// Woken from a park: poll into the buffer the park was for (only a step changes what
		// the center watches, and none ran since), without asking the center first.
		evs := k.parked
		k.parked = nil
		if k.only.FD >= 0 && !p.woken.Load() {
			// The center watches one descriptor and no Wake came: that descriptor woke the
			// park. The step gets it as ready for all of its interest without an epoll_wait
			// (one system call per wakeup less); a handler finds out by reading or writing
			// what is really there, and one that finds nothing meets EAGAIN, as after any
			// spurious readiness. The epoll set is not scanned, so its ready list keeps the
			// descriptor, and every new readiness still wakes the park: the kernel signals
			// the epoll descriptor's pollers at each of the descriptor's wakeups whether or
			// not it is on the list already (events outside the interest mask wake no one).
			// A step that leaves something ready (unsettled) polls before it parks, as
			// below; a Wake is always polled for (it drains the eventfd).
			evs[0] = k.only
			p.full = false
			p.sleeping.Store(false)
			poll = !k.handle(1)
		} else {
			n, err := p.poll(evs, 0)
			switch {
			case err == nil && n == 0 && !p.woken.Load():
				k.parked = evs // nothing after all (a drained Wake): park again
				return false
			case err == nil:
				p.sleeping.Store(false)
				p.consumeWake()
				poll = !k.handle(n) || p.full
			case err != unix.EINTR:
				k.err = os.NewSyscallError("epoll_wait", err)
				return true
			}
		}
	}
	for {
		evs, timeout, due, only, stop := k.next()
		if stop {
			k.stop = true
			return true
		}
		if p.closed.Load() {
			k.err = os.NewSyscallError("epoll_wait", unix.EBADF)
			return true
		}
		p.growBuf(len(evs))
		switch {
		case timeout == 0:
		case timeout < 0:
			// No timeout: a deadline still armed only makes a park return early (and
			// the RawRead end, which clears it).
		case !k.deadline.IsZero() && k.due >= 0 && due >= k.due:
			// Armed for this time or an earlier one (a busy center's next timer or chore
			// stays the same, or moves later, for many steps): an early deadline ends the
			// RawRead, and the next one is armed then. Had it passed, the RawRead would
			// have ended already, or ends at the next park.
		default:
			want := time.Now().Add(timeout)
			if err := k.file.SetReadDeadline(want); err != nil {
				k.err = err
				return true
			}
			k.deadline, k.due = want, due
		}
		n := 0
		if poll || timeout == 0 || p.woken.Load() {
			var err error
			n, err = p.poll(evs, 0)
			switch {
			case err == unix.EINTR:
				continue
			case err != nil:
				k.err = os.NewSyscallError("epoll_wait", err)
				return true
			}
		}
		if n == 0 && timeout != 0 && !p.woken.Load() {
			// Nothing to do: park. Announce it, then look for a Wake (see Poller.sleep).
			p.sleeping.Store(true)
			if !p.woken.Load() {
				k.parked, k.only = evs, only
				return false
			}
		}
		p.sleeping.Store(false)
		p.consumeWake()
		poll = !k.handle(n) || p.full
	}
}
