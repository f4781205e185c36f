package sim

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/internal/canary"
	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/sim/check"
)

// The checkers have teeth: every deliberate bug of internal/canary's table, selected in turn,
// is caught by the invariants the table names for it — in swarm seeds of the default and the
// synthetic workloads, by the porcupine models, in a shrunk tape, and by its regression tape.
// And with none selected, the canary build is the real code. The subtests select a global
// canary: none of them may run in parallel.
func TestCanaries(t *testing.T) {
	if !canary.Enabled {
		t.Skip("the canaries need a build with -tags canary (go test -tags canary -run TestCanaries ./sim)")
	}
	t.Run("none", noCanaryIsTheRealCode)
	for _, c := range canary.All {
		t.Run(c.Name, func(t *testing.T) {
			selectCanary(t, c.Kind)
			if c.Sim != "" {
				t.Run("default", func(t *testing.T) { canaryCaughtInSwarm(t, c.Sim, DefaultOptions, 300) })
				t.Run("synthetic", func(t *testing.T) { canaryCaughtInSwarm(t, c.Sim, syntheticOptions, 100) })
				t.Run("shrinks", func(t *testing.T) { canaryShrinks(t, c.Sim, cmp.Or(c.Shrunk, 40)) })
			}
			if c.Cephx != "" {
				t.Run("cephx", func(t *testing.T) { canaryCaughtWithCephx(t, c.Cephx, 100) })
			}
			switch c.Model {
			case InvFIFO:
				t.Run("fifo-model", func(t *testing.T) { canaryCaughtInSwarm(t, InvFIFO, DefaultOptions, 300) })
			case InvKV:
				t.Run("kv-model", canaryCaughtByKVModel)
			case "":
			default:
				t.Fatalf("the table names model invariant %q, which no subtest checks", c.Model)
			}
			for _, file := range canaryTapes(t, c.Name) {
				t.Run(filepath.Base(file), func(t *testing.T) { checkRegressionTape(t, file) })
			}
		})
	}
}

