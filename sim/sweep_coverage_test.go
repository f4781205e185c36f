package sim

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/proto"
)

var (
	sweepSeeds    = flag.Int("sweep.seeds", 60, "seeds of TestCoverageSweep (the issue's measurement: 1000)")
	sweepWorkload = flag.String("sweep.workload", WorkloadCluster, "workload of TestCoverageSweep")
)

// A swarm sweep of the cluster workload passes on every seed and reaches every ProtocolV1
// state and every connect-reply tag but those named unreachable by design (Unreachable);
// nothing named unreachable is reached (the list stays honest). Run with -sweep.seeds=1000
// for the full measurement; -v prints the coverage table.
func TestCoverageSweep(t *testing.T) {
	seeds := *sweepSeeds
	if testing.Short() {
		seeds = min(seeds, 20)
	}
	start := time.Now()
	total := NewCoverage()
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		f := SwarmFaults(detrand.NewSeeded(seed))
		opts := Options{Seed: seed, Workload: *sweepWorkload, OSDs: 3, Clients: 2, Messages: 50, Faults: &f}
		r := Run(opts)
		if !r.Pass {
			t.Fatalf("%v (faults %v)\n%v", r, f, r.Violations)
		}
		total.Merge(r.Coverage)
	}
	t.Logf("%d seeds of the %s workload in %v\n%s", seeds, *sweepWorkload, time.Since(start).Round(time.Millisecond), total.Table())
	sum := total.Summary()
	if testing.Short() || seeds < 40 {
		return // too few seeds to require everything
	}
	if len(sum.States.Missing) > 0 || sum.States.Reached != len(proto.AllStates()) {
		t.Errorf("states never entered: %v", sum.States.Missing)
	}
	if len(sum.ReplyTags.Missing) > 0 {
		t.Errorf("reply tags never both sent and received: %v", sum.ReplyTags.Missing)
	}
	for key := range Unreachable {
		cat, item, _ := strings.Cut(key, "/")
		var n int
		switch cat {
		case "reply_tags":
			n = total.ReplySent[item] + total.ReplyRecv[item]
		case "frame_tags":
			n = total.FrameSent[item] + total.FrameRecv[item]
		case "faults":
			n = total.Faults[item]
		}
		if n > 0 {
			t.Errorf("%s is listed as unreachable but was reached %d times", key, n)
		}
	}
	for _, g := range ProbeGoals {
		if n := total.Reach[g.Probe.String()]; g.Goal == GoalUnreachable && n > 0 {
			t.Errorf("probe %v is listed as unreachable but was reached %d times", g.Probe, n)
		}
	}
}
