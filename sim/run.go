package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/sim/harness"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/workload/synthetic"
	"github.com/msgrsim/msgrsim/workload/synthetic/synthsim"
)

// Options shape one seeded run. Start from DefaultOptions.
type Options struct {
	Seed      uint64
	OSDs      int           // OSD-like nodes, lossless_peer among themselves (at least 1)
	Clients   int           // client nodes, lossy toward the OSDs
	Messages  int           // messages each sender queues on each of its streams
	Window    time.Duration // the safety phase: sends and faults are spread over it (default 200 ms)
	Faults    *Faults       // what to inject (nil: none; a fuzzed run draws it)
	KeepTrace bool          // keep a readable trace (Result.Trace)
	MaxSteps  uint64        // bound on scheduling decisions per phase (default 5,000,000)
	// StepBudget bounds the scheduling decisions of the whole run (0: none): past it the run
	// stops and ends as OutcomeBudget, deterministically (the same run stops at the same
	// step). A run within it is not changed at all. Abort, polled every 1024 steps, stops the
	// run the same way when it returns true: a wall-time budget or an interrupt, which no tape
	// can promise to reproduce.
	StepBudget uint64
	Abort      func() bool
	Liveness   time.Duration // virtual time the liveness phase may take (default 10 min)
	// Workload selects what runs: WorkloadDefault ("" too), WorkloadCluster or WorkloadSynthetic.
	Workload string
	// Auth is the cluster workload's authentication: AuthNone ("" too, the default) or
	// AuthCephx (keys from the seed, an in-process cephx monitor, authorizers with the
	// CEPHX_V2 challenge round and signed sessions to OSDs, short ticket TTLs and secret
	// rotation within the run; see docs/cephx.md). Other workloads run auth none.
	Auth string
	// VisualizeDir is where a failed model check writes porcupine's HTML visualization
	// (default: none is written); the violation names the file. NoVisualize writes none
	// either. VisualizeName is the files' stem, "STEM-fifo.html" and "STEM-kv.html"
	// (default: "fifo-seed-N", "kv-seed-N").
	VisualizeDir  string
	NoVisualize   bool
	VisualizeName string

	// Where the decisions come from: by default a family seeded from Seed. Replay draws them
	// from Tape instead (zeros past its end); Fuzz from a fuzzer's bytes, and then, when
	// Faults is nil, the fault mix is drawn from those bytes too. Record keeps the decisions
	// the run drew (Result.Tape), so it can be saved and replayed as a tape.
	Tape   []uint64
	Replay bool
	Fuzz   []byte
	Record bool

	// Synthetic configures WorkloadSynthetic; when nil, Preset names one of Ceph's presets
	// (scaled down, see ScaleSynthetic), or, when that is empty too, the seed draws one.
	Synthetic *synthetic.Config
	Preset    string

	// The configuration swarm is on by default: when Knobs is nil the seed draws the
	// messengers' configuration (SeedKnobs: feature bits per node, buffers, throttles,
	// timeouts, keepalives, message sizes). NoSwarm turns it off (msgr-sim -swarm=false):
	// every messenger runs Ceph's defaults. Knobs, when set, is the configuration to run
	// (a tape's, the shrinker's) either way.
	NoSwarm bool
	Knobs   *Knobs

	// NoCoverage runs without counting coverage (Result.Coverage is nil), for callers that do
	// not read it: the fuzz target, whose engine measures its own. The run is the same run.
	NoCoverage bool
	// NoTape: a fuzzed run (Fuzz) keeps no tape (Result.Tape is nil); the run is the same
	// run. For callers that need the tape only when the run fails, and run it again then.
	NoTape bool

	perturbAt     uint64 // test hook: make the second run of CheckDeterminism differ at this event
	panicAt       string // test hook: panic as this stage (harness.StageBuild …) begins, outside a step
	checkRunnable bool   // test hook: the world checks its runnable set against a poll (World.CheckRunnable)
}

// DefaultOptions is the default scenario for seed: two OSDs, one client, 50 messages per
// stream, no faults.
func DefaultOptions(seed uint64) Options {
	return Options{Seed: seed, OSDs: 2, Clients: 1, Messages: 50}
}

// Knobs is a run's messenger configuration (harness.Knobs): the zero value is the defaults.
type Knobs = harness.Knobs

// SeedKnobs is the configuration the swarm draws for seed, from a random stream of its own
// (the faults and the schedule draw the same with or without it).
func SeedKnobs(seed uint64) Knobs { return harness.SeedKnobs(seed) }

// KnobNames are the knobs' names, in the order Knobs.String writes them.
func KnobNames() []string { return harness.KnobNames() }

// ParseKnobs reads a configuration as Knobs.String writes it.
func ParseKnobs(s string) (Knobs, error) { return harness.ParseKnobs(s) }

// RunKnobs is the configuration the run of o uses: Knobs if set, else the seed's draw with
// the configuration swarm (unless NoSwarm), else the defaults.
func (o *Options) RunKnobs() Knobs {
	switch {
	case o.Knobs != nil:
		return *o.Knobs
	case !o.NoSwarm:
		return SeedKnobs(o.Seed)
	}
	return Knobs{}
}

