package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/msgrsim/msgrsim/sim"
)

type sweepFlags struct {
	scenarioFlags
	seeds    string
	count    int
	start    uint64
	parallel int
	shard    string
	json     bool
	determ   bool
	coverage bool
	failFast bool
	maxFail  int
	reach    reachFlag
	list     []uint64  // the seeds this invocation runs
	span     [2]uint64 // the first and last seed of the whole sweep (all shards)
}

func parseSweep(args []string, stdout io.Writer) (*sweepFlags, error) {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	f := &sweepFlags{}
	f.scenarioFlags.register(fs)
	fs.StringVar(&f.seeds, "seeds", "", "the seeds to run, as a range A-B (inclusive)")
	fs.IntVar(&f.count, "count", 0, "run this many seeds from -start (instead of -seeds)")
	fs.Uint64Var(&f.start, "start", 1, "the first seed with -count")
	fs.IntVar(&f.parallel, "parallel", runtime.GOMAXPROCS(0), "seeds run at once (each run is single-threaded)")
	fs.StringVar(&f.shard, "shard", "", "run only shard i of n (i/n, 0 <= i < n): every n-th seed from the i-th")
	fs.BoolVar(&f.json, "json", false, "print a JSON summary as the last line")
	fs.BoolVar(&f.coverage, "coverage", false, "print the protocol coverage table of the whole sweep")
	fs.BoolVar(&f.determ, "check-determinism", false, "run every seed twice and count seeds whose traces differ")
	fs.BoolVar(&f.failFast, "fail-fast", false, "stop at the first failing seed (-max-failures 1)")
	fs.IntVar(&f.maxFail, "max-failures", 0, "stop once this many seeds failed (0: run every seed); seeds running then are abandoned")
	fs.Var(&f.reach, "require-reach", "fail (exit 1) unless the sweep reached every required probe; =ci: the probes a short sweep must reach; =a,b: those probes")
	if err := parseFlags(fs, "Usage: msgr-sim sweep -seeds A-B | -count N [-start S] [flags]", args, stdout); err != nil {
		return nil, err
	}
	if err := f.scenarioFlags.finish(fs); err != nil {
		return nil, err
	}
	all, err := f.seedList()
	if err != nil {
		return nil, err
	}
	f.list, err = shardOf(all, f.shard)
	if err != nil {
		return nil, err
	}
	if f.parallel < 1 || f.parallel > 1024 {
		return nil, errors.New("-parallel must be in [1,1024]")
	}
	if f.maxFail < 0 {
		return nil, errors.New("-max-failures must be at least 0")
	}
	if f.failFast {
		f.maxFail = 1
	}
	f.span = [2]uint64{all[0], all[len(all)-1]}
	return f, nil
}

// maxSweep bounds one invocation; larger sweeps are sharded (see deploy/k8s).
const maxSweep = 100_000_000

func (f *sweepFlags) seedList() ([]uint64, error) {
	var lo, hi uint64
	switch {
	case f.seeds != "" && f.count != 0:
		return nil, errors.New("give -seeds or -count, not both")
	case f.seeds != "":
		a, b, ok := strings.Cut(f.seeds, "-")
		var err1, err2 error
		lo, err1 = strconv.ParseUint(a, 10, 64)
		hi, err2 = strconv.ParseUint(b, 10, 64)
		if !ok || err1 != nil || err2 != nil || hi < lo {
			return nil, fmt.Errorf("bad -seeds %q: want A-B with A <= B", f.seeds)
		}
	case f.count > 0:
		lo, hi = f.start, f.start+uint64(f.count)-1
		if hi < lo {
			return nil, errors.New("-start + -count overflows")
		}
	default:
		return nil, errors.New("give -seeds A-B or -count N")
	}
	if hi-lo >= maxSweep {
		return nil, fmt.Errorf("%d seeds in one sweep: more than %d, shard it", hi-lo+1, maxSweep)
	}
	seeds := make([]uint64, 0, hi-lo+1)
	for s := lo; ; s++ {
		seeds = append(seeds, s)
		if s == hi {
			return seeds, nil
		}
	}
}

// shardOf keeps every n-th seed from the i-th, for spec "i/n".
func shardOf(seeds []uint64, spec string) ([]uint64, error) {
	if spec == "" {
		return seeds, nil
	}
	a, b, ok := strings.Cut(spec, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return nil, fmt.Errorf("bad -shard %q: want i/n with 0 <= i < n", spec)
	}
	var out []uint64
	for k := i; k < len(seeds); k += n {
		out = append(out, seeds[k])
	}
	return out, nil
}

