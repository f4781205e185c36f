//go:build canary_nodedupe

package sim

import (
	"os"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
)

// The KV model has teeth: OSDs that apply a retried update again (build tag canary_nodedupe)
// make client histories non-linearizable (a retried append shows twice), and the check
// names it kv-linearizability, with porcupine's visualization written to a named file.
func TestCanaryNoDedupeIsCaught(t *testing.T) {
	const maxSeeds = 200
	dir := t.TempDir()
	for seed := uint64(1); seed <= maxSeeds; seed++ {
		f := SwarmFaults(detrand.NewSeeded(seed))
		f.On[FaultReset] = true // retries come from resets and timeouts
		opts := Options{Seed: seed, Workload: WorkloadCluster, OSDs: 3, Clients: 2, Messages: 50, Faults: &f, VisualizeDir: dir}
		r := Run(opts)
		for _, v := range r.Violations {
			if v.Name != InvKV {
				continue
			}
			if !strings.Contains(v.Detail, dir) {
				t.Fatalf("the violation does not name the visualization: %s", v.Detail)
			}
			for _, m := range r.Models {
				if m.Model == "kv" {
					if _, err := os.Stat(m.Visualization); err != nil {
						t.Fatalf("visualization %q: %v", m.Visualization, err)
					}
				}
			}
			t.Logf("canary nodedupe caught by %s at seed %d (faults %v): %s", InvKV, seed, f, v.Detail)
			return
		}
	}
	t.Fatalf("canary nodedupe was not caught by %s in %d seeds", InvKV, maxSeeds)
}