// decisions returns the root of the run's random family and, unless the run is plainly
// seeded, the log of every decision it draws.
func (o *Options) decisions() (*detrand.Rand, *detrand.Log) {
	switch {
	case o.Fuzz != nil && o.NoTape:
		return detrand.NewFuzzedUnlogged(o.Fuzz), nil
	case o.Fuzz != nil:
		return detrand.NewFuzzed(o.Fuzz)
	case o.Replay:
		return detrand.NewTaped(o.Tape)
	case o.Record:
		return detrand.NewRecorded(o.Seed)
	}
	return detrand.NewSeeded(o.Seed), nil
}

// Authentication schemes (Options.Auth).
const (
	AuthNone  = "none"
	AuthCephx = "cephx"
)

// authFor is the run's effective authentication: cephx only on the cluster workload.
func (o *Options) authFor() string {
	if o.Auth == AuthCephx && o.Workload == WorkloadCluster {
		return AuthCephx
	}
	return ""
}

func (o *Options) setDefaults() {
	if o.OSDs < 1 {
		o.OSDs = 1
	}
	if o.Window == 0 {
		o.Window = 200 * time.Millisecond
	}
	if o.MaxSteps == 0 {
		o.MaxSteps = 5_000_000
	}
	if o.Liveness == 0 {
		o.Liveness = 10 * time.Minute
	}
	if o.Faults == nil && o.Fuzz == nil {
		f := NoFaults()
		o.Faults = &f
	}
	if o.Workload == WorkloadSynthetic && o.Faults != nil && o.Faults.On[FaultCrash] {
		f := *o.Faults // the synthetic workload's messengers never crash
		f.On[FaultCrash] = false
		o.Faults = &f
	}
}

// WithDefaults is o as Run runs it: every default filled in (the window, the bounds, no
// faults when none were given, no crash faults for the synthetic workload, which never
// crashes its messengers). msgr-sim and the tests build runs the same way, so one seed with
// the same workload and flags is one run everywhere.
func (o Options) WithDefaults() Options {
	o.setDefaults()
	return o
}

// Phases of a run (harness.Run.Phase).
const (
	PhaseSafety   = harness.PhaseSafety   // sends and faults
	PhaseLiveness = harness.PhaseLiveness // faults healed: every lossless message must arrive
	PhaseShutdown = harness.PhaseShutdown
	PhaseDone     = harness.PhaseDone
)

// Budgets a run can go past (Result.Exceeded).
const (
	BudgetSteps   = harness.BudgetSteps
	BudgetAborted = harness.BudgetAborted
)

// Stats count what happened in a run.
type Stats = harness.Stats

// Mark is one happening of a run placed on its timeline (Result.Marks).
type Mark = world.Mark

// Result is the outcome of one run.
type Result struct {
	Seed        uint64
	Pass        bool
	TraceHash   uint64
	Sent        int
	Delivered   int
	VirtualTime time.Duration
	Steps       uint64
	Faults      Faults
	Knobs       Knobs // the messengers' configuration the run used
	Stats       Stats
	Phase       string // the last phase reached
	Violations  []Violation
	Summary     string
	Trace       []string
	Marks       []Mark // the run's timeline (with KeepTrace)
	Events      uint64 // events folded into the trace hash
	// Tape is the decisions the run drew, in order, when it recorded, replayed or fuzzed
	// (not the ones that drew a fuzzed run's fault mix): Tape and Options replay the run.
	Tape      []uint64
	Coverage  *Coverage        // what the run exercised of the protocol
	Models    []models.Report  // the porcupine checks of the recorded histories
	Acked     int              // lossless messages the peer acknowledged (each checked: ack-unreceived)
	Workload  string           // the workload that ran
	Auth      string           // the run's authentication (AuthCephx, or "" for none)
	Synthetic *SyntheticReport // the synthetic workload's configuration and counts
	// Exceeded is the budget the run went past: "" (none), BudgetSteps (StepBudget) or
	// BudgetAborted (Abort).
	Exceeded string

	checkpoints []uint64
	recorded    []string
}

// Run executes the workload opts.Workload for opts.Seed — by default OSD-like nodes exchanging
// lossless messages with each other (simultaneous connects race), clients sending lossy
// messages to every OSD, which answer each one — while the chosen faults are injected (safety
// phase); then every fault is healed and every lossless message must arrive within a bound
// (liveness phase); then every messenger shuts down. Invariants are checked after every step
// and at the end (harness.Run.Drive).
func Run(opts Options) Result { return run(opts, 0, 0, 0) }