// noCanaryIsTheRealCode: with no canary selected, the first seeds of each workload and the
// regression cases keep their committed trace hashes (TestTraceHashesUnchanged -short), and
// every regression tape passes.
func noCanaryIsTheRealCode(t *testing.T) {
	selectCanary(t, canary.None)
	cases := shortTraceCases(traceCases(t))
	compareTraceHashes(t, cases, runTraceCases(cases), false)
	files, err := filepath.Glob(filepath.Join(regressionDir, "*.tape"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no regression tapes in %s (%v)", regressionDir, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { checkRegressionTape(t, file) })
	}
}

// selectCanary selects canary k for the rest of t, and restores the previous selection after.
func selectCanary(t *testing.T, k canary.Kind) {
	prev := canary.Set(k)
	t.Cleanup(func() { canary.Set(prev) })
}

// canaryCaughtInSwarm requires a violation of want within maxSeeds swarm seeds (resets always
// on: reconnects are where these bugs live) of the runs opts builds.
func canaryCaughtInSwarm(t *testing.T, want string, opts func(uint64) Options, maxSeeds uint64) {
	for seed := uint64(1); seed <= maxSeeds; seed++ {
		f := SwarmFaults(detrand.NewSeeded(seed))
		f.On[FaultReset] = true
		o := opts(seed)
		o.Faults = &f
		o.NoVisualize = true
		r := Run(o)
		if v, ok := violation(r, want); ok {
			t.Logf("canary %s caught by %s at seed %d (faults %v): %s", canary.Selected(), want, seed, f, v.Detail)
			return
		}
	}
	t.Fatalf("canary %s was not caught by %s in %d seeds", canary.Selected(), want, maxSeeds)
}

// canaryCaughtWithCephx requires a violation of want within maxSeeds seeds of the cluster
// workload with cephx and the faults "swarm,tamper".
func canaryCaughtWithCephx(t *testing.T, want string, maxSeeds uint64) {
	for seed := uint64(1); seed <= maxSeeds; seed++ {
		f, err := ParseFaults("swarm,tamper", detrand.NewSeeded(seed))
		if err != nil {
			t.Fatal(err)
		}
		o := Options{Seed: seed, Workload: WorkloadCluster, Auth: AuthCephx, OSDs: 3, Clients: 2, Messages: 50,
			Faults: &f, NoVisualize: true}
		r := Run(o)
		if v, ok := violation(r, want); ok {
			t.Logf("canary %s caught by %s at seed %d (cephx, faults %v): %s", canary.Selected(), want, seed, f, v.Detail)
			return
		}
	}
	t.Fatalf("canary %s was not caught by %s in %d cephx seeds", canary.Selected(), want, maxSeeds)
}

func violation(r Result, name string) (Violation, bool) {
	i := slices.IndexFunc(r.Violations, func(v Violation) bool { return v.Name == name })
	if i < 0 {
		return Violation{}, false
	}
	return r.Violations[i], true
}

// canaryShrinks: the shrinker turns the canary's first failing seed into a tape of at most
// bound decisions (a few dozen, unless the table says otherwise) that still fails the same
// way, and whose replay is that same run.
func canaryShrinks(t *testing.T, want string, bound int) {
	for seed := uint64(1); seed <= 300; seed++ {
		f := SwarmFaults(detrand.NewSeeded(seed))
		f.On[FaultReset] = true
		opts := DefaultOptions(seed)
		opts.Faults = &f
		tape, r := TapeOf(opts)
		if !hasViolation(r, want) {
			continue
		}
		small, rep, err := Shrink(tape, ShrinkOptions{Target: want, MaxRuns: 5000})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("seed %d: %v -> %v in %d replays (faults off %v, workload %v)", seed, rep.Before, rep.After, rep.Runs, rep.FaultsOff, rep.Workloads)
		if rep.After.Decisions > bound {
			t.Errorf("shrunk tape still has %d decisions", rep.After.Decisions)
		}
		again := small.Replay()
		if !hasViolation(again, want) || again.TraceHash != rep.AfterRun.TraceHash {
			t.Fatalf("the shrunk tape does not replay its run: %v", again)
		}
		return
	}
	t.Fatal("no failing seed to shrink")
}

// canaryCaughtByKVModel: OSDs that apply a retried update again make client histories
// non-linearizable (a retried append shows twice), and the check names it kv-linearizability,
// with porcupine's visualization written to a named file.
func canaryCaughtByKVModel(t *testing.T) {
	const maxSeeds = 200
	dir := t.TempDir()
	for seed := uint64(1); seed <= maxSeeds; seed++ {
		f := SwarmFaults(detrand.NewSeeded(seed))
		f.On[FaultReset] = true // retries come from resets and timeouts
		opts := Options{Seed: seed, Workload: WorkloadCluster, OSDs: 3, Clients: 2, Messages: 50, Faults: &f, VisualizeDir: dir}
		r := Run(opts)
		v, ok := violation(r, InvKV)
		if !ok {
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
		t.Logf("canary %s caught by %s at seed %d (faults %v): %s", canary.Selected(), InvKV, seed, f, v.Detail)
		return
	}
	t.Fatalf("canary %s was not caught by %s in %d seeds", canary.Selected(), InvKV, maxSeeds)
}

// canaryTapes are the regression tapes recorded on canary name (canary_<name>.tape).
func canaryTapes(t *testing.T, name string) []string {
	files, err := filepath.Glob(filepath.Join(regressionDir, "canary_"+name+".tape"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Every invariant the canary table names is one the checkers know, every canary is checked
// somewhere, and every canary tape belongs to a canary of the table.
func TestCanaryTable(t *testing.T) {
	known := check.Names()
	for i, c := range canary.All {
		if c.Kind != canary.Kind(i+1) || canary.Of(c.Kind).Name != c.Name {
			t.Errorf("canary.All[%d] is %s (kind %d): the table must be in Kind order", i, c.Name, c.Kind)
		}
		if k, err := canary.Parse(c.Name); err != nil || k != c.Kind {
			t.Errorf("Parse(%q) = %v, %v", c.Name, k, err)
		}
		if c.Bug == "" || c.Sim == "" && c.Model == "" && c.Cephx == "" {
			t.Errorf("canary %s: no description, or no invariant of the simulator catches it", c.Name)
		}
		for _, inv := range append([]string{c.Sim, c.Model, c.API, c.Cephx}, c.Real...) {
			if inv != "" && !slices.Contains(known, inv) {
				t.Errorf("canary %s names invariant %q, which no checker has", c.Name, inv)
			}
		}
	}
	files, err := filepath.Glob(filepath.Join(regressionDir, "canary_*.tape"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no canary tapes in %s (%v)", regressionDir, err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "canary_"), ".tape")
		if _, err := canary.Parse(name); err != nil || name == "none" {
			t.Errorf("%s: %v", file, err)
		}
	}
}
