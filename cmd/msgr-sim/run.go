package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/msgrsim/msgrsim/sim"
)

type runFlags struct {
	scenarioFlags
	seed        uint64
	seedSet     bool
	json        bool
	verbose     bool
	determinism bool
	coverage    bool
}

func parseRun(args []string, stdout io.Writer) (*runFlags, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	f := &runFlags{}
	fs.Func("seed", "the seed (default: a random one, printed first)", func(s string) error {
		var err error
		f.seed, err = parseSeed(s)
		f.seedSet = err == nil
		return err
	})
	f.scenarioFlags.register(fs)
	fs.BoolVar(&f.json, "json", false, "print a JSON summary as the last line")
	fs.BoolVar(&f.verbose, "v", false, "print the readable trace of the run")
	fs.BoolVar(&f.determinism, "check-determinism", false, "run twice and compare the traces")
	fs.BoolVar(&f.coverage, "coverage", false, "print the protocol coverage table (also with -v)")
	if err := parseFlags(fs, "Usage: msgr-sim run [flags]", args, stdout); err != nil {
		return nil, err
	}
	return f, f.scenarioFlags.finish(fs)
}

func runCmd(args []string, stdout, stderr io.Writer) int {
	f, err := parseRun(args, stdout)
	if err != nil {
		return usageError("run", err, stderr)
	}
	// With -json stdout carries the JSON line only; the readable report goes to stderr.
	human := stdout
	if f.json {
		human = stderr
	}
	if !f.seedSet {
		f.seed = randomSeed()
		fmt.Fprintf(human, "seed %d\n", f.seed)
	}
	f.resolve("")
	opts := f.options(f.seed)
	opts.KeepTrace = f.verbose
	opts.Record = !f.determinism // the tape of a failing run is written as an artifact
	fmt.Fprintln(human, describe(opts))
	start := time.Now()
	var r sim.Result
	var div *sim.Divergence
	if f.determinism {
		r, div = sim.CheckDeterminism(opts)
	} else {
		r = sim.Run(opts)
	}
	wall := time.Since(start)
	if f.determinism {
		if div != nil {
			fmt.Fprintf(human, "NONDETERMINISM: %v", div)
			return exitViolation
		}
		fmt.Fprintf(human, "deterministic: two runs gave trace %016x\n", r.TraceHash)
	}
	if f.verbose {
		for _, l := range r.Trace {
			fmt.Fprintln(human, l)
		}
	}
	tape, err := f.failingTape(opts, r)
	if err != nil {
		return fail("run", err, stderr)
	}
	printHuman(human, r, wall, f.reproduce())
	if tape != "" {
		fmt.Fprintf(human, "tape: %s\nreplay it: %s replay -tape %s%s\n", tape, program(), tape, canaryArg())
	}
	if (f.coverage || f.verbose) && r.Coverage != nil {
		fmt.Fprint(human, r.Coverage.Table())
	}
	if f.json {
		printJSON(stdout, r, wall, tape)
	}
	if !r.Pass {
		return exitViolation
	}
	return exitPass
}

// failingTape writes the tape of a failing run that recorded its decisions as an artifact
// and returns its path ("" for a passing run).
func (f *runFlags) failingTape(opts sim.Options, r sim.Result) (string, error) {
	if r.Pass || r.Tape == nil {
		return "", nil
	}
	return f.artifacts.writeTape(sim.TapeFromRun(opts, r))
}

// reproduce is the command line that replays this run exactly (non-default flags only).
func (f *runFlags) reproduce() string {
	return fmt.Sprintf("%s run -seed %d%s", program(), f.seed, f.args())
}

func printHuman(w io.Writer, r sim.Result, wall time.Duration, reproduce string) {
	fmt.Fprintln(w, r.String())
	fmt.Fprintf(w, "phase reached: %s; faults injected:", r.Phase)
	for i, n := range r.Stats.Injected {
		if n > 0 {
			fmt.Fprintf(w, " %v=%d", sim.Fault(i), n)
		}
	}
	fmt.Fprintf(w, "\nconnection faults %d, session resets %d, reconnects %d, crashes %d, bytes corrupted %d\n",
		r.Stats.ConnFaults, r.Stats.SessionResets, r.Stats.Reconnects, r.Stats.Crashes, r.Stats.BytesCorrupted)
	if len(r.Stats.ResetCauses) > 0 {
		fmt.Fprintf(w, "session resets by cause: %s\n", sim.FormatResetCauses(r.Stats.ResetCauses))
	}
	if len(r.Stats.Excused) > 0 {
		fmt.Fprintf(w, "duplicates excused by case: %s\n", sim.FormatResetCauses(r.Stats.Excused))
	}
	if r.Synthetic != nil {
		printSynthetic(w, r.Synthetic)
	}
	fmt.Fprint(w, r.Summary)
	for _, m := range r.Models {
		fmt.Fprintf(w, "  model %v\n", m)
	}
	for _, v := range r.Violations {
		fmt.Fprintf(w, "  VIOLATION at %v: %s\n", time.Duration(v.AtNs), v)
	}
	fmt.Fprintf(w, "wall %v\nreproduce: %s\n", wall.Round(time.Millisecond), reproduce)
}

