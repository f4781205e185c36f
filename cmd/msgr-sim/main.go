// Command msgr-sim runs seeded, deterministic simulations of Ceph's AsyncMessenger (msgr1)
// over a virtual network. One seed reproduces a run exactly.
//
// Usage:
//
//	msgr-sim run [-seed N] [-json] [-v] [-osds N] [-clients N] [-messages N]
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
	seed     uint64
	seedSet  bool
	json     bool
	verbose  bool
	osds     int
	clients  int
	messages int
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
	start := time.Now()
	opts := sim.DefaultOptions(f.seed)
	opts.OSDs, opts.Clients, opts.Messages, opts.KeepTrace = f.osds, f.clients, f.messages, f.verbose
	r := sim.Run(opts)
	wall := time.Since(start)
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

func reproduce(f *runFlags) string {
	cmd := fmt.Sprintf("msgr-sim run -seed %d", f.seed)
	if f.osds != 2 {
		cmd += fmt.Sprintf(" -osds %d", f.osds)
	}
	if f.clients != 1 {
		cmd += fmt.Sprintf(" -clients %d", f.clients)
	}
	if f.messages != 50 {
		cmd += fmt.Sprintf(" -messages %d", f.messages)
	}
	return cmd
}

func printHuman(w io.Writer, r sim.Result, wall time.Duration, f *runFlags) {
	fmt.Fprintln(w, r.String())
	fmt.Fprint(w, r.Summary)
	for _, v := range r.Violations {
		fmt.Fprintf(w, "  VIOLATION at %v: %s\n", time.Duration(v.AtNs), v)
	}
	fmt.Fprintf(w, "wall %v\nreproduce: %s\n", wall.Round(time.Millisecond), reproduce(f))
}

type jsonResult struct {
	Seed       uint64          `json:"seed"`
	Result     string          `json:"result"`
	TraceHash  string          `json:"trace_hash"`
	Sent       int             `json:"sent"`
	Delivered  int             `json:"delivered"`
	VirtualMs  float64         `json:"virtual_ms"`
	WallMs     float64         `json:"wall_ms"`
	Steps      uint64          `json:"steps"`
	Violations []sim.Violation `json:"violations"`
}

func printJSON(w io.Writer, r sim.Result, wall time.Duration) {
	j := jsonResult{
		Seed: r.Seed, Result: "pass", TraceHash: fmt.Sprintf("%016x", r.TraceHash), Sent: r.Sent,
		Delivered: r.Delivered, VirtualMs: float64(r.VirtualTime) / 1e6, WallMs: float64(wall) / 1e6,
		Steps: r.Steps, Violations: r.Violations,
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
