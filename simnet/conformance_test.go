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
			runConformance(t, uint64(i+1), cfg, nil)
		})
	}
}

// TestConformanceAdversarial runs the suite with every operation moving one byte (a Chunker),
// and with latency spread and jitter.
func TestConformanceAdversarial(t *testing.T) {
	t.Run("chunk=1", func(t *testing.T) {
		runConformance(t, 11, Config{SendBuf: 4096, RecvBuf: 4096, Latency: 10 * time.Microsecond},
			func(n *Network) { n.SetChunker(fixedChunker{1}) })
	})
	t.Run("jitter", func(t *testing.T) {
		runConformance(t, 12, Config{SendBuf: 4096, RecvBuf: 3000, Latency: 100 * time.Microsecond,
			LatencySpread: time.Millisecond, Jitter: 500 * time.Microsecond}, nil)
	})
}

func runConformance(t *testing.T, seed uint64, cfg Config, setup func(*Network)) {
	var n *Network
	var rng *detrand.Rand
	netiotest.Run(t, netiotest.Harness{
		NewStacks: func(t *testing.T) (netio.Stack, netio.Stack) {
			n = New(NewClock(), detrand.NewSeeded(seed), cfg)
			if setup != nil {
				setup(n)
			}
			rng = detrand.NewSeeded(^seed)
			srv := n.AddHost("server", netip.MustParseAddr("10.0.0.1"))
			cli := n.AddHost("client", netip.MustParseAddr("10.0.0.2"))
			return srv, cli
		},
		ServerIP: netip.MustParseAddr("10.0.0.1"),
		Pump:     func() { settle(t, n, rng) },
	})
}
