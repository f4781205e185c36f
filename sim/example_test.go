package sim_test

import (
	"fmt"

	"github.com/msgrsim/msgrsim/sim"
)

// Ceph's SyntheticWorkload in the simulator: the seed picks one of Ceph's presets (here
// SyntheticStressTest1: lossless_peer_reuse on both sides, 20% of operations drop a
// connection), scaled down; every invariant is checked after every step, then the run drains
// and shuts down. Messages queued on a connection the workload dropped are lost, and those
// losses are accounted for.
func ExampleRun_synthetic() {
	opts := sim.DefaultOptions(4)
	opts.Workload = sim.WorkloadSynthetic
	r := sim.Run(opts)
	fmt.Println(r.Synthetic.Preset, r.Pass, len(r.Violations))
	// Output:
	// stress1 true 0
}