// nondeterminism is the signature of a seed whose two runs differed (-check-determinism).
const nondeterminism = "nondeterminism"

// sweepSummary is what a sweep found; shards' summaries merge into the whole sweep's.
type sweepSummary struct {
	Seeds        int                 `json:"seeds"`
	Passed       int                 `json:"passed"`
	Failed       int                 `json:"failed"`
	FailingSeeds []uint64            `json:"failing_seeds"`
	Signatures   map[string][]uint64 `json:"signatures"` // sorted violation names → failing seeds
	SeedsPerSec  float64             `json:"seeds_per_sec"`
	WallMs       float64             `json:"wall_ms"`
	Coverage     sweepCoverage       `json:"coverage"`
	Scenario     string              `json:"scenario"` // the scenario flags: shards must agree
	Determinism  bool                `json:"determinism_checked"`
	Reach        map[string]int      `json:"reach"`                 // probe → times reached (sim.ProbeGoals)
	Unreached    []string            `json:"unreached"`             // probes never reached
	ReachUnmet   []string            `json:"reach_unmet,omitempty"` // probes -require-reach asked for, never reached
	// What was swept: every seed from SeedRange[0] to SeedRange[1], or every n-th of them
	// from the i-th for Shard "i/n"; and by which build (shards must agree).
	SeedRange [2]uint64 `json:"seed_range"`
	Shard     string    `json:"shard,omitempty"`
	Build     jsonBuild `json:"build"`
	// A sweep that did not run all its seeds says why: interrupted (SIGINT) or stopped
	// (-fail-fast, -max-failures).
	Interrupted bool   `json:"interrupted,omitempty"`
	Stopped     string `json:"stopped,omitempty"`
	Planned     int    `json:"planned"` // the seeds it was to run
	// Tapes are the tapes written of the first seed of each signature; Artifacts the
	// directory they (and porcupine's pages) are in.
	Tapes     map[string]string `json:"tapes,omitempty"`
	Artifacts string            `json:"artifacts,omitempty"`
}

// sweepCoverage is what the sweep exercised.
type sweepCoverage struct {
	FaultsFired    map[string]int `json:"faults_fired"`     // injections of each fault kind
	SeedsWithFault map[string]int `json:"seeds_with_fault"` // seeds in which each kind fired
	Phases         map[string]int `json:"phases"`           // seeds by the last phase reached
	Invariants     map[string]int `json:"invariants"`       // failing seeds by violated invariant
	ResetCauses    map[string]int `json:"reset_causes"`     // session resets by attributed cause
	Excused        map[string]int `json:"excused"`          // duplicate dispatches excused, by named case
	Knobs          map[string]int `json:"knobs"`            // seeds that ran with each knob off its default
	Protocol       *sim.Coverage  `json:"protocol"`         // states, transitions, tags, faults, decisions
}

func newSummary(scenario string) *sweepSummary {
	return &sweepSummary{FailingSeeds: []uint64{}, Signatures: map[string][]uint64{}, Scenario: scenario,
		Build: thisBuild(), Tapes: map[string]string{},
		Coverage: sweepCoverage{FaultsFired: map[string]int{}, SeedsWithFault: map[string]int{},
			Phases: map[string]int{}, Invariants: map[string]int{}, ResetCauses: map[string]int{},
			Excused: map[string]int{}, Knobs: map[string]int{}, Protocol: sim.NewCoverage()}}
}

// signature names a failure by the set of invariants it violated.
func signature(r sim.Result) string {
	var names []string
	for _, v := range r.Violations {
		if !slices.Contains(names, v.Name) {
			names = append(names, v.Name)
		}
	}
	slices.Sort(names)
	return strings.Join(names, "+")
}

func (s *sweepSummary) add(r sim.Result) {
	s.Seeds++
	for i, n := range r.Stats.Injected {
		k := sim.Fault(i).String()
		s.Coverage.FaultsFired[k] += n
		if n > 0 {
			s.Coverage.SeedsWithFault[k]++
		}
	}
	s.Coverage.Phases[r.Phase]++
	for _, k := range r.Knobs.Set() {
		s.Coverage.Knobs[k]++
	}
	for cause, n := range r.Stats.ResetCauses { //lint:ordered (sums)
		s.Coverage.ResetCauses[cause] += n
	}
	for c, n := range r.Stats.Excused { //lint:ordered (sums)
		s.Coverage.Excused[c] += n
	}
	s.Coverage.Protocol.Merge(r.Coverage)
	if r.Pass {
		s.Passed++
		return
	}
	s.Failed++
	s.FailingSeeds = append(s.FailingSeeds, r.Seed)
	sig := signature(r)
	s.Signatures[sig] = append(s.Signatures[sig], r.Seed)
	for _, name := range strings.Split(sig, "+") {
		s.Coverage.Invariants[name]++
	}
}

