//go:build linux

package msgr

import (
	"net/netip"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/netio/inject"
	"github.com/msgrsim/msgrsim/simnet"
)

// The protocol core computes the data crc per write chunk on a kernel stack (epoll: 256 KiB
// by default, off when asked, also under failure injection) and never on the simulator's,
// whose schedules depend on the bytes offered to each Writev.
func TestWriteChunkFromStack(t *testing.T) {
	sim := simnet.New(simnet.NewClock(), detrand.NewSeeded(1), simnet.Config{}).
		AddHost("h", netip.MustParseAddr("10.0.0.1"))
	for _, tc := range []struct {
		name  string
		stack netio.Stack
		want  int
	}{
		{"epoll", epoll.New(epoll.Options{}), epoll.DefaultWriteChunk},
		{"epoll-64k", epoll.New(epoll.Options{WriteChunk: 64 << 10}), 64 << 10},
		{"epoll-off", epoll.New(epoll.Options{WriteChunk: -1}), 0},
		{"inject-epoll", inject.New(epoll.New(epoll.Options{}), inject.Options{SocketFailures: 100}), epoll.DefaultWriteChunk},
		{"simnet", sim, 0},
		{"inject-simnet", inject.New(sim, inject.Options{SocketFailures: 100}), 0},
	} {
		cfg := Config{Stack: tc.stack}
		if got := cfg.protoConfig().WriteChunk; got != tc.want {
			t.Errorf("%s: WriteChunk %d, want %d", tc.name, got, tc.want)
		}
	}
}
