//go:build canary_norequeue || canary_nodiscard || canary_lossyack

package sim

import (
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
)

// The faults have teeth: a deliberately broken protocol core (selected by a build tag, see
// msgr/proto/canary_*_on.go) is caught within a bounded number of swarm seeds, by the
// invariant that should catch it.
func TestCanaryIsCaught(t *testing.T) {
	const maxSeeds = 300
	for seed := uint64(1); seed <= maxSeeds; seed++ {
		f := SwarmFaults(detrand.NewSeeded(seed))
		f.On[FaultReset] = true // reconnects are where these bugs live
		opts := DefaultOptions(seed)
		opts.Faults = &f
		r := Run(opts)
		for _, v := range r.Violations {
			if v.Name == canaryWant {
				t.Logf("canary %s caught by %s at seed %d (faults %v): %s", canaryName, canaryWant, seed, f, v.Detail)
				return
			}
		}
	}
	t.Fatalf("canary %s was not caught by %s in %d seeds", canaryName, canaryWant, maxSeeds)
}
