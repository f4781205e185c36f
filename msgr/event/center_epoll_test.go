//go:build linux

package event_test

import (
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
)

// In production a center runs on its own goroutine; Post from others wakes it.
func TestGoRuntimeWakesOnPost(t *testing.T) {
	c, err := event.NewCenter(0, "real", epoll.New(epoll.Options{}), detrand.NewSeeded(1))
	if err != nil {
		t.Fatal(err)
	}
	rt := &event.GoRuntime{}
	rt.Start(c)
	var wg sync.WaitGroup
	wg.Add(100)
	for i := 0; i < 100; i++ {
		go c.Post(wg.Done)
	}
	wg.Wait()
	done := make(chan struct{})
	// Timers belong to the center's goroutine: create one from there, under the real clock.
	c.Post(func() { c.CreateTimeEvent(time.Millisecond, func() { close(done) }) })
	<-done
	rt.Stop(c)
	rt.Wait()
	if !c.Stopped() {
		t.Fatal("not stopped")
	}
}

// Run wakes for a chore: nothing else is pending (no timer, no post, no ready descriptor),
// so a loop that did not shorten its wait to the chore's time would block for ever.
func TestGoRuntimeWakesForChore(t *testing.T) {
	c, err := event.NewCenter(0, "real", epoll.New(epoll.Options{}), detrand.NewSeeded(1))
	if err != nil {
		t.Fatal(err)
	}
	rt := &event.GoRuntime{}
	rt.Start(c)
	done := make(chan time.Duration, 1)
	var at time.Duration
	c.Post(func() {
		at = c.Now() + 2*time.Millisecond
		c.AddChore(at, choreFunc(func(now time.Duration) { done <- now }))
	})
	now := <-done
	rt.Stop(c)
	rt.Wait()
	if now < at {
		t.Fatalf("chore due at %v ran at %v", at, now)
	}
}

// A file handler that does not call Settled leaves the center polling before it parks: this
// one reads a single byte per event, and every byte is read though nothing more arrives
// (parked without that poll, the center would sleep on a readable socket, which the kernel
// does not signal again).
func TestRunPollsAfterUnsettledHandler(t *testing.T) {
	c, err := event.NewCenter(0, "real", epoll.New(epoll.Options{}), detrand.NewSeeded(1))
	if err != nil {
		t.Fatal(err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Close(fds[0]); _ = unix.Close(fds[1]) }()
	const size = 100
	done := make(chan struct{})
	read := 0
	watched := make(chan error, 1)
	rt := &event.GoRuntime{}
	rt.Start(c)
	c.Post(func() {
		watched <- c.CreateFileEvent(fds[0], netio.Read, func(fd int, _ netio.Events) {
			var b [1]byte
			if k, _ := unix.Read(fd, b[:]); k == 1 {
				if read++; read == size {
					close(done)
				}
			}
		})
	})
	if err := <-watched; err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(fds[1], make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the center slept on a readable socket")
	}
	rt.Stop(c)
	rt.Wait()
}
