package sim

import (
	"bytes"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
)

// A seeded run, recorded as a tape, written, read back and replayed, is the same run.
func TestTapeReplaysSeededRun(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		f := SwarmFaults(detrand.NewSeeded(seed))
		opts := DefaultOptions(seed)
		opts.Faults = &f
		plain := Run(opts)
		tape, rec := TapeOf(opts)
		if rec.TraceHash != plain.TraceHash {
			t.Fatalf("seed %d: recording changed the run: %016x vs %016x", seed, rec.TraceHash, plain.TraceHash)
		}
		var buf bytes.Buffer
		if _, err := tape.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := ReadTape(&buf)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, buf.String())
		}
		if back.Faults != tape.Faults || back.Decisions() != tape.Decisions() || len(back.Words) != len(tape.Words) {
			t.Fatalf("seed %d: tape changed through its text form: %v vs %v", seed, back.Faults, tape.Faults)
		}
		rep := back.Replay()
		if rep.TraceHash != plain.TraceHash || rep.Pass != plain.Pass {
			t.Fatalf("seed %d: replay %v, seeded run %v", seed, rep, plain)
		}
		if tape.Decisions() == 0 {
			t.Fatalf("seed %d: a recorded run with no decisions", seed)
		}
	}
}

// A tape of zeros is the calmest run: nothing is injected even with every fault on.
func TestZeroTapeIsCalm(t *testing.T) {
	tape := Tape{OSDs: 2, Clients: 1, Messages: 20, Window: 200_000_000, Faults: AllFaults(detrand.NewSeeded(3))}
	r := tape.Replay()
	if !r.Pass {
		t.Fatalf("zero tape failed: %v", r.Violations)
	}
	for k, n := range r.Stats.Injected {
		if n > 0 && Fault(k) != FaultLatency {
			t.Errorf("zero tape injected %v %d times", Fault(k), n)
		}
	}
}

