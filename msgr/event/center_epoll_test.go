//go:build linux

package event_test

import (
	"sync"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/event"
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
