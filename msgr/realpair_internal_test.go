package msgr

import (
	"net/netip"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// startOSD creates a messenger from cfg with lossless OSD sessions, binds it to a loopback
// port when bind is set, starts it and adds d as its dispatcher.
func startOSD(t *testing.T, cfg Config, bind bool, d Dispatcher) *Messenger {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.SetPolicy(wire.EntityOSD, proto.LosslessPeer(0))
	if bind {
		if err := m.Bind(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	m.AddDispatcherTail(d)
	return m
}

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