// run is Run with the trace rendering events [recFrom, recTo). instance numbers the runs of
// one determinism check; perturbation (a test hook) applies to the second.
func run(opts Options, recFrom, recTo uint64, instance int) Result {
	opts.setDefaults()
	root, log := opts.decisions()
	if opts.Faults == nil {
		f := fault.Swarm(root)
		opts.Faults = &f
	}
	knobs := opts.RunKnobs()
	opts.Knobs = &knobs
	logFrom := 0
	if log != nil {
		logFrom = log.Len()
	}
	var cov *Coverage
	var hcov harness.Coverage // nil (not a nil *Coverage): the harness counts nothing
	if !opts.NoCoverage {
		cov = NewCoverage()
		cov.Runs = 1
		hcov = cov
	}
	h := harness.New(harness.Config{Seed: opts.Seed, Root: root, Faults: *opts.Faults, KeepTrace: opts.KeepTrace,
		Window: opts.Window, Liveness: opts.Liveness, MaxSteps: opts.MaxSteps, StepBudget: opts.StepBudget,
		Abort: opts.Abort, Coverage: hcov, Knobs: knobs, Auth: opts.authFor(),
		Models: models.CheckOptions{VisualizeDir: opts.VisualizeDir, NoVisualize: opts.NoVisualize,
			Name: opts.VisualizeName}})
	h.W.Trace.Record(recFrom, recTo)
	h.W.CheckRunnable = opts.checkRunnable
	if instance == 2 && opts.perturbAt > 0 {
		h.W.Trace.Perturb(opts.perturbAt, 0xdead)
	}
	if opts.panicAt != "" {
		h.StageHook = panicAtStage(opts.panicAt)
	}
	wl := newWorkload(h, opts)
	h.Drive(wl)
	r := result(h, wl, opts, cov)
	// Its buffer chunks and per-run blocks, for the runs after this one; a panic there is the
	// run's violation too.
	if v := h.Release(); v != nil {
		r.Violations = append(slices.Clip(r.Violations), *v)
		r.Pass = false
	}
	if log != nil {
		// The log is this run's alone and nothing draws from it any more: no copy (capped,
		// so that appending to the tape cannot write into it).
		w := log.Words()
		r.Tape = w[logFrom:len(w):len(w)]
	}
	return r
}

// panicAtStage is the StageHook of Options.panicAt: it panics as that stage begins.
func panicAtStage(stage string) func(string) {
	return func(s string) {
		if s == stage {
			panic("injected panic at stage " + s)
		}
	}
}

// result is what the run of wl on h did and found.
func result(h *harness.Run, wl harness.Workload, opts Options, cov *Coverage) Result {
	summary := h.Report() // wl's
	sent, deliv := h.Check.Counts()
	r := Result{
		Seed: opts.Seed, TraceHash: h.W.Trace.Hash(), Sent: sent, Delivered: deliv,
		VirtualTime: h.W.Now(), Steps: h.W.Steps(), Faults: h.Faults, Knobs: h.Cfg.Knobs, Stats: h.Counts(), Phase: h.Phase,
		Violations: h.Check.Violations(), Summary: h.Check.Summary() + summary, Trace: h.W.Trace.Lines(),
		Marks:  h.W.Trace.Marks(),
		Events: h.W.Trace.Events(), checkpoints: h.W.Trace.Checkpoints(), recorded: h.W.Trace.Recorded(),
		Coverage: finishCoverage(cov, h.Phase), Models: h.ModelReports,
	}
	r.Pass = len(r.Violations) == 0
	r.Exceeded = h.Exceeded
	if opts.KeepTrace {
		r.Marks = append(r.Marks, lostMarks(h)...)
	}
	_, r.Acked = h.Check.AckCounts()
	r.Auth = opts.authFor()
	if r.Workload = opts.Workload; r.Workload == "" {
		r.Workload = WorkloadDefault
	}
	if sw, ok := wl.(*synthsim.Workload); ok {
		r.Synthetic = sw.Result()
	}
	return r
}

// lostMarks are the run's timeline marks of the messages never dispatched (kind "lost", at the
// end of the run): text "accounted: WHY" when the loss is accounted for, "unaccounted: WHY" when not.
func lostMarks(h *harness.Run) []Mark {
	var marks []Mark
	for _, u := range h.Check.Undispatched() {
		text := "unaccounted: " + u.Why
		if u.Accounted {
			text = "accounted: " + u.Why
		}
		marks = append(marks, Mark{At: h.W.Now(), Kind: "lost", ID: u.ID, Text: text})
	}
	return marks
}

// finishCoverage counts the phase invariants evaluated and returns the run's coverage (nil
// for a run without).
func finishCoverage(cov *Coverage, phase string) *Coverage {
	if cov == nil {
		return nil
	}
	cov.Evaluated(InvNoProgress, 1)
	switch phase {
	case PhaseLiveness:
		cov.Evaluated(InvLiveness, 1)
	case PhaseShutdown, PhaseDone:
		cov.Evaluated(InvLiveness, 1)
		cov.Evaluated(InvShutdownStalled, 1)
	}
	cov.finishHot()
	return cov
}

// String is a one-line summary of the result.
func (r Result) String() string {
	verdict := "PASS"
	if !r.Pass {
		verdict = fmt.Sprintf("FAIL (%d violations)", len(r.Violations))
	}
	return fmt.Sprintf("seed %d: %s  sent %d dispatched %d  virtual %v  steps %d  trace %016x",
		r.Seed, verdict, r.Sent, r.Delivered, r.VirtualTime, r.Steps, r.TraceHash)
}
