package sim

import (
	"runtime"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

func clusterOptions(seed uint64, f Faults) Options {
	return Options{Seed: seed, Workload: WorkloadCluster, OSDs: 3, Clients: 2, Messages: 40, Faults: &f}
}

// Under swarm faults every seed passes: client operations are answered, replicas catch up,
// the KV history is linearizable and every lossless session behaves as a FIFO queue.
func TestClusterSwarm(t *testing.T) {
	seeds := uint64(30)
	if testing.Short() {
		seeds = 8
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		f := SwarmFaults(detrand.NewSeeded(seed))
		r := Run(clusterOptions(seed, f))
		if !r.Pass {
			t.Fatalf("%v (faults %v)\n%v\n%s", r, f, r.Violations, r.Summary)
		}
		var kv *models.Report
		for i := range r.Models {
			if r.Models[i].Model == "kv" {
				kv = &r.Models[i]
			}
		}
		if kv == nil || !kv.OK() || kv.Operations < 80 || r.Coverage.Invariants[InvReplicaDivergence] == 0 {
			t.Fatalf("seed %d: kv check %v, invariants %v", seed, kv, r.Coverage.Invariants)
		}
	}
}

// The same seed gives the same trace, whatever GOMAXPROCS is (the porcupine checks after
// the run start goroutines, but never touch the trace).
func TestClusterDeterministic(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for seed := uint64(1); seed <= 3; seed++ {
		f := AllFaults(detrand.NewSeeded(seed))
		if _, d := CheckDeterminism(clusterOptions(seed, f)); d != nil {
			t.Fatalf("seed %d:\n%v", seed, d)
		}
	}
	f := SwarmFaults(detrand.NewSeeded(4))
	var hashes []uint64
	for _, procs := range []int{1, 4} {
		runtime.GOMAXPROCS(procs)
		hashes = append(hashes, Run(clusterOptions(4, f)).TraceHash)
	}
	if hashes[0] != hashes[1] {
		t.Fatalf("trace hash %016x under GOMAXPROCS=1, %016x under 4", hashes[0], hashes[1])
	}
}

// The lifecycle is the seed's: some OSDs shut down cleanly mid-run (shutdown, wait, delete)
// and come back as new instances; the probe's misconfigured connects are rejected with
// BADPROTOVER, FEATURES and BADAUTHORIZER.
func TestClusterLifecycleAndProbe(t *testing.T) {
	restarted := false
	total := NewCoverage()
	for seed := uint64(1); seed <= 12 && !restarted; seed++ {
		opts := clusterOptions(seed, NoFaults())
		opts.KeepTrace = true
		r := Run(opts)
		if !r.Pass {
			t.Fatal(r, r.Violations)
		}
		total.Merge(r.Coverage)
		for _, l := range r.Trace {
			if strings.Contains(l, "stopped and deleted") {
				restarted = true
			}
		}
	}
	if !restarted {
		t.Fatal("no OSD went through a clean restart in 12 seeds")
	}
	for _, tag := range []wire.Tag{wire.TagBadProtoVer, wire.TagFeatures, wire.TagBadAuthorizer} {
		if total.ReplySent[tag.String()] == 0 || total.ReplyRecv[tag.String()] == 0 {
			t.Errorf("%v: sent %d received %d", tag, total.ReplySent[tag.String()], total.ReplyRecv[tag.String()])
		}
	}
	for _, k := range []string{"rejected: bad protocol version", "rejected: features", "rejected: bad authorizer"} {
		if total.Faults[k] == 0 {
			t.Errorf("fault %q never seen: %v", k, total.Faults)
		}
	}
}
