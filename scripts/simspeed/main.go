// Command simspeed measures the simulator's speed in two builds of the module side by side:
// a base commit and the working tree. scripts/simspeed.sh runs it; see BENCHMARKS.md.
//
// Without -measure it is the driver: it checks BASE out into a temporary git worktree, copies
// this file into it, builds this command in both trees, then runs the two binaries in
// interleaved rounds (the order alternating every round, each measurement its own process)
// and prints, per metric, the ratio working tree / base: median [min, max] over the rounds.
//
// With -measure KIND it is one measurement of the build it was compiled in (GOMAXPROCS 1, a
// warm-up unit first), printing one line of JSON. Rates are per CPU-second of the process
// (user + system, so the garbage collector counts), which pairs better than wall time on a
// shared machine. It uses only APIs the base commit has.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/fuzz/simfuzz"
	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/sim"
)

// pair is one round's measurements of a kind in the two builds.
type pair struct{ base, new measurement }

// measurement is what one -measure run prints.
type measurement struct {
	Kind     string  `json:"kind"`
	Units    int     `json:"units"`    // seeds or fuzz inputs run
	Messages int     `json:"messages"` // simulated messages delivered
	CPU      float64 `json:"cpu_s"`    // user + system seconds
	Wall     float64 `json:"wall_s"`
	Mallocs  uint64  `json:"mallocs"`
	Failed   int     `json:"failed"` // runs that did not pass (should be 0)
}

// kinds, in the order they are printed: the unit the rate counts and how many units a
// measurement runs (times -scale).
var kinds = []struct {
	name, unit string
	n          int
}{
	{"default", "msgs", 100},
	{"steady", "msgs", 3},
	{"cluster", "seeds", 8},
	{"fuzz", "execs", 250},
}

func main() {
	measure := flag.String("measure", "", "measure one kind in this build: default, steady, cluster or fuzz")
	n := flag.Int("n", 0, "units to run with -measure")
	base := flag.String("base", "", "base commit to compare the working tree against")
	rounds := flag.Int("rounds", 3, "interleaved rounds")
	scale := flag.Float64("scale", 1, "multiply every measurement's work")
	only := flag.String("kinds", "", "comma-separated kinds to measure (default all)")
	flag.Parse()
	if *measure != "" {
		m := run(*measure, *n)
		if err := json.NewEncoder(os.Stdout).Encode(m); err != nil {
			fail(err)
		}
		return
	}
	if *base == "" {
		fail(fmt.Errorf("usage: simspeed -base COMMIT [-rounds N] [-scale F] [-kinds default,steady,cluster,fuzz]"))
	}
	drive(*base, *rounds, *scale, *only)
}

// atExit, when set, removes the driver's temporary base worktree: fail runs it too.
var atExit func()

func fail(err error) {
	fmt.Fprintln(os.Stderr, "simspeed:", err)
	if f := atExit; f != nil {
		atExit = nil // (a failure while cleaning up exits)
		f()
	}
	os.Exit(1)
}

// fuzzInputs is a fixed set of FuzzSim inputs: its seeds and pseudo-random inputs of 0-1 KiB.
func fuzzInputs() [][]byte {
	in, err := simfuzz.Seeds()
	if err != nil {
		fail(err)
	}
	r := rand.New(rand.NewPCG(18, 6))
	for range 40 {
		b := make([]byte, r.IntN(simfuzz.MaxInput+1))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		in = append(in, b)
	}
	return in
}

// unit runs the i-th unit of kind and returns the messages it delivered and whether it passed.
func unit(kind string, i int, inputs [][]byte) (int, bool) {
	seed := uint64(i + 1)
	switch kind {
	case "default":
		r := sim.Run(sim.DefaultOptions(seed))
		return r.Delivered, r.Pass
	case "steady":
		o := sim.DefaultOptions(seed%3 + 1)
		o.Messages = 2000
		r := sim.Run(o)
		return r.Delivered, r.Pass
	case "cluster":
		o := sim.DefaultOptions(seed)
		o.OSDs, o.Clients, o.Messages, o.Workload = 3, 2, 50, sim.WorkloadCluster
		f, err := sim.ParseFaults("swarm", detrand.NewSeeded(seed))
		if err != nil {
			fail(err)
		}
		o.Faults = &f
		r := sim.Run(o)
		return r.Delivered, r.Pass
	case "fuzz":
		return 0, simfuzz.Check(inputs[i%len(inputs)]) == nil
	}
	fail(fmt.Errorf("unknown kind %q", kind))
	return 0, false
}

func run(kind string, n int) measurement {
	runtime.GOMAXPROCS(1)
	var inputs [][]byte
	if kind == "fuzz" {
		inputs = fuzzInputs()
		os.Setenv(simfuzz.TapeDirEnv, os.TempDir())
	}
	unit(kind, n, inputs) // warm-up, not counted (a unit outside the measured ones)
	runtime.GC()
	m := measurement{Kind: kind, Units: n}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	c0, w0 := cpuSeconds(), time.Now()
	for i := range n {
		d, ok := unit(kind, i, inputs)
		m.Messages += d
		if !ok {
			m.Failed++
		}
	}
	m.CPU, m.Wall = cpuSeconds()-c0, time.Since(w0).Seconds()
	runtime.ReadMemStats(&ms1)
	m.Mallocs = ms1.Mallocs - ms0.Mallocs
	return m
}