// merge adds another shard's summary.
func (s *sweepSummary) merge(o *sweepSummary) {
	s.Seeds += o.Seeds
	s.Passed += o.Passed
	s.Failed += o.Failed
	s.FailingSeeds = append(s.FailingSeeds, o.FailingSeeds...)
	for sig, seeds := range o.Signatures { //lint:ordered (each key merged independently)
		s.Signatures[sig] = append(s.Signatures[sig], seeds...)
	}
	s.sortSeeds()
	for _, pair := range []struct{ dst, src map[string]int }{
		{s.Coverage.FaultsFired, o.Coverage.FaultsFired}, {s.Coverage.SeedsWithFault, o.Coverage.SeedsWithFault},
		{s.Coverage.Phases, o.Coverage.Phases}, {s.Coverage.Invariants, o.Coverage.Invariants},
		{s.Coverage.ResetCauses, o.Coverage.ResetCauses}, {s.Coverage.Knobs, o.Coverage.Knobs},
		{s.Coverage.Excused, o.Coverage.Excused},
	} {
		for k, v := range pair.src { //lint:ordered (sums)
			pair.dst[k] += v
		}
	}
	s.Coverage.Protocol.Merge(o.Coverage.Protocol)
	s.SeedsPerSec += o.SeedsPerSec // shards run side by side: their rates add up
	s.Determinism = s.Determinism || o.Determinism
	s.WallMs = max(s.WallMs, o.WallMs)
}

func sweepCmd(args []string, stdout, stderr io.Writer) int {
	f, err := parseSweep(args, stdout)
	if err != nil {
		return usageError("sweep", err, stderr)
	}
	f.resolve("")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	sum := runSweep(ctx, f, stderr)
	stop() // a second Ctrl-C kills at once
	if !sum.Interrupted {
		if err := f.writeTapes(sum); err != nil {
			return fail("sweep", err, stderr)
		}
	}
	unmet := sum.requireReach(f.reach.probes)
	human := stdout
	if f.json {
		human = stderr // stdout carries the JSON line only
	}
	printSweep(human, sum, f.args())
	printReach(human, sum)
	if f.coverage {
		fmt.Fprint(human, sum.Coverage.Protocol.Table())
	}
	if f.json {
		b, _ := json.Marshal(sum)
		fmt.Fprintln(stdout, string(b))
	}
	switch {
	case sum.Interrupted:
		return exitInterrupted
	case sum.Failed > 0 || len(unmet) > 0:
		return exitViolation
	}
	return exitPass
}

// writeTapes records the first seed of each signature again and writes its tape as an
// artifact: the tape replays the failure without the scenario flags.
func (f *sweepFlags) writeTapes(sum *sweepSummary) error {
	for sig, seeds := range sum.Signatures { //lint:ordered (each written independently)
		if sig == nondeterminism {
			continue
		}
		t, _ := sim.TapeOf(f.options(seeds[0]))
		path, err := f.artifacts.writeTape(t)
		if err != nil {
			return err
		}
		sum.Tapes[sig] = path
		sum.Artifacts = f.artifacts.created
	}
	return nil
}

