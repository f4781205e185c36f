//go:build canary_norequeue || canary_nodiscard

package sim

import (
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
)

// The FIFO model has teeth too: a protocol core that drops unacknowledged messages at a
// fault (canary_norequeue) or resends messages the peer already has (canary_nodiscard) makes
// some lossless session's history fail the porcupine FIFO model.
func TestCanaryCaughtByFIFOModel(t *testing.T) {
	const maxSeeds = 300
	for seed := uint64(1); seed <= maxSeeds; seed++ {
		f := SwarmFaults(detrand.NewSeeded(seed))
		f.On[FaultReset] = true
		opts := DefaultOptions(seed)
		opts.Faults = &f
		opts.NoVisualize = true
		r := Run(opts)
		for _, v := range r.Violations {
			if v.Name == InvFIFO {
				t.Logf("canary %s caught by %s at seed %d (faults %v): %s", canaryName, InvFIFO, seed, f, v.Detail)
				return
			}
		}
	}
	t.Fatalf("canary %s was not caught by %s in %d seeds", canaryName, InvFIFO, maxSeeds)
}
