package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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
	reach    reachFlag
	list     []uint64 // the seeds this invocation runs
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
}

// sweepCoverage is what the sweep exercised.
type sweepCoverage struct {
	FaultsFired    map[string]int `json:"faults_fired"`     // injections of each fault kind
	SeedsWithFault map[string]int `json:"seeds_with_fault"` // seeds in which each kind fired
	Phases         map[string]int `json:"phases"`           // seeds by the last phase reached
	Invariants     map[string]int `json:"invariants"`       // failing seeds by violated invariant
	ResetCauses    map[string]int `json:"reset_causes"`     // session resets by attributed cause
	Protocol       *sim.Coverage  `json:"protocol"`         // states, transitions, tags, faults, decisions
}

func newSummary(scenario string) *sweepSummary {
	return &sweepSummary{FailingSeeds: []uint64{}, Signatures: map[string][]uint64{}, Scenario: scenario,
		Coverage: sweepCoverage{FaultsFired: map[string]int{}, SeedsWithFault: map[string]int{},
			Phases: map[string]int{}, Invariants: map[string]int{}, ResetCauses: map[string]int{},
			Protocol: sim.NewCoverage()}}
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
	for cause, n := range r.Stats.ResetCauses { //lint:ordered (sums)
		s.Coverage.ResetCauses[cause] += n
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
		{s.Coverage.ResetCauses, o.Coverage.ResetCauses},
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
	sum := runSweep(f, stdout)
	unmet := sum.requireReach(f.reach.probes)
	printSweep(stdout, sum, f.args())
	printReach(stdout, sum)
	if f.coverage {
		fmt.Fprint(stdout, sum.Coverage.Protocol.Table())
	}
	if f.json {
		b, _ := json.Marshal(sum)
		fmt.Fprintln(stdout, string(b))
	}
	if sum.Failed > 0 || len(unmet) > 0 {
		return 1
	}
	return 0
}

// runSweep runs f.list on f.parallel goroutines, each run single-threaded and deterministic,
// reporting progress on out.
func runSweep(f *sweepFlags, out io.Writer) *sweepSummary {
	sum := newSummary(strings.TrimSpace(f.args()))
	sum.Determinism = f.determ
	var mu sync.Mutex
	var next, done, failed atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range min(f.parallel, len(f.list)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(f.list) {
					return
				}
				var r sim.Result
				if f.determ {
					var div *sim.Divergence
					if r, div = sim.CheckDeterminism(f.options(f.list[i])); div != nil {
						r.Pass = false
						r.Violations = append(r.Violations, sim.Violation{Name: nondeterminism, Detail: div.String()})
					}
				} else {
					r = sim.Run(f.options(f.list[i]))
				}
				if !r.Pass {
					failed.Add(1)
				}
				mu.Lock()
				sum.add(r)
				mu.Unlock()
				done.Add(1)
			}
		}()
	}
	stop := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		progress(out, len(f.list), &done, &failed, start, stop)
	}()
	wg.Wait()
	close(stop)
	<-progressDone
	sum.sortSeeds()
	wall := time.Since(start)
	sum.WallMs = float64(wall) / 1e6
	sum.SeedsPerSec = float64(sum.Seeds) / wall.Seconds()
	sum.finishReach()
	return sum
}

// sortSeeds puts the seed lists in order (seeds finish in any order).
func (s *sweepSummary) sortSeeds() {
	slices.Sort(s.FailingSeeds)
	for _, seeds := range s.Signatures { //lint:ordered (each list sorted in place)
		slices.Sort(seeds)
	}
}

// progress shows a live bar on a terminal and a plain line every ~10% otherwise.
func progress(out io.Writer, total int, done, failed *atomic.Int64, start time.Time, stop <-chan struct{}) {
	tty := isTerminal(out)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	lastPlain := int64(0)
	show := func(final bool) {
		d, fl := done.Load(), failed.Load()
		rate := float64(d) / max(time.Since(start).Seconds(), 1e-9)
		if tty {
			const width = 30
			filled := int(float64(width) * float64(d) / float64(max(total, 1)))
			fmt.Fprintf(out, "\r[%s%s] %d/%d seeds  %.1f seeds/s  %d failed ", strings.Repeat("=", filled),
				strings.Repeat(" ", width-filled), d, total, rate, fl)
			if final {
				fmt.Fprintln(out)
			}
			return
		}
		step := max(int64(total)/10, 1)
		if d-lastPlain >= step || (final && d != lastPlain) {
			lastPlain = d
			fmt.Fprintf(out, "swept %d/%d seeds, %.1f seeds/s, %d failed\n", d, total, rate, fl)
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
		fmt.Fprintf(w, "       replay: msgr-sim replay -seed %d%s\n", seeds[0], flags)
		fmt.Fprintf(w, "       shrink: msgr-sim shrink -seed %d%s -o seed%d.tape\n", seeds[0], flags, seeds[0])
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
	if s.Coverage.Protocol != nil {
		sum := s.Coverage.Protocol.Summary()
		fmt.Fprintf(w, "protocol coverage: states %d/%d, reply tags %d/%d, frame tags %d/%d, transitions %d, decisions %d, fault kinds %d/%d (msgr-sim run -coverage for the table)\n",
			sum.States.Reached, sum.States.Total, sum.ReplyTags.Reached, sum.ReplyTags.Total, sum.FrameTags.Reached,
			sum.FrameTags.Total, sum.Transitions.Reached, sum.Decisions.Reached, sum.Faults.Reached, sum.Faults.Total)
	}
}

func mergeCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fmt.Fprintln(stderr, "Usage: msgr-sim merge FILE... (files holding msgr-sim sweep -json output)")
		if len(args) > 0 {
			return 0
		}
		return 2
	}
	var total *sweepSummary
	for _, name := range args {
		s, err := readSummary(name)
		if err != nil {
			fmt.Fprintf(stderr, "msgr-sim merge: %v\n", err)
			return 2
		}
		if total == nil {
			total = newSummary(s.Scenario)
		} else if s.Scenario != total.Scenario {
			fmt.Fprintf(stderr, "msgr-sim merge: %s swept scenario %q, the others %q\n", name, s.Scenario, total.Scenario)
			return 2
		}
		total.merge(s)
	}
	flags := ""
	if total.Scenario != "" {
		flags = " " + total.Scenario
	}
	total.finishReach()
	printSweep(stdout, total, flags)
	printReach(stdout, total)
	b, _ := json.Marshal(total)
	fmt.Fprintln(stdout, string(b))
	if total.Failed > 0 {
		return 1
	}
	return 0
}

// readSummary reads the last JSON line of a sweep's output.
func readSummary(name string) (*sweepSummary, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	s := &sweepSummary{}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), s); err != nil || s.Signatures == nil {
		return nil, fmt.Errorf("%s: the last line is not a sweep summary", name)
	}
	if s.Seeds != s.Passed+s.Failed || len(s.FailingSeeds) != s.Failed {
		return nil, fmt.Errorf("%s: inconsistent summary (%d seeds, %d passed, %d failed)", name, s.Seeds, s.Passed, s.Failed)
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
	if s.Coverage.Protocol == nil {
		s.Coverage.Protocol = sim.NewCoverage()
	}
	return s, nil
}
