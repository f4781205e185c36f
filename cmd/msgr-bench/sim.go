//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"sort"
	"time"

	"github.com/msgrsim/msgrsim/sim"
)

// simFlags are the flags of the sim subcommand.
type simFlags struct {
	seeds, first, messages, steadySeeds int
	json                                bool
}

// simReport is what the sim subcommand measures. Rates are per wall second of one goroutine
// (the simulator runs a whole cluster on one) and per CPU second of the process (which
// includes the garbage collector's work on the other core).
type simReport struct {
	Seeds           int     `json:"seeds"`
	MessagesPerSeed float64 `json:"messages_per_seed"`
	WallSeconds     float64 `json:"wall_seconds"`
	CPUSeconds      float64 `json:"cpu_seconds"`
	SeedsPerMinWall float64 `json:"seeds_per_min_per_core"`
	SeedsPerMinCPU  float64 `json:"seeds_per_min_per_cpu_second"`
	MsgsPerSecWall  float64 `json:"sim_msgs_per_sec"`
	MsgsPerSecCPU   float64 `json:"sim_msgs_per_cpu_sec"`
	StepsPerSec     float64 `json:"steps_per_sec"`
	SeedP50ms       float64 `json:"seed_p50_ms"`
	SeedP99ms       float64 `json:"seed_p99_ms"`
	SeedMaxms       float64 `json:"seed_max_ms"`
	AllocsPerMsg    float64 `json:"allocs_per_msg"`

	Steady steadyReport `json:"steady"`
}

// steadyReport is a scenario with many messages per stream, where the handshakes and the
// shutdown of each seed no longer dominate: the simulator's rate in steady traffic.
type steadyReport struct {
	Seeds          int     `json:"seeds"`
	MessagesPerRun int     `json:"messages_per_stream"`
	Delivered      int     `json:"delivered"`
	WallSeconds    float64 `json:"wall_seconds"`
	MsgsPerSecWall float64 `json:"sim_msgs_per_sec"`
	MsgsPerSecCPU  float64 `json:"sim_msgs_per_cpu_sec"`
}

func parseSimFlags(args []string, stderr io.Writer) (*simFlags, error) {
	f := &simFlags{}
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&f.seeds, "seeds", 200, "default-scenario seeds to run")
	fs.IntVar(&f.first, "first", 1, "first seed")
	fs.IntVar(&f.messages, "messages", 2000, "messages per stream of the steady-traffic scenario")
	fs.IntVar(&f.steadySeeds, "steady-seeds", 3, "seeds of the steady-traffic scenario (0: skip it)")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON on the last line")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if f.seeds < 1 || f.messages < 1 || f.steadySeeds < 0 {
		return nil, errors.New("-seeds and -messages must be positive")
	}
	return f, nil
}

func simCmd(args []string, stdout, stderr io.Writer) int {
	f, err := parseSimFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "msgr-bench sim:", err)
		return 2
	}
	rep, err := measureSim(f)
	if err != nil {
		fmt.Fprintln(stderr, "msgr-bench sim:", err)
		return 1
	}
	printSim(stdout, rep)
	if f.json {
		b, err := json.Marshal(struct {
			Sim simReport `json:"sim"`
		}{rep})
		if err != nil {
			fmt.Fprintln(stderr, "msgr-bench sim:", err)
			return 1
		}
		fmt.Fprintln(stdout, string(b))
	}
	return 0
}

// measureSim runs the default scenario for f.seeds seeds, one after the other on this
// goroutine, then the steady-traffic scenario.
func measureSim(f *simFlags) (simReport, error) {
	var rep simReport
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	allocs0 := ms.Mallocs
	cpu0, wall0 := processCPU(), time.Now()
	per := make([]float64, 0, f.seeds)
	delivered, steps := 0, uint64(0)
	for s := f.first; s < f.first+f.seeds; s++ {
		start := time.Now()
		r := sim.Run(sim.DefaultOptions(uint64(s)))
		per = append(per, float64(time.Since(start))/1e6)
		if !r.Pass {
			return rep, fmt.Errorf("seed %d failed: %v", s, r.Violations)
		}
		delivered += r.Delivered
		steps += r.Steps
	}
	wall, cpu := time.Since(wall0).Seconds(), (processCPU() - cpu0).Seconds()
	runtime.ReadMemStats(&ms)
	rep.Seeds, rep.WallSeconds, rep.CPUSeconds = f.seeds, wall, cpu
	rep.MessagesPerSeed = float64(delivered) / float64(f.seeds)
	rep.SeedsPerMinWall = float64(f.seeds) / wall * 60
	rep.SeedsPerMinCPU = float64(f.seeds) / cpu * 60
	rep.MsgsPerSecWall = float64(delivered) / wall
	rep.MsgsPerSecCPU = float64(delivered) / cpu
	rep.StepsPerSec = float64(steps) / wall
	rep.AllocsPerMsg = float64(ms.Mallocs-allocs0) / float64(delivered)
	sort.Float64s(per)
	rep.SeedP50ms, rep.SeedP99ms, rep.SeedMaxms = per[len(per)/2], per[len(per)*99/100], per[len(per)-1]
	steady, err := measureSteady(f)
	rep.Steady = steady
	return rep, err
}

func measureSteady(f *simFlags) (steadyReport, error) {
	rep := steadyReport{Seeds: f.steadySeeds, MessagesPerRun: f.messages}
	if f.steadySeeds == 0 {
		return rep, nil
	}
	cpu0, wall0 := processCPU(), time.Now()
	for s := range f.steadySeeds {
		o := sim.DefaultOptions(uint64(f.first + s))
		o.Messages = f.messages
		r := sim.Run(o)
		if !r.Pass {
			return rep, fmt.Errorf("steady seed %d failed: %v", o.Seed, r.Violations)
		}
		rep.Delivered += r.Delivered
	}
	rep.WallSeconds = time.Since(wall0).Seconds()
	rep.MsgsPerSecWall = float64(rep.Delivered) / rep.WallSeconds
	rep.MsgsPerSecCPU = float64(rep.Delivered) / (processCPU() - cpu0).Seconds()
	return rep, nil
}

func printSim(w io.Writer, r simReport) {
	fmt.Fprintf(w, "default scenario: %d seeds, %.0f messages each, %.2f s wall, %.2f s cpu\n",
		r.Seeds, r.MessagesPerSeed, r.WallSeconds, r.CPUSeconds)
	fmt.Fprintf(w, "  seeds/min per core   %8.0f   (per cpu-second of the process: %.0f)\n", r.SeedsPerMinWall, r.SeedsPerMinCPU)
	fmt.Fprintf(w, "  simulated msgs/s     %8.0f   (per cpu-second: %.0f)\n", r.MsgsPerSecWall, r.MsgsPerSecCPU)
	fmt.Fprintf(w, "  steps/s              %8.0f\n", r.StepsPerSec)
	fmt.Fprintf(w, "  per seed             p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", r.SeedP50ms, r.SeedP99ms, r.SeedMaxms)
	fmt.Fprintf(w, "  allocations/msg      %8.1f\n", r.AllocsPerMsg)
	if s := r.Steady; s.Seeds > 0 {
		fmt.Fprintf(w, "steady traffic: %d seeds × %d messages per stream, %d delivered in %.2f s: %.0f simulated msgs/s (per cpu-second: %.0f)\n",
			s.Seeds, s.MessagesPerRun, s.Delivered, s.WallSeconds, s.MsgsPerSecWall, s.MsgsPerSecCPU)
	}
}
