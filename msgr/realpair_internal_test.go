package msgr

import (
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/event"
)

// waiter returns a function that polls cond every millisecond until it holds, failing t
// (naming what) once 20 s have passed since waiter was called: one deadline for all waits.
func waiter(t *testing.T) func(what string, cond func() bool) {
	deadline := time.Now().Add(20 * time.Second)
	return func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// stopPair shuts both messengers down, waits for them and then for their runtime.
func stopPair(rt *event.GoRuntime, a, b *Messenger) {
	a.Shutdown()
	b.Shutdown()
	a.Wait()
	b.Wait()
	rt.Wait()
}
