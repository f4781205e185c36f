// Command msgr-sim runs seeded, deterministic simulations of Ceph's AsyncMessenger (msgr1)
// over a virtual network. One seed reproduces a run exactly.
//
// Usage:
//
//	msgr-sim run [-seed N] [-faults none|swarm|all|name,…] [-workload small|default|large]
//	             [-osds N] [-clients N] [-messages N] [-check-determinism] [-json] [-v]
//
// Exit status: 0 when the run passed, 1 when an invariant was violated, 2 on a usage error.
package main

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/sim"
)

const usage = `msgr-sim: deterministic simulation of Ceph's AsyncMessenger (msgr1)

Usage:
  msgr-sim run [flags]     run one seeded simulation

Run "msgr-sim run -h" for the flags.
`

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return runCmd(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "msgr-sim: unknown command %q\n%s", args[0], usage)
	return 2
}

type runFlags struct {
	seed        uint64
	seedSet     bool
	json        bool
	verbose     bool
	osds        int
	clients     int
	messages    int
	faults      string
	workload    string
	determinism bool
	set         map[string]bool // flags given explicitly
}

// workloads are the scenario sizes -workload selects (-osds, -clients, -messages override).
var workloads = map[string][3]int{
	"small":   {2, 1, 20},
	"default": {2, 1, 50},
	"large":   {4, 3, 200},
}

func parseRun(args []string, stdout io.Writer) (*runFlags, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := &runFlags{}
	fs.Func("seed", "the seed (default: a random one, printed first)", func(s string) error {
		var err error
		f.seed, err = parseSeed(s)
		f.seedSet = err == nil
		return err
	})
	fs.BoolVar(&f.json, "json", false, "print a JSON summary as the last line")
	fs.BoolVar(&f.verbose, "v", false, "print the readable trace of the run")
	fs.IntVar(&f.osds, "osds", 2, "OSD-like nodes (lossless_peer among themselves)")
	fs.IntVar(&f.clients, "clients", 1, "client nodes (lossy toward the OSDs)")
	fs.IntVar(&f.messages, "messages", 50, "messages each sender queues per stream")
	fs.StringVar(&f.faults, "faults", "swarm", "faults to inject: none, swarm (the seed picks), all, or a list of names")
	fs.StringVar(&f.workload, "workload", "default", "scenario size: small, default or large")
	fs.BoolVar(&f.determinism, "check-determinism", false, "run twice and compare the traces")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintln(stdout, "Usage: msgr-sim run [flags]")
			fs.PrintDefaults()
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	w, ok := workloads[f.workload]
	if !ok {
		return nil, fmt.Errorf("unknown -workload %q: want small, default or large", f.workload)
	}
	if !f.set["osds"] {
		f.osds = w[0]
	}
	if !f.set["clients"] {
		f.clients = w[1]
	}
	if !f.set["messages"] {
		f.messages = w[2]
	}
	if _, err := sim.ParseFaults(f.faults, detrand.NewSeeded(0)); err != nil {
		return nil, err
	}
	if f.osds < 1 || f.osds > 200 || f.clients < 0 || f.clients > 200 || f.messages < 0 {
		return nil, errors.New("-osds must be in [1,200], -clients in [0,200], -messages >= 0")
	}
	return f, nil
}

func parseSeed(s string) (uint64, error) {
	var v uint64
	_, err := fmt.Sscan(s, &v)
	if err != nil || strings.TrimSpace(s) != fmt.Sprint(v) {
		return 0, fmt.Errorf("bad seed %q: want an unsigned 64-bit integer", s)
	}
	return v, nil
}

func randomSeed() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return uint64(time.Now().UnixNano())
	}
	return binary.LittleEndian.Uint64(b[:]) >> 1
}

