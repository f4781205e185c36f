package simnet

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/netiotest"
)

// TestConformance runs the netio conformance suite against simnet under several network
// shapes. Pump runs every runnable transfer, chosen at random, advancing the clock whenever
// only latency-delayed transfers remain, until the network is quiet.
func TestConformance(t *testing.T) {
	configs := []Config{
		{},
		{Latency: time.Millisecond},
		{SendBuf: 4096, RecvBuf: 1000, Latency: 50 * time.Microsecond},
		{SendBuf: 64, RecvBuf: 64}, // The suite writes up to 25 bytes before reading.
	}
	for i, cfg := range configs {
		t.Run(fmt.Sprintf("config=%d", i), func(t *testing.T) {
			if testing.Short() && cfg.SendBuf == 64 {
				t.Skip("tiny buffers take many rounds")
			}
			runConformance(t, uint64(i+1), cfg)
		})
	}
}

func runConformance(t *testing.T, seed uint64, cfg Config) {
	var n *Network
	var rng *detrand.Rand
	netiotest.Run(t, netiotest.Harness{
		NewStacks: func(t *testing.T) (netio.Stack, netio.Stack) {
			n = New(NewClock(), detrand.NewSeeded(seed), cfg)
			rng = detrand.NewSeeded(^seed)
			srv := n.AddHost("server", netip.MustParseAddr("10.0.0.1"))
			cli := n.AddHost("client", netip.MustParseAddr("10.0.0.2"))
			return srv, cli
		},
		ServerIP: netip.MustParseAddr("10.0.0.1"),
		Pump:     func() { settle(t, n, rng) },
	})
}