// runSweep runs f.list on f.parallel goroutines, each run single-threaded and deterministic,
// showing progress on a terminal (term). It stops early when ctx is done (SIGINT) or
// -max-failures seeds failed: the runs then in flight are abandoned, not counted.
func runSweep(ctx context.Context, f *sweepFlags, term io.Writer) *sweepSummary {
	sum := newSummary(strings.TrimSpace(f.args()))
	sum.Determinism, sum.SeedRange, sum.Shard, sum.Planned = f.determ, f.span, f.shard, len(f.list)
	var mu sync.Mutex
	var next, done, failed atomic.Int64
	var halt atomic.Bool
	go func() {
		<-ctx.Done()
		halt.Store(true)
	}()
	start := time.Now()
	var wg sync.WaitGroup
	for range min(f.parallel, len(f.list)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !halt.Load() {
				i := int(next.Add(1)) - 1
				if i >= len(f.list) {
					return
				}
				r := f.runSeed(f.list[i], &halt)
				if halt.Load() && r.Exceeded == sim.BudgetAborted {
					return // abandoned: interrupted or stopped
				}
				mu.Lock()
				sum.add(r)
				if !r.Pass && f.maxFail > 0 && sum.Failed >= f.maxFail && !halt.Load() {
					sum.Stopped = fmt.Sprintf("-max-failures %d reached", f.maxFail)
					halt.Store(true)
				}
				mu.Unlock()
				if !r.Pass {
					failed.Add(1)
				}
				done.Add(1)
			}
		}()
	}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		progress(term, len(f.list), &done, &failed, start, stopProgress)
	}()
	wg.Wait()
	close(stopProgress)
	<-progressDone
	sum.Interrupted = ctx.Err() != nil
	sum.sortSeeds()
	wall := time.Since(start)
	sum.WallMs = float64(wall) / 1e6
	sum.SeedsPerSec = float64(sum.Seeds) / wall.Seconds()
	sum.finishReach()
	return sum
}

// runSeed runs one seed of the sweep; halt abandons it.
func (f *sweepFlags) runSeed(seed uint64, halt *atomic.Bool) sim.Result {
	opts := f.options(seed)
	wall := opts.Abort
	opts.Abort = func() bool { return halt.Load() || wall() }
	if !f.determ {
		return sim.Run(opts)
	}
	r, div := sim.CheckDeterminism(opts)
	if div != nil {
		r.Pass = false
		r.Violations = append(r.Violations, sim.Violation{Name: nondeterminism, Detail: div.String()})
	}
	return r
}

// sortSeeds puts the seed lists in order (seeds finish in any order).
func (s *sweepSummary) sortSeeds() {
	slices.Sort(s.FailingSeeds)
	for _, seeds := range s.Signatures { //lint:ordered (each list sorted in place)
		slices.Sort(seeds)
	}
}

