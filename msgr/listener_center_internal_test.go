//go:build linux

package msgr

import (
	"net/netip"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// On a kernel stack (a positive WriteChunk) the listening socket is watched by the dispatch
// center, so that the first worker, where the first connection lands, watches that socket
// alone; without WriteChunk (the simulator's stacks) it is watched by the first worker, as
// Ceph's processor is, and the simulated schedule does not change.
func TestListenerCenter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		chunk    int
		dispatch bool
	}{
		{"kernel", 256 << 10, true},
		{"no-chunk", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stack netio.Stack = &writeLog{Stack: epoll.New(epoll.Options{}), chunk: tc.chunk}
			m, err := New(Config{Name: wire.NewName(wire.EntityOSD, 0), Stack: stack, Runtime: &event.GoRuntime{},
				Rand: detrand.NewSeeded(7), Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Bind(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
				t.Fatal(err)
			}
			want := m.pool.Centers()[0]
			if tc.dispatch {
				want = m.dq.center
			}
			if got := m.listener.center; got != want {
				t.Errorf("listener on %s, want %s", got.Name(), want.Name())
			}
			m.Shutdown() // never ready: closes the listener and the pollers
			m.Wait()
		})
	}
}
