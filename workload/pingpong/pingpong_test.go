package pingpong

import (
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/sim/harness"
)

// drive runs the workload on a harness of its own (sim.Run does the same, and more).
func drive(seed uint64, faults fault.Mix, cfg Config) (*harness.Run, *Workload) {
	h := harness.New(harness.Config{Seed: seed, Root: detrand.NewSeeded(seed), Faults: faults, Window: cfg.Window,
		Liveness: 10 * time.Minute, MaxSteps: 5_000_000, Models: models.CheckOptions{NoVisualize: true}})
	wl := New(h, cfg)
	h.Drive(wl)
	return h, wl
}

// Every message is sent and dispatched once, under swarm faults the lossless ones arrive, and
// a crashed node comes back as a new incarnation that its peers mark the old one down for.
func TestWorkload(t *testing.T) {
	cfg := Config{OSDs: 2, Clients: 1, Messages: 20, Window: 200 * time.Millisecond}
	h, _ := drive(1, fault.None(), cfg)
	if sent, got := h.Check.Counts(); h.Check.Failed() || sent != 120 || got != 120 || h.Phase != harness.PhaseDone {
		t.Fatalf("sent %d dispatched %d, phase %s: %v", sent, got, h.Phase, h.Check.Violations())
	}
	crashed := false
	for seed := uint64(1); seed <= 30 && !crashed; seed++ {
		f := fault.Swarm(detrand.NewSeeded(seed))
		f.On[fault.Crash] = true
		h, wl := drive(seed, f, cfg)
		if h.Check.Failed() {
			t.Fatalf("seed %d (faults %v): %v", seed, f, h.Check.Violations())
		}
		for _, n := range wl.nodes {
			crashed = crashed || n.inc > 1
		}
	}
	if !crashed {
		t.Fatal("no node crashed and came back in 30 seeds")
	}
}