// progress shows a live bar on out when it is a terminal, and nothing otherwise: stdout
// carries results only, and a log is no place for a progress bar.
func progress(out io.Writer, total int, done, failed *atomic.Int64, start time.Time, stop <-chan struct{}) {
	if !isTerminal(out) {
		<-stop
		return
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	show := func(final bool) {
		d, fl := done.Load(), failed.Load()
		rate := float64(d) / max(time.Since(start).Seconds(), 1e-9)
		const width = 30
		filled := min(width, int(float64(width)*float64(d)/float64(max(total, 1))))
		fmt.Fprintf(out, "\r[%s%s] %d/%d seeds  %.1f seeds/s  %d failed ", strings.Repeat("=", filled),
			strings.Repeat(" ", width-filled), d, total, rate, fl)
		if final {
			fmt.Fprintln(out)
		}
	}
	for {
		select {
		case <-stop:
			show(true)
			return
		case <-tick.C:
			show(false)
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func printSweep(w io.Writer, s *sweepSummary, flags string) {
	fmt.Fprintf(w, "%d seeds: %d passed, %d failed  (%.1f seeds/s, wall %v)\n", s.Seeds, s.Passed, s.Failed,
		s.SeedsPerSec, (time.Duration(s.WallMs * 1e6)).Round(time.Millisecond))
	switch {
	case s.Interrupted:
		fmt.Fprintf(w, "INTERRUPTED: %d of %d seeds done (the runs in flight were abandoned)\n", s.Seeds, s.Planned)
	case s.Stopped != "":
		fmt.Fprintf(w, "stopped: %s, %d of %d seeds done\n", s.Stopped, s.Seeds, s.Planned)
	}
	if s.Determinism {
		fmt.Fprintf(w, "determinism checked: every seed ran twice, %d gave different traces\n", len(s.Signatures[nondeterminism]))
	}
	var sigs []string
	for sig := range s.Signatures { //lint:ordered (sorted below)
		sigs = append(sigs, sig)
	}
	slices.Sort(sigs)
	for _, sig := range sigs {
		seeds := s.Signatures[sig]
		shown := seeds[:min(len(seeds), 10)]
		more := ""
		if len(seeds) > len(shown) {
			more = fmt.Sprintf(" … (%d more)", len(seeds)-len(shown))
		}
		fmt.Fprintf(w, "  FAIL %-40s %4d seeds: %v%s\n", sig, len(seeds), shown, more)
		fmt.Fprintf(w, "       replay: %s replay -seed %d%s\n", program(), seeds[0], flags)
		fmt.Fprintf(w, "       shrink: %s shrink -seed %d%s -o seed%d.tape\n", program(), seeds[0], flags, seeds[0])
		if tape := s.Tapes[sig]; tape != "" {
			fmt.Fprintf(w, "       tape:   %s\n", tape)
		}
	}
	fmt.Fprint(w, "faults fired (injections / seeds):")
	for i := range sim.NumFaults {
		k := sim.Fault(i).String()
		fmt.Fprintf(w, " %s=%d/%d", k, s.Coverage.FaultsFired[k], s.Coverage.SeedsWithFault[k])
	}
	fmt.Fprint(w, "\nphases reached:")
	for _, p := range []string{sim.PhaseSafety, sim.PhaseLiveness, sim.PhaseShutdown, sim.PhaseDone} {
		fmt.Fprintf(w, " %s=%d", p, s.Coverage.Phases[p])
	}
	fmt.Fprintln(w)
	if len(s.Coverage.ResetCauses) > 0 {
		fmt.Fprintf(w, "session resets by cause: %s\n", sim.FormatResetCauses(s.Coverage.ResetCauses))
	}
	if len(s.Coverage.Excused) > 0 {
		fmt.Fprintf(w, "duplicates excused by case: %s\n", sim.FormatResetCauses(s.Coverage.Excused))
	}
	if len(s.Coverage.Knobs) > 0 {
		fmt.Fprint(w, "knobs drawn (seeds):")
		for _, k := range sim.KnobNames() {
			if n := s.Coverage.Knobs[k]; n > 0 {
				fmt.Fprintf(w, " %s=%d", k, n)
			}
		}
		fmt.Fprintln(w)
	}
	if s.Coverage.Protocol != nil {
		sum := s.Coverage.Protocol.Summary()
		fmt.Fprintf(w, "protocol coverage: states %d/%d, reply tags %d/%d, frame tags %d/%d, transitions %d, decisions %d, fault kinds %d/%d (msgr-sim run -coverage for the table)\n",
			sum.States.Reached, sum.States.Total, sum.ReplyTags.Reached, sum.ReplyTags.Total, sum.FrameTags.Reached,
			sum.FrameTags.Total, sum.Transitions.Reached, sum.Decisions.Reached, sum.Faults.Reached, sum.Faults.Total)
	}
	if s.Artifacts != "" {
		fmt.Fprintf(w, "artifacts: %s\n", s.Artifacts)
	}
}

func mergeCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print only the merged JSON summary on stdout (the readable one on stderr)")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage: msgr-sim merge [-json] FILE... (files holding msgr-sim sweep -json output)")
		}
		return usageError("merge", err, stderr)
	}
	if fs.NArg() == 0 {
		return usageError("merge", errors.New("no files: want the -json output of every shard"), stderr)
	}
	var shards []*sweepSummary
	for _, name := range fs.Args() {
		s, err := readSummary(name)
		if err != nil {
			return fail("merge", err, stderr)
		}
		shards = append(shards, s)
	}
	if err := consistent(fs.Args(), shards); err != nil {
		return fail("merge", err, stderr)
	}
	total := newSummary(shards[0].Scenario)
	total.Build, total.Determinism = shards[0].Build, shards[0].Determinism
	total.SeedRange = shards[0].SeedRange
	for _, s := range shards {
		total.merge(s)
		total.Planned += s.Planned
		total.SeedRange[0] = min(total.SeedRange[0], s.SeedRange[0])
		total.SeedRange[1] = max(total.SeedRange[1], s.SeedRange[1])
		for sig, tape := range s.Tapes { //lint:ordered (the first shard's tape of a signature is kept)
			if total.Tapes[sig] == "" {
				total.Tapes[sig] = tape
			}
		}
	}
	flags := ""
	if total.Scenario != "" {
		flags = " " + total.Scenario
	}
	total.finishReach()
	human := stdout
	if *asJSON {
		human = stderr
	}
	printSweep(human, total, flags)
	printReach(human, total)
	b, _ := json.Marshal(total)
	fmt.Fprintln(stdout, string(b))
	if total.Failed > 0 {
		return exitViolation
	}
	return exitPass
}

