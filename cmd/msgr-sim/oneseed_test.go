package main

import (
	"flag"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/sim"
)

// One seed is one run: a seed on msgr-sim's command line and the same seed built as the sim
// package's tests build it (DefaultOptions, the seed's swarm of faults, the workload) give the
// same trace. (The synthetic workload's crash faults used to be turned off by msgr-sim only;
// sim.Options.WithDefaults now does it for every run.)
func TestOneSeedOneRun(t *testing.T) {
	for _, c := range []struct {
		workload string
		swarm    bool
		seed     uint64
	}{{"default", false, 3}, {"default", true, 5}, {"synthetic", false, 1000}, {"synthetic", false, 1003}} {
		sf := scenarioFlags{faults: "swarm", workload: c.workload, swarm: c.swarm}
		if err := sf.finish(flag.NewFlagSet("test", flag.ContinueOnError)); err != nil {
			t.Fatal(err)
		}
		cli := sim.Run(sf.options(c.seed))

		opts := sim.DefaultOptions(c.seed)
		f := sim.SwarmFaults(detrand.NewSeeded(c.seed))
		opts.Faults, opts.Swarm = &f, c.swarm
		if c.workload == "synthetic" {
			opts.Workload = sim.WorkloadSynthetic
		}
		test := sim.Run(opts)
		if cli.TraceHash != test.TraceHash || cli.Faults != test.Faults || cli.Knobs != test.Knobs {
			t.Errorf("%s seed %d (swarm %v): msgr-sim ran %016x (faults %v, knobs %v), the test path %016x (faults %v, knobs %v)",
				c.workload, c.seed, c.swarm, cli.TraceHash, cli.Faults, cli.Knobs, test.TraceHash, test.Faults, test.Knobs)
		}
	}
}
