package sim

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
)

// The scheduler's set of runnable centers (kept from the centers' runnable hooks instead of
// polling every center at every step) finds exactly the centers a poll finds, at every step
// (World.CheckRunnable panics otherwise, and the run fails): swarm faults in the default,
// cluster and synthetic workloads, and fuzzed decision tapes.
func TestRunnableSetMatchesPolling(t *testing.T) {
	type run struct {
		name string
		opts Options
	}
	var runs []run
	swarm := func(o Options) Options {
		f := SwarmFaults(detrand.NewSeeded(o.Seed))
		o.Faults = &f
		return o
	}
	n := uint64(30)
	if testing.Short() {
		n = 8
	}
	for seed := uint64(1); seed <= n; seed++ {
		runs = append(runs, run{"default", swarm(DefaultOptions(seed))})
		if seed%5 == 0 {
			o := DefaultOptions(seed)
			o.OSDs, o.Clients, o.Messages, o.Workload = 3, 2, 30, WorkloadCluster
			runs = append(runs, run{"cluster", swarm(o)}, run{"synthetic", swarm(syntheticOptions(seed))})
		}
		b := make([]byte, 64*seed)
		r := rand.New(rand.NewPCG(seed, 18))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		runs = append(runs, run{"fuzzed", Options{OSDs: 2, Clients: 1, Messages: 12, Window: 100 * time.Millisecond, Fuzz: b}})
	}
	for _, r := range runs {
		r.opts.checkRunnable = true
		res := Run(r.opts)
		if !res.Pass {
			t.Errorf("%s seed %d: %v", r.name, r.opts.Seed, res.Violations)
		}
	}
}