func sh(dir, name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fail(fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err))
	}
}

func output(dir, name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		fail(fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err))
	}
	return strings.TrimSpace(string(out))
}

func drive(base string, rounds int, scale float64, only string) {
	top := output(".", "git", "rev-parse", "--show-toplevel")
	tmp, err := os.MkdirTemp("", "simspeed-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	baseTree := filepath.Join(tmp, "base")
	sh(top, "git", "worktree", "add", "--detach", "-q", baseTree, base)
	atExit = func() { sh(top, "git", "worktree", "remove", "--force", baseTree); os.RemoveAll(tmp) }
	defer func() {
		if f := atExit; f != nil {
			atExit = nil
			f()
		}
	}()
	// This command's files (main.go and the CPU-time helpers) replace the base's.
	if err := os.MkdirAll(filepath.Join(baseTree, "scripts", "simspeed"), 0o755); err != nil {
		fail(err)
	}
	files, err := filepath.Glob(filepath.Join(top, "scripts", "simspeed", "*.go"))
	if err != nil {
		fail(err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			fail(err)
		}
		if err := os.WriteFile(filepath.Join(baseTree, "scripts", "simspeed", filepath.Base(f)), src, 0o644); err != nil {
			fail(err)
		}
	}
	bins := [2]string{filepath.Join(tmp, "simspeed-base"), filepath.Join(tmp, "simspeed-new")}
	sh(baseTree, "go", "build", "-o", bins[0], "./scripts/simspeed")
	sh(top, "go", "build", "-o", bins[1], "./scripts/simspeed")
	head := output(top, "git", "rev-parse", "--short", "HEAD")
	dirty := ""
	if output(top, "git", "status", "--porcelain", "--untracked-files=no") != "" {
		dirty = " (with uncommitted changes)"
	}
	fmt.Printf("simspeed: base %s, new %s%s, %d rounds, scale %g, GOMAXPROCS 1 per measurement\n",
		output(top, "git", "rev-parse", "--short", base), head, dirty, rounds, scale)

	results := map[string][]pair{}
	for r := range rounds {
		for _, k := range kinds {
			if only != "" && !slices.Contains(strings.Split(only, ","), k.name) {
				continue
			}
			n := max(1, int(float64(k.n)*scale))
			var p [2]measurement
			order := []int{0, 1}
			if r%2 == 1 {
				order = []int{1, 0}
			}
			for _, b := range order {
				out := output(top, bins[b], "-measure", k.name, "-n", fmt.Sprint(n))
				if err := json.Unmarshal([]byte(out), &p[b]); err != nil {
					fail(fmt.Errorf("%s: %w", out, err))
				}
			}
			results[k.name] = append(results[k.name], pair{p[0], p[1]})
			fmt.Fprintf(os.Stderr, "round %d %-8s base %.2fs cpu, new %.2fs cpu\n", r+1, k.name, p[0].CPU, p[1].CPU)
		}
	}
	fmt.Printf("%-40s %14s %14s %22s\n", "metric (per CPU-second, one core)", "base", "new", "new/base")
	for _, k := range kinds {
		ps := results[k.name]
		if len(ps) == 0 {
			continue
		}
		rate := func(m measurement) float64 {
			if k.unit == "msgs" {
				return float64(m.Messages) / m.CPU
			}
			return float64(m.Units) / m.CPU
		}
		label := map[string]string{"default": "simulated msgs/s, default scenario",
			"steady": "simulated msgs/s, steady traffic", "cluster": "cluster-workload seeds/s (swarm faults)",
			"fuzz": "FuzzSim executions/s (simfuzz.Check)"}[k.name]
		row(label, ps, func(p pair) (float64, float64) { return rate(p.base), rate(p.new) })
		if k.unit == "msgs" {
			row("  allocations per simulated msg", ps, func(p pair) (float64, float64) {
				return float64(p.base.Mallocs) / float64(p.base.Messages), float64(p.new.Mallocs) / float64(p.new.Messages)
			})
		}
		failed := 0
		for _, p := range ps {
			failed += p.base.Failed + p.new.Failed
		}
		if failed > 0 {
			fmt.Printf("  WARNING: %d %s runs did not pass\n", failed, k.name)
		}
	}
}

// row prints a metric's medians and the paired ratio new/base: median [min, max] over rounds.
func row(label string, ps []pair, f func(pair) (float64, float64)) {
	var bs, ns, rs []float64
	for _, p := range ps {
		b, n := f(p)
		bs, ns, rs = append(bs, b), append(ns, n), append(rs, n/b)
	}
	fmt.Printf("%-40s %14s %14s %8.2fx [%.2f, %.2f]\n", label, num(median(bs)), num(median(ns)),
		median(rs), slices.Min(rs), slices.Max(rs))
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func num(x float64) string {
	switch {
	case x >= 10000:
		return fmt.Sprintf("%.1fk", x/1000)
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.2f", x)
}