func runCmd(args []string, stdout, stderr io.Writer) int {
	f, err := parseRun(args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "msgr-sim run: %v\n", err)
		return 2
	}
	if !f.seedSet {
		f.seed = randomSeed()
		fmt.Fprintf(stdout, "seed %d\n", f.seed)
	}
	opts := sim.DefaultOptions(f.seed)
	opts.OSDs, opts.Clients, opts.Messages, opts.KeepTrace = f.osds, f.clients, f.messages, f.verbose
	faults, _ := sim.ParseFaults(f.faults, detrand.NewSeeded(f.seed))
	opts.Faults = &faults
	fmt.Fprintf(stdout, "seed %d  workload %d osds, %d clients, %d messages per stream  faults %v\n",
		f.seed, f.osds, f.clients, f.messages, faults)
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
			fmt.Fprintf(stdout, "NONDETERMINISM: %v", div)
			return 1
		}
		fmt.Fprintf(stdout, "deterministic: two runs gave trace %016x\n", r.TraceHash)
	}
	if f.verbose {
		for _, l := range r.Trace {
			fmt.Fprintln(stdout, l)
		}
	}
	printHuman(stdout, r, wall, f)
	if f.json {
		printJSON(stdout, r, wall)
	}
	if !r.Pass {
		return 1
	}
	return 0
}

// reproduce is the command line that replays this run exactly (non-default flags only).
func reproduce(f *runFlags) string {
	cmd := fmt.Sprintf("msgr-sim run -seed %d", f.seed)
	if f.faults != "swarm" {
		cmd += fmt.Sprintf(" -faults %s", f.faults)
	}
	if f.workload != "default" {
		cmd += " -workload " + f.workload
	}
	for _, fl := range []struct {
		name string
		v    int
	}{{"osds", f.osds}, {"clients", f.clients}, {"messages", f.messages}} {
		if f.set[fl.name] {
			cmd += fmt.Sprintf(" -%s %d", fl.name, fl.v)
		}
	}
	return cmd
}

func printHuman(w io.Writer, r sim.Result, wall time.Duration, f *runFlags) {
	fmt.Fprintln(w, r.String())
	fmt.Fprintf(w, "phase reached: %s; faults injected:", r.Phase)
	for i, n := range r.Stats.Injected {
		if n > 0 {
			fmt.Fprintf(w, " %v=%d", sim.Fault(i), n)
		}
	}
	fmt.Fprintf(w, "\nconnection faults %d, session resets %d, reconnects %d, crashes %d, bytes corrupted %d\n",
		r.Stats.ConnFaults, r.Stats.SessionResets, r.Stats.Reconnects, r.Stats.Crashes, r.Stats.BytesCorrupted)
	fmt.Fprint(w, r.Summary)
	for _, v := range r.Violations {
		fmt.Fprintf(w, "  VIOLATION at %v: %s\n", time.Duration(v.AtNs), v)
	}
	fmt.Fprintf(w, "wall %v\nreproduce: %s\n", wall.Round(time.Millisecond), reproduce(f))
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
	Injected       map[string]int  `json:"injected"`
	Resets         int             `json:"resets"`
	Reconnects     int             `json:"reconnects"`
	BytesCorrupted int             `json:"bytes_corrupted"`
	Crashes        int             `json:"crashes"`
	PhaseReached   string          `json:"phase_reached"`
	Violations     []sim.Violation `json:"violations"`
}

func printJSON(w io.Writer, r sim.Result, wall time.Duration) {
	j := jsonResult{
		Seed: r.Seed, Result: "pass", TraceHash: fmt.Sprintf("%016x", r.TraceHash), Sent: r.Sent,
		Delivered: r.Delivered, VirtualMs: float64(r.VirtualTime) / 1e6, WallMs: float64(wall) / 1e6,
		Steps: r.Steps, Violations: r.Violations, Faults: r.Faults.Names(), Injected: map[string]int{},
		Resets: r.Stats.SessionResets, Reconnects: r.Stats.Reconnects, BytesCorrupted: r.Stats.BytesCorrupted,
		Crashes: r.Stats.Crashes, PhaseReached: r.Phase,
	}
	if j.Faults == nil {
		j.Faults = []string{}
	}
	for i, n := range r.Stats.Injected {
		j.Injected[sim.Fault(i).String()] = n
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
