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
