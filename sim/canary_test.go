//go:build canary_norequeue || canary_nodiscard || canary_lossyack || canary_overack || canary_noforget || canary_dupregister || canary_throttleleak || canary_doublerelease

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

// The shrinker turns the canary's first failing seed into a tape of a few dozen decisions at
// most that still fails the same way, and whose replay is that same run.
func TestCanaryShrinks(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		f := SwarmFaults(detrand.NewSeeded(seed))
		f.On[FaultReset] = true
		opts := DefaultOptions(seed)
		opts.Faults = &f
		tape, r := TapeOf(opts)
		if !hasViolation(r, canaryWant) {
			continue
		}
		small, rep, err := Shrink(tape, ShrinkOptions{Target: canaryWant, MaxRuns: 5000})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("seed %d: %v -> %v in %d replays (faults off %v, workload %v)", seed, rep.Before, rep.After, rep.Runs, rep.FaultsOff, rep.Workloads)
		if rep.After.Decisions > 40 {
			t.Errorf("shrunk tape still has %d decisions", rep.After.Decisions)
		}
		again := small.Replay()
		if !hasViolation(again, canaryWant) || again.TraceHash != rep.AfterRun.TraceHash {
			t.Fatalf("the shrunk tape does not replay its run: %v", again)
		}
		return
	}
	t.Fatal("no failing seed to shrink")
}
