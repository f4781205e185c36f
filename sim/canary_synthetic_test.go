//go:build canary_norequeue || canary_nodiscard || canary_lossyack || canary_overack || canary_noforget || canary_dupregister || canary_throttleleak || canary_doublerelease

package sim

import (
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
)

// The synthetic workload's oracles have teeth too: each deliberately broken build is caught by
// the invariant that should catch it within a bounded number of synthetic seeds.
func TestCanaryCaughtBySynthetic(t *testing.T) {
	const maxSeeds = 100
	for seed := uint64(1); seed <= maxSeeds; seed++ {
		f := SwarmFaults(detrand.NewSeeded(seed))
		f.On[FaultReset] = true
		opts := syntheticOptions(seed)
		opts.Faults = &f
		r := Run(opts)
		if hasViolation(r, canaryWant) {
			t.Logf("canary %s caught by %s at synthetic seed %d (preset %s, faults %v)", canaryName, canaryWant, seed, r.Synthetic.Preset, f)
			return
		}
	}
	t.Fatalf("canary %s was not caught by %s in %d synthetic seeds", canaryName, canaryWant, maxSeeds)
}