// Tapes from elsewhere are checked: bad headers, indices past the end, absurd sizes.
func TestReadTapeRejectsBadInput(t *testing.T) {
	good := "msgr-sim tape 1\nseed 1\nworkload osds=2 clients=1 messages=5 window=200ms\n" +
		"faults on=none every=1h0m0s cut_bias=0/1 latency_spread=0s jitter=0s connect_faults=0/1 socket_failures=0 delay_max=0s delay_prob=0/1\n" +
		"decisions 1 of 3\n2 ff\n"
	if _, err := ReadTape(strings.NewReader(good)); err != nil {
		t.Fatalf("good tape: %v", err)
	}
	for name, text := range map[string]string{
		"magic":    "not a tape\n",
		"empty":    "",
		"index":    strings.Replace(good, "2 ff", "3 ff", 1),
		"huge":     strings.Replace(good, "1 of 3", "1 of 999999999999", 1),
		"fault":    strings.Replace(good, "on=none", "on=gremlins", 1),
		"workload": strings.Replace(good, "osds=2", "osds=0", 1),
		"value":    strings.Replace(good, "2 ff", "2 zz", 1),
	} {
		if _, err := ReadTape(strings.NewReader(text)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A run driven by a fuzzer's bytes (fault mix included) becomes a tape that replays it.
func TestFuzzedRunBecomesATape(t *testing.T) {
	for _, data := range [][]byte{[]byte("the quick brown fox jumps over the lazy dog, twice over"), bytes.Repeat([]byte{0xff, 0x80, 0x01}, 400)} {
		opts := DefaultOptions(0)
		opts.Faults, opts.Fuzz, opts.Messages = nil, data, 20
		r := Run(opts)
		tape := TapeFromRun(opts, r)
		if tape.Faults != r.Faults {
			t.Fatalf("tape faults %v, run %v", tape.Faults, r.Faults)
		}
		rep := tape.Replay()
		if rep.TraceHash != r.TraceHash || rep.Pass != r.Pass {
			t.Fatalf("replay %v, fuzzed run %v", rep, r)
		}
	}
}

// A cluster run is a tape too: the workload travels in the tape's header.
func TestClusterRunTape(t *testing.T) {
	opts := DefaultOptions(4)
	opts.Workload, opts.Messages = WorkloadCluster, 10
	f := SwarmFaults(detrand.NewSeeded(4))
	opts.Faults = &f
	tape, r := TapeOf(opts)
	var buf bytes.Buffer
	if _, err := tape.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadTape(&buf)
	if err != nil || back.Workload != WorkloadCluster {
		t.Fatalf("read back workload %q: %v", back.Workload, err)
	}
	if rep := back.Replay(); rep.TraceHash != r.TraceHash {
		t.Fatalf("cluster tape replay %v, run %v", rep, r)
	}
}

// A run without faults (NoFaults: its ratios are the zero Ratio, "never") is written down and
// read back like any other (a 0/0 ratio used to be refused when the tape was read).
func TestTapeWithoutFaultsReadsBack(t *testing.T) {
	opts := DefaultOptions(4)
	f := NoFaults()
	opts.Faults, opts.Messages = &f, 5
	tape, r := TapeOf(opts)
	var buf bytes.Buffer
	if _, err := tape.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadTape(&buf)
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if back.Faults != f {
		t.Errorf("faults %+v read back as %+v", f, back.Faults)
	}
	if rep := back.Replay(); rep.TraceHash != r.TraceHash {
		t.Errorf("replay %016x, run %016x", rep.TraceHash, r.TraceHash)
	}
	if _, err := parseRatio("3/0"); err == nil {
		t.Error("3/0 accepted")
	}
}

// Version 2 tapes carry the build, the canary and the step budget; they survive a round trip,
// and version 1 tapes (the regression tapes) still read. (Without the configuration swarm: a
// tape with knobs is version 3, TestSwarmKnobsInTapes.)
func TestTapeBuildAndBudget(t *testing.T) {
	tape, _ := TapeOf(Options{Seed: 3, OSDs: 2, Clients: 1, Messages: 5, StepBudget: 100, NoSwarm: true})
	tape.Build, tape.Canary = "version=(devel) commit=abc tags=canary go=go1.26.0", "norequeue"
	var b strings.Builder
	if _, err := tape.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "msgr-sim tape 2\nbuild version=(devel) commit=abc tags=canary go=go1.26.0\ncanary norequeue\n") {
		t.Fatalf("header:\n%s", b.String())
	}
	back, err := ReadTape(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if back.Build != tape.Build || back.Canary != "norequeue" || back.StepBudget != 100 || back.Expect != OutcomeBudget {
		t.Fatalf("read back %+v", back)
	}
	if r := back.Replay(); r.Exceeded != BudgetSteps || r.Steps != 100 {
		t.Fatalf("the tape's budget did not replay: exceeded %q after %d steps", r.Exceeded, r.Steps)
	}
	v1 := strings.Replace(b.String(), "msgr-sim tape 2", "msgr-sim tape 1", 1)
	if _, err := ReadTape(strings.NewReader(v1)); err != nil {
		t.Fatalf("version 1 header: %v", err)
	}
	if _, err := ReadTape(strings.NewReader(strings.Replace(b.String(), "steps=100", "steps=x", 1))); err == nil {
		t.Fatal("bad budget accepted")
	}
}

// A step budget ends a run deterministically as budget-exceeded, and leaves a run within it
// exactly as it was; Abort stops a run the same way, and its tape promises nothing.
func TestStepBudget(t *testing.T) {
	f := SwarmFaults(detrand.NewSeeded(7))
	base := Options{Seed: 7, OSDs: 2, Clients: 1, Messages: 20, Faults: &f, NoVisualize: true}
	full := Run(base)
	within := base
	within.StepBudget = full.Steps + 10
	if r := Run(within); r.TraceHash != full.TraceHash || r.Exceeded != "" || r.Pass != full.Pass {
		t.Fatalf("a budget the run stays within changed it: %016x vs %016x, exceeded %q", r.TraceHash, full.TraceHash, r.Exceeded)
	}
	short := base
	short.StepBudget = full.Steps / 2
	a, b := Run(short), Run(short)
	if a.Exceeded != BudgetSteps || a.Pass || a.Violations[0].Name != OutcomeBudget || len(a.Violations) != 1 {
		t.Fatalf("past the budget: exceeded %q, violations %v", a.Exceeded, a.Violations)
	}
	if a.TraceHash != b.TraceHash || a.Steps != short.StepBudget || b.Steps != a.Steps {
		t.Fatalf("budget-exceeded is not deterministic: %016x/%d vs %016x/%d", a.TraceHash, a.Steps, b.TraceHash, b.Steps)
	}
	stop := base
	stop.Record = true
	stop.Abort = func() bool { return true }
	r := Run(stop)
	if r.Exceeded != BudgetAborted || r.Pass || r.Steps > 1024 {
		t.Fatalf("Abort: exceeded %q after %d steps", r.Exceeded, r.Steps)
	}
	if tape := TapeFromRun(stop, r); tape.Expect != "" {
		t.Fatalf("an aborted run's tape expects %q", tape.Expect)
	}
}

// Past its budget, a cluster run ends with budget-exceeded alone, in any phase: the phases it
// cuts short add nothing of their own (no-progress, liveness, shutdown-stalled).
func TestStepBudgetCluster(t *testing.T) {
	f := SwarmFaults(detrand.NewSeeded(5))
	base := Options{Seed: 5, Workload: WorkloadCluster, OSDs: 3, Clients: 2, Messages: 10, Faults: &f, NoVisualize: true}
	full := Run(base)
	for _, budget := range []uint64{full.Steps / 10, full.Steps / 2, full.Steps - 2} {
		o := base
		o.StepBudget = budget
		r := Run(o)
		if r.Exceeded != BudgetSteps || len(r.Violations) != 1 || r.Violations[0].Name != OutcomeBudget {
			t.Errorf("budget %d of %d steps: exceeded %q, violations %v", o.StepBudget, full.Steps, r.Exceeded, r.Violations)
		}
	}
}