type jsonResult struct {
	Seed           uint64          `json:"seed"`
	Result         string          `json:"result"`
	TraceHash      string          `json:"trace_hash"`
	Sent           int             `json:"sent"`
	Delivered      int             `json:"delivered"`
	VirtualMs      float64         `json:"virtual_ms"`
	WallMs         float64         `json:"wall_ms"`
	Steps          uint64          `json:"steps"`
	Faults         []string        `json:"faults"`
	Knobs          string          `json:"knobs"` // the messengers' configuration ("default": none drawn)
	Injected       map[string]int  `json:"injected"`
	Resets         int             `json:"resets"`
	ResetCauses    map[string]int  `json:"reset_causes"`
	Excused        map[string]int  `json:"excused,omitempty"` // duplicate dispatches excused, by named case
	Reconnects     int             `json:"reconnects"`
	BytesCorrupted int             `json:"bytes_corrupted"`
	Crashes        int             `json:"crashes"`
	PhaseReached   string          `json:"phase_reached"`
	Violations     []sim.Violation `json:"violations"`
	Models         []jsonModel     `json:"models"`
	Coverage       *sim.Summary    `json:"coverage"`
	Workload       string          `json:"workload"`
	Auth           string          `json:"auth,omitempty"` // cephx (-auth cephx); omitted for none
	Synthetic      *jsonSynthetic  `json:"synthetic,omitempty"`
	Exceeded       string          `json:"budget_exceeded,omitempty"` // steps or aborted (wall time)
	Tape           string          `json:"tape,omitempty"`            // the failing run's tape
	Build          jsonBuild       `json:"build"`
}

// jsonModel is one porcupine check of a recorded history.
type jsonModel struct {
	Model         string  `json:"model"`
	Verdict       string  `json:"verdict"`
	Operations    int     `json:"operations"`
	Partitions    int     `json:"partitions"`
	CheckMs       float64 `json:"check_ms"`
	Visualization string  `json:"visualization,omitempty"`
}

func printJSON(w io.Writer, r sim.Result, wall time.Duration, tape string) {
	j := jsonResult{
		Seed: r.Seed, Result: "pass", TraceHash: fmt.Sprintf("%016x", r.TraceHash), Sent: r.Sent,
		Delivered: r.Delivered, VirtualMs: float64(r.VirtualTime) / 1e6, WallMs: float64(wall) / 1e6,
		Steps: r.Steps, Violations: r.Violations, Faults: r.Faults.Names(), Knobs: r.Knobs.String(), Injected: injectedMap(r.Stats.Injected),
		Resets: r.Stats.SessionResets, ResetCauses: r.Stats.ResetCauses, Excused: r.Stats.Excused, Reconnects: r.Stats.Reconnects, BytesCorrupted: r.Stats.BytesCorrupted,
		Crashes: r.Stats.Crashes, PhaseReached: r.Phase, Models: []jsonModel{},
		Workload: r.Workload, Auth: r.Auth, Synthetic: syntheticJSON(r.Synthetic), Exceeded: r.Exceeded, Tape: tape,
		Build: thisBuild(),
	}
	if r.Coverage != nil {
		sum := r.Coverage.Summary()
		j.Coverage = &sum
	}
	for _, m := range r.Models {
		j.Models = append(j.Models, jsonModel{Model: m.Model, Verdict: string(m.Verdict), Operations: m.Operations,
			Partitions: m.Partitions, CheckMs: float64(m.Elapsed) / 1e6, Visualization: m.Visualization})
	}
	if j.Faults == nil {
		j.Faults = []string{}
	}
	if !r.Pass {
		j.Result = "fail"
	}
	if j.Violations == nil {
		j.Violations = []sim.Violation{}
	}
	b, _ := json.Marshal(j)
	fmt.Fprintln(w, string(b))
}

func injectedMap(in [sim.NumFaults]int) map[string]int {
	m := map[string]int{}
	for i, n := range in {
		m[sim.Fault(i).String()] = n
	}
	return m
}
