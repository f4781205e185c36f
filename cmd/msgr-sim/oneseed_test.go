package main

import (
	"flag"
	"strings"
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
		args     []string // beyond -workload: the configuration swarm is on unless -swarm=false
		swarm    bool
		seed     uint64
	}{{"default", []string{"-swarm=false"}, false, 3}, {"default", nil, true, 5}, {"default", []string{"-swarm"}, true, 3},
		{"cluster", nil, true, 4}, {"synthetic", nil, true, 1000}, {"synthetic", []string{"-swarm=false"}, false, 1003}} {
		var sf scenarioFlags
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		sf.register(fs)
		if err := fs.Parse(append([]string{"-workload", c.workload}, c.args...)); err != nil {
			t.Fatal(err)
		}
		if err := sf.finish(fs); err != nil {
			t.Fatal(err)
		}
		cli := sim.Run(sf.options(c.seed))

		opts := sim.DefaultOptions(c.seed)
		f := sim.SwarmFaults(detrand.NewSeeded(c.seed))
		opts.Faults, opts.NoSwarm = &f, !c.swarm
		switch c.workload {
		case "synthetic":
			opts.Workload = sim.WorkloadSynthetic
		case "cluster":
			opts.Workload, opts.OSDs, opts.Clients = sim.WorkloadCluster, 3, 2
		}
		test := sim.Run(opts)
		if cli.TraceHash != test.TraceHash || cli.Faults != test.Faults || cli.Knobs != test.Knobs {
			t.Errorf("%s seed %d %v: msgr-sim ran %016x (faults %v, knobs %v), the test path %016x (faults %v, knobs %v)",
				c.workload, c.seed, c.args, cli.TraceHash, cli.Faults, cli.Knobs, test.TraceHash, test.Faults, test.Knobs)
		}
		if (cli.Knobs != sim.Knobs{}) != c.swarm || strings.Contains(sf.args(), "-swarm=false") == c.swarm {
			t.Errorf("%s seed %d %v: knobs %v, reproduce flags %q", c.workload, c.seed, c.args, cli.Knobs, sf.args())
		}
	}
}
