package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/msgrsim/msgrsim/workload/explore"
)

type exploreFlags struct {
	policies []explore.Policy
	point    string
	pairs    bool
	rounds   int
	seed     uint64
	parallel int
	json     bool
	verbose  bool
	canary   string
	variant  explore.Variant
}

const exploreUsage = `Usage: msgr-sim explore [-policy all|NAME,...] [-rounds R] [-pairs] [-seed N] [-json]
       msgr-sim explore -policy NAME -point SIDE/OP/ELEMENT/ROUND/ACTION[,SIDE/...] [-v]

Runs a small scenario (a connector sends messages and a keepalive, the acceptor answers) once
per fault point, with exactly that fault, and checks every invariant. A point is a side
(connector, acceptor), a socket operation (read, write), a msgr1 element (banner, addr,
connect, connect_reply, in_seq, msg, header, front, middle, data, footer, ack, ack_seq,
keepalive2, ...), its round (the Nth of that element the side wrote) and an action (reset,
stall, block; read points reset). -point replays one point (two for a pair).`

func parseExplore(args []string, stdout io.Writer) (*exploreFlags, error) {
	fs := flag.NewFlagSet("explore", flag.ContinueOnError)
	f := &exploreFlags{}
	policy := fs.String("policy", "all", "policies to run: all, or names from "+policyNames())
	fs.StringVar(&f.point, "point", "", "run only this fault point (a pair: two, comma-separated) and print its result")
	fs.BoolVar(&f.pairs, "pairs", false, "also run every pair: each point followed by each point after it")
	fs.IntVar(&f.rounds, "rounds", 3, "occurrences of each element explored (1..R)")
	fs.Uint64Var(&f.seed, "seed", 0, "the scenario's schedule: 0 takes every decision's tamest choice, another seed draws them")
	fs.IntVar(&f.parallel, "parallel", runtime.GOMAXPROCS(0), "points run at once")
	fs.BoolVar(&f.json, "json", false, "print one JSON line per point, then a JSON summary (nothing else on stdout)")
	fs.BoolVar(&f.verbose, "v", false, "with -point: print the readable trace")
	fs.StringVar(&f.canary, "canary", "", "run with a deliberate bug (needs a binary built with -tags canary)")
	variant := fs.String("variant", "", "change the scenario (comma-separated; default none): "+explore.VariantNames()+
		" (empty fronts on every second message, ms_crc_data or ms_crc_header off, cephx with signed sessions,"+
		" 1-byte messages, a burst of three priorities, a connector slower to time out than the acceptor, a keepalive before the first message,"+
		" long middles, data crcs per chunk, a message throttle of one, small data sections, a connector that loses power and restarts at its address,"+
		" the acceptor's first three handshakes cut after the cephx challenge, no connection limit)")
	if err := parseFlags(fs, exploreUsage, args, stdout); err != nil {
		return nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	if err := selectCanary(f.canary, given["canary"]); err != nil {
		return nil, err
	}
	var err error
	if f.variant, err = explore.ParseVariant(*variant); err != nil {
		return nil, fmt.Errorf("-variant: %w", err)
	}
	if f.policies, err = parsePolicies(*policy); err != nil {
		return nil, err
	}
	if f.rounds < 1 || f.rounds > 100 {
		return nil, errors.New("-rounds must be in [1,100]")
	}
	if f.parallel < 1 || f.parallel > 1024 {
		return nil, errors.New("-parallel must be in [1,1024]")
	}
	if f.verbose && f.point == "" {
		return nil, errors.New("-v needs -point")
	}
	return f, nil
}

func policyNames() string {
	var names []string
	for _, p := range explore.Policies {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

func parsePolicies(s string) ([]explore.Policy, error) {
	if s == "all" {
		return explore.Policies, nil
	}
	var out []explore.Policy
	for _, name := range strings.Split(s, ",") {
		p, ok := explore.PolicyNamed(name)
		if !ok {
			return nil, fmt.Errorf("-policy: unknown policy %q (all, or %s)", name, policyNames())
		}
		out = append(out, p)
	}
	return out, nil
}

func exploreCmd(args []string, stdout, stderr io.Writer) int {
	f, err := parseExplore(args, stdout)
	if err != nil {
		return usageError("explore", err, stderr)
	}
	if f.point != "" {
		return f.replay(stdout, stderr)
	}
	start := time.Now()
	var results []pointResult
	for _, pol := range f.policies {
		results = append(results, f.explorePolicy(pol)...)
	}
	sum := summarize(results, f, time.Since(start))
	if f.json {
		enc := json.NewEncoder(stdout)
		for _, r := range results {
			_ = enc.Encode(r)
		}
		_ = enc.Encode(sum)
	} else {
		printTable(stdout, results, f)
		printSummary(stdout, sum)
	}
	if sum.Failed > 0 {
		return 1
	}
	return 0
}

// pointResult is one explored run, as -json prints it.
type pointResult struct {
	Policy     string   `json:"policy"`
	Point      string   `json:"point"`
	Result     string   `json:"result"` // pass, fail, or unreached (a point of the run never fired)
	Violations []string `json:"violations"`
	Resets     int      `json:"session_resets"`
	VirtualMs  float64  `json:"virtual_ms"`
	Steps      uint64   `json:"steps"`
	TraceHash  string   `json:"trace_hash"`
	Replay     string   `json:"replay"`

	points []explore.Point
	detail string
}

func newPointResult(r explore.Result, seed uint64, v explore.Variant) pointResult {
	var names []string
	for _, p := range r.Points {
		names = append(names, p.String())
	}
	pr := pointResult{Policy: r.Policy, Point: strings.Join(names, ","), Result: "pass", Violations: []string{},
		Resets: r.Resets, VirtualMs: float64(r.Virtual) / 1e6, Steps: r.Steps,
		TraceHash: fmt.Sprintf("%016x", r.TraceHash), points: r.Points}
	for _, v := range r.Violations {
		pr.Violations = append(pr.Violations, v.Name)
	}
	switch {
	case !r.Pass:
		pr.Result = "fail"
		pr.detail = r.Violations[0].String()
	case !r.AllFired():
		pr.Result = "unreached"
	}
	pr.Replay = fmt.Sprintf("msgr-sim explore -policy %s -point %s -v", r.Policy, pr.Point)
	if seed != 0 {
		pr.Replay += fmt.Sprintf(" -seed %d", seed)
	}
	if v != (explore.Variant{}) {
		pr.Replay += " -variant " + v.String()
	}
	pr.Replay += canaryArg()
	return pr
}

// explorePolicy runs every point of pol (and, with -pairs, every pair), in parallel.
func (f *exploreFlags) explorePolicy(pol explore.Policy) []pointResult {
	points, _ := explore.EnumerateVariant(pol, f.rounds, f.seed, f.variant)
	singles := runAll(pol, f.seed, f.parallel, onePerRun(points), f.variant)
	results := make([]pointResult, len(singles))
	for i, r := range singles {
		results[i] = newPointResult(r, f.seed, f.variant)
	}
	if !f.pairs {
		return results
	}
	var pairs [][]explore.Point
	for _, r := range singles {
		for _, second := range explore.Seconds(r, f.rounds) {
			pairs = append(pairs, []explore.Point{r.Points[0], second})
		}
	}
	for _, r := range runAll(pol, f.seed, f.parallel, pairs, f.variant) {
		results = append(results, newPointResult(r, f.seed, f.variant))
	}
	return results
}

func onePerRun(points []explore.Point) [][]explore.Point {
	out := make([][]explore.Point, len(points))
	for i, p := range points {
		out[i] = []explore.Point{p}
	}
	return out
}

// runAll runs each set of points under pol, parallel at a time, and returns the results in
// order. Each run is single-threaded and deterministic.
func runAll(pol explore.Policy, seed uint64, parallel int, runs [][]explore.Point, v explore.Variant) []explore.Result {
	out := make([]explore.Result, len(runs))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = explore.Run(explore.Config{Policy: pol, Points: runs[i], Seed: seed, Variant: v})
				out[i].Trace = nil
			}
		}()
	}
	for i := range runs {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// replay runs the -point given, under each policy, and prints the result (and the trace with -v).
func (f *exploreFlags) replay(stdout, stderr io.Writer) int {
	var points []explore.Point
	for _, s := range strings.Split(f.point, ",") {
		p, err := explore.ParsePoint(s)
		if err != nil {
			return usageError("explore", err, stderr)
		}
		points = append(points, p)
	}
	failed := false
	enc := json.NewEncoder(stdout)
	for _, pol := range f.policies {
		r := explore.Run(explore.Config{Policy: pol, Points: points, Seed: f.seed, KeepTrace: f.verbose, Variant: f.variant})
		pr := newPointResult(r, f.seed, f.variant)
		failed = failed || !r.Pass
		if f.json {
			_ = enc.Encode(pr)
			continue
		}
		if f.verbose {
			for _, line := range r.Trace {
				fmt.Fprintln(stdout, line)
			}
		}
		for _, v := range r.Violations {
			fmt.Fprintf(stdout, "VIOLATION %v\n", v)
		}
		fmt.Fprintf(stdout, "%s %s: %s  session resets %d  virtual %v  steps %d  trace %s\n",
			pol.Name, pr.Point, strings.ToUpper(pr.Result), r.Resets, r.Virtual, r.Steps, pr.TraceHash)
	}
	if failed {
		return 1
	}
	return 0
}

// exploreSummary is the last line of explore -json.
type exploreSummary struct {
	Points    int            `json:"points"`
	Passed    int            `json:"passed"`
	Failed    int            `json:"failed"`
	Unreached int            `json:"unreached"`
	Failing   []failingPoint `json:"failing"`
	Policies  []string       `json:"policies"`
	Rounds    int            `json:"rounds"`
	Pairs     bool           `json:"pairs"`
	Seed      uint64         `json:"seed"`
	Variant   string         `json:"variant,omitempty"`
	WallMs    float64        `json:"wall_ms"`
}

type failingPoint struct {
	Policy     string   `json:"policy"`
	Point      string   `json:"point"`
	Violations []string `json:"violations"`
	Replay     string   `json:"replay"`
}

func summarize(results []pointResult, f *exploreFlags, wall time.Duration) exploreSummary {
	s := exploreSummary{Points: len(results), Failing: []failingPoint{}, Rounds: f.rounds, Pairs: f.pairs,
		Seed: f.seed, Variant: f.variant.String(), WallMs: float64(wall.Microseconds()) / 1e3}
	for _, p := range f.policies {
		s.Policies = append(s.Policies, p.Name)
	}
	for _, r := range results {
		switch r.Result {
		case "fail":
			s.Failed++
			s.Failing = append(s.Failing, failingPoint{Policy: r.Policy, Point: r.Point, Violations: r.Violations, Replay: r.Replay})
		case "unreached":
			s.Unreached++
		default:
			s.Passed++
		}
	}
	return s
}