// consistent checks that shards can be merged: complete sweeps of one scenario by one build,
// no seed swept twice.
func consistent(names []string, shards []*sweepSummary) error {
	first := shards[0]
	for i, s := range shards {
		switch {
		case s.Build.Go == "":
			return usageErrorf("%s: the summary records no build (written by an older msgr-sim): sweep the shard again", names[i])
		case s.Interrupted || s.Stopped != "":
			return usageErrorf("%s: the shard did not finish (%d of %d seeds: interrupted or stopped early)", names[i], s.Seeds, s.Planned)
		case s.Scenario != first.Scenario:
			return usageErrorf("%s swept scenario %q, %s %q: shards must sweep one scenario (workload, faults, canary...)", names[i], s.Scenario, names[0], first.Scenario)
		case s.Build.String() != first.Build.String() || s.Build.Canary != first.Build.Canary:
			return usageErrorf("%s was swept by build %s, %s by build %s: shards must come from one build",
				names[i], describeBuild(s.Build.String(), s.Build.Canary), names[0], describeBuild(first.Build.String(), first.Build.Canary))
		case s.Determinism != first.Determinism:
			return usageErrorf("%s and %s differ in -check-determinism", names[i], names[0])
		}
		for j := range i {
			if err := overlap(names[j], shards[j], names[i], s); err != nil {
				return err
			}
		}
	}
	return nil
}

// overlap reports two shards that swept a seed in common.
func overlap(na string, a *sweepSummary, nb string, b *sweepSummary) error {
	if a.SeedRange == b.SeedRange && a.Shard == b.Shard {
		return usageErrorf("%s and %s are the same shard (seeds %d-%d%s) twice", na, nb, a.SeedRange[0], a.SeedRange[1], shardSuffix(a.Shard))
	}
	ia, na_ := shardParts(a.Shard)
	ib, nb_ := shardParts(b.Shard)
	lo, hi := max(a.SeedRange[0], b.SeedRange[0]), min(a.SeedRange[1], b.SeedRange[1])
	if lo > hi {
		return nil
	}
	// Walk a's seeds within the common range (every na_-th from the ia-th of its range)
	// and look each up in b's.
	first := a.SeedRange[0] + uint64(ia)
	if first < lo {
		first += (lo - first + uint64(na_) - 1) / uint64(na_) * uint64(na_)
	}
	for s := first; s <= hi && s >= first; s += uint64(na_) {
		if (s-b.SeedRange[0])%uint64(nb_) == uint64(ib) {
			return usageErrorf("%s (seeds %d-%d%s) and %s (seeds %d-%d%s) both swept seed %d: overlapping shards",
				na, a.SeedRange[0], a.SeedRange[1], shardSuffix(a.Shard), nb, b.SeedRange[0], b.SeedRange[1], shardSuffix(b.Shard), s)
		}
	}
	return nil
}

// shardParts reads "i/n" ("": 0/1); readSummary checked it.
func shardParts(spec string) (int, int) {
	if spec == "" {
		return 0, 1
	}
	a, b, _ := strings.Cut(spec, "/")
	i, _ := strconv.Atoi(a)
	n, _ := strconv.Atoi(b)
	return i, n
}

func shardSuffix(spec string) string {
	if spec == "" {
		return ""
	}
	return ", shard " + spec
}

// readSummary reads the last JSON line of a sweep's output.
func readSummary(name string) (*sweepSummary, error) {
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usageErrorf("%s: no such file", name)
	}
	if err != nil {
		return nil, ioError(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	s := &sweepSummary{}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), s); err != nil || s.Signatures == nil {
		return nil, usageErrorf("%s: the last line is not a sweep summary", name)
	}
	if s.Seeds != s.Passed+s.Failed || len(s.FailingSeeds) != s.Failed {
		return nil, usageErrorf("%s: inconsistent summary (%d seeds, %d passed, %d failed)", name, s.Seeds, s.Passed, s.Failed)
	}
	if _, err := shardOf([]uint64{0}, s.Shard); err != nil || s.SeedRange[1] < s.SeedRange[0] {
		return nil, usageErrorf("%s: bad seed range %v or shard %q", name, s.SeedRange, s.Shard)
	}
	fill := func(m *map[string]int) {
		if *m == nil {
			*m = map[string]int{}
		}
	}
	fill(&s.Coverage.FaultsFired)
	fill(&s.Coverage.SeedsWithFault)
	fill(&s.Coverage.Phases)
	fill(&s.Coverage.Invariants)
	fill(&s.Coverage.Knobs)
	if s.Coverage.Protocol == nil {
		s.Coverage.Protocol = sim.NewCoverage()
	}
	return s, nil
}
