package synthsim

import (
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/sim/harness"
)

// A seed's preset runs under the seed's swarm of faults, crashes turned off: every PING is
// answered, every check passes, and everything shuts down.
func TestSwarmSeeds(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		f := fault.Swarm(detrand.NewSeeded(seed))
		f.On[fault.Crash] = true
		h := harness.New(harness.Config{Seed: seed, Root: detrand.NewSeeded(seed), Faults: f, Window: 200 * time.Millisecond,
			Liveness: 10 * time.Minute, MaxSteps: 5_000_000, Models: models.CheckOptions{NoVisualize: true}})
		wl := New(h, Config{Seed: seed, Window: 200 * time.Millisecond})
		h.Drive(wl)
		rep := wl.Result()
		if h.Check.Failed() || h.Phase != harness.PhaseDone || rep.Stats.Pongs == 0 || h.Faults.On[fault.Crash] {
			t.Fatalf("seed %d preset %s (faults %v): phase %s, stats %+v: %v", seed, rep.Preset, h.Faults, h.Phase, rep.Stats,
				h.Check.Violations())
		}
	}
}
