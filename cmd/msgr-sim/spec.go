package main

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/internal/canary"
	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/sim"
	"github.com/msgrsim/msgrsim/workload/synthetic"
)

// scenarioFlags are the flags every command that builds runs from seeds shares: the scenario
// and the fault mix.
type scenarioFlags struct {
	osds, clients, messages int
	faults                  string
	workload                string
	preset                  string        // -workload synthetic: Ceph's test to run ("": drawn from the seed)
	auth                    string        // -auth: none or cephx (cluster workloads)
	canary                  string        // -canary: the deliberate bug to run with (internal/canary)
	maxSteps                uint64        // -max-steps: the budget of steps of each run
	maxWall                 time.Duration // -max-wall: the budget of wall time of each run
	noSwarm                 bool          // -swarm=false: the seed draws no configuration (the swarm is on by default)
	artifacts
	set map[string]bool // flags given explicitly
}

// Default budgets of one run: far above what passing runs take (the large workload's take up
// to ~400k steps, a few seconds), far below what a runaway broken build would eat (the phase
// bound of 5M steps took ~30 s and ~3 GB).
const (
	defaultMaxSteps = 2_000_000
	defaultMaxWall  = 5 * time.Minute
)

// workloads are the scenario sizes -workload selects (-osds, -clients, -messages override).
var workloads = map[string][3]int{
	"small":   {2, 1, 20},
	"default": {2, 1, 50},
	"cluster": {3, 2, 50},
	"large":   {4, 3, 200},
}

// clusterWorkloads run sim.WorkloadCluster (the Ceph-shaped cluster: a monitor, OSDs with six
// messengers, key-value clients); the others the default scenario. For them -messages is the
// operations each client runs.
var clusterWorkloads = map[string]bool{"cluster": true, "large": true}

func (sf *scenarioFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&sf.osds, "osds", 2, "OSD-like nodes (lossless_peer among themselves)")
	fs.IntVar(&sf.clients, "clients", 1, "client nodes (lossy toward the OSDs)")
	fs.IntVar(&sf.messages, "messages", 50, "messages each sender queues per stream")
	fs.StringVar(&sf.faults, "faults", "swarm", "faults to inject: none, swarm (the seed picks), all, or a list of names")
	fs.StringVar(&sf.workload, "workload", "default",
		"small or default (OSDs and clients exchanging messages); cluster or large (the Ceph-shaped cluster: mon, OSDs, KV clients); synthetic (Ceph's SyntheticWorkload)")
	fs.StringVar(&sf.preset, "preset", "", "with -workload synthetic: Ceph's test to run, scaled down ("+
		strings.Join(synthetic.PresetNames(), ", ")+"; default: drawn from the seed)")
	fs.StringVar(&sf.auth, "auth", "none", "authentication: none, or cephx (with -workload cluster or large: keys from the seed, "+
		"an in-process monitor, authorizers with the challenge round, signed sessions to OSDs, short tickets, secret rotation)")
	fs.StringVar(&sf.canary, "canary", "", "run with a deliberate bug, to see the checkers catch it: "+canary.Names()+
		" (needs a binary built with -tags canary; default: $"+canary.EnvVar+")")
	fs.Uint64Var(&sf.maxSteps, "max-steps", defaultMaxSteps,
		"budget of scheduling steps per run: a run past it ends as budget-exceeded (deterministic: the same run stops at the same step)")
	fs.DurationVar(&sf.maxWall, "max-wall", defaultMaxWall,
		"budget of wall time per run: a run past it ends as budget-exceeded (NOT deterministic: depends on the machine; tapes never expect it)")
	fs.BoolFunc("swarm", "configuration swarm, on by default (-swarm=false: Ceph's defaults everywhere): the seed also draws the messengers' configuration (feature bits per node, prefetch buffer, workers, throttles, timeouts, backoff, keepalives, message sizes and priorities; each knob keeps its default half the time)",
		func(v string) error {
			on, err := strconv.ParseBool(v)
			sf.noSwarm = !on
			return err
		})
	sf.artifacts.register(fs)
}

// finish applies -workload and checks the values, after parsing.
func (sf *scenarioFlags) finish(fs *flag.FlagSet) error {
	sf.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { sf.set[fl.Name] = true })
	if err := selectCanary(sf.canary, sf.set["canary"]); err != nil {
		return err
	}
	if !sf.set["max-steps"] && sf.maxSteps == 0 {
		sf.maxSteps = defaultMaxSteps // flags not registered (tests build scenarioFlags directly)
	}
	if !sf.set["max-wall"] && sf.maxWall == 0 {
		sf.maxWall = defaultMaxWall
	}
	if sf.maxSteps == 0 || sf.maxWall <= 0 {
		return errors.New("-max-steps and -max-wall must be positive")
	}
	switch sf.auth {
	case "", sim.AuthNone:
		sf.auth = sim.AuthNone
	case sim.AuthCephx:
		if !clusterWorkloads[sf.workload] {
			return errors.New("-auth cephx needs -workload cluster or large")
		}
	default:
		return fmt.Errorf("unknown -auth %q: want none or cephx", sf.auth)
	}
	if sf.workload == sim.WorkloadSynthetic {
		return sf.finishSynthetic()
	}
	if sf.preset != "" {
		return errors.New("-preset needs -workload synthetic")
	}
	w, ok := workloads[sf.workload]
	if !ok {
		return fmt.Errorf("unknown -workload %q: want small, default, cluster, large or synthetic", sf.workload)
	}
	if !sf.set["osds"] {
		sf.osds = w[0]
	}
	if !sf.set["clients"] {
		sf.clients = w[1]
	}
	if !sf.set["messages"] {
		sf.messages = w[2]
	}
	if _, err := sim.ParseFaults(sf.faults, detrand.NewSeeded(0)); err != nil {
		return err
	}
	if sf.osds < 1 || sf.osds > 200 || sf.clients < 0 || sf.clients > 200 || sf.messages < 0 || sf.messages > 100_000 {
		return errors.New("-osds must be in [1,200], -clients in [0,200], -messages in [0,100000]")
	}
	return nil
}

// options builds the run of seed.
func (sf *scenarioFlags) options(seed uint64) sim.Options {
	opts := sim.DefaultOptions(seed)
	opts.OSDs, opts.Clients, opts.Messages = sf.osds, sf.clients, sf.messages
	opts.NoSwarm = sf.noSwarm
	switch {
	case clusterWorkloads[sf.workload]:
		opts.Workload = sim.WorkloadCluster
		if sf.auth == sim.AuthCephx {
			opts.Auth = sim.AuthCephx
		}
	case sf.workload == sim.WorkloadSynthetic:
		sf.syntheticOptions(&opts)
	}
	faults, _ := sim.ParseFaultsFor(sf.faults, detrand.NewSeeded(seed), opts.Auth)
	opts.Faults = &faults
	sf.budget(&opts)
	return opts.WithDefaults()
}

// budget applies the step budget (unless opts has one: a tape's), the wall-time budget from
// now, and where porcupine's pages go.
func (sf *scenarioFlags) budget(opts *sim.Options) {
	if opts.StepBudget == 0 || sf.set["max-steps"] {
		opts.StepBudget = sf.maxSteps
	}
	if sf.maxWall > 0 {
		deadline := time.Now().Add(sf.maxWall)
		opts.Abort = func() bool { return time.Now().After(deadline) }
	}
	if sf.artifacts.created != "" {
		opts.VisualizeDir = sf.artifacts.created
		w := opts.Workload
		if w == "" {
			w = sim.WorkloadDefault
		}
		opts.VisualizeName = artifactStem(opts.Seed, w)
	}
}

// args renders the non-default scenario flags, for reproduce lines.
func (sf *scenarioFlags) args() string {
	var b strings.Builder
	if sf.faults != "swarm" {
		fmt.Fprintf(&b, " -faults %s", sf.faults)
	}
	if sf.workload != "default" {
		fmt.Fprintf(&b, " -workload %s", sf.workload)
	}
	if sf.preset != "" {
		fmt.Fprintf(&b, " -preset %s", sf.preset)
	}
	if sf.noSwarm {
		b.WriteString(" -swarm=false")
	}
	if sf.auth == sim.AuthCephx {
		b.WriteString(" -auth cephx")
	}
	for _, fl := range []struct {
		name string
		v    int
	}{{"osds", sf.osds}, {"clients", sf.clients}, {"messages", sf.messages}} {
		if sf.set[fl.name] {
			fmt.Fprintf(&b, " -%s %d", fl.name, fl.v)
		}
	}
	return b.String() + sf.budgetArg() + canaryArg()
}

// budgetArg is -max-steps when it was given: a run's outcome can depend on it.
func (sf *scenarioFlags) budgetArg() string {
	if sf.set["max-steps"] {
		return fmt.Sprintf(" -max-steps %d", sf.maxSteps)
	}
	return ""
}

// selectCanary selects the canary -canary names, when given.
func selectCanary(name string, given bool) error {
	if !given {
		return nil
	}
	if !canary.Enabled {
		return errors.New("-canary needs a binary built with -tags canary (go run -tags canary ./cmd/msgr-sim ...)")
	}
	k, err := canary.Parse(name)
	if err != nil {
		return fmt.Errorf("-canary: %w", err)
	}
	canary.Set(k)
	return nil
}

// canaryArg is the -canary flag of the canary in force (selected by -canary or $MSGRSIM_CANARY)
// for reproduce lines, or "" when none is: the runs depend on it.
func canaryArg() string {
	if k := canary.Selected(); k != canary.None {
		return " -canary " + k.String()
	}
	return ""
}

// describe is the configuration line printed before a run.
func describe(opts sim.Options) string {
	return describeWorkload(opts) + describeKnobs(opts)
}

func describeWorkload(opts sim.Options) string {
	if opts.Workload == sim.WorkloadSynthetic {
		return describeSynthetic(opts)
	}
	if opts.Workload == sim.WorkloadCluster {
		auth := ""
		if opts.Auth == sim.AuthCephx {
			auth = "  auth cephx"
		}
		return fmt.Sprintf("seed %d  workload cluster: 1 mon, %d osds, %d clients × %d operations%s  faults %v",
			opts.Seed, max(opts.OSDs, 2), max(opts.Clients, 1), opts.Messages, auth, *opts.Faults)
	}
	return fmt.Sprintf("seed %d  workload %d osds, %d clients, %d messages per stream  faults %v",
		opts.Seed, opts.OSDs, opts.Clients, opts.Messages, *opts.Faults)
}

// describeKnobs is the configuration part of the line: "  knobs ..." unless the swarm is off
// and the run has no knobs of its own (a tape's).
func describeKnobs(opts sim.Options) string {
	if opts.NoSwarm && opts.Knobs == nil {
		return ""
	}
	return "  knobs " + opts.RunKnobs().String()
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

// source is where replay, shrink and timeline take their run from: a seed (with the scenario
// flags) or a tape file.
type source struct {
	scenarioFlags
	seed    uint64
	seedSet bool
	tape    string
}

func (src *source) register(fs *flag.FlagSet) {
	src.scenarioFlags.register(fs)
	fs.Func("seed", "the seed of the run", func(s string) error {
		var err error
		src.seed, err = parseSeed(s)
		src.seedSet = err == nil
		return err
	})
	fs.StringVar(&src.tape, "tape", "", "a tape file (from shrink, a sweep, or a fuzzer) instead of -seed")
}

func (src *source) finish(fs *flag.FlagSet) error {
	if err := src.scenarioFlags.finish(fs); err != nil {
		return err
	}
	switch {
	case src.seedSet == (src.tape != ""):
		return errors.New("give exactly one of -seed and -tape")
	case src.tape != "":
		for _, f := range []string{"osds", "clients", "messages", "faults", "workload", "auth"} {
			if src.set[f] {
				return fmt.Errorf("-%s does not apply to a tape (the tape says it)", f)
			}
		}
	}
	return nil
}

// load returns the run as a tape: read from the file, or recorded from the seed's run.
func (src *source) load() (sim.Tape, string, error) {
	if src.tape != "" {
		f, err := openTape(src.tape)
		if err != nil {
			return sim.Tape{}, "", err
		}
		defer f.Close()
		t, err := sim.ReadTape(f)
		if err != nil {
			return sim.Tape{}, "", usageErrorf("%s: %w", src.tape, err)
		}
		if src.set["max-steps"] {
			t.StepBudget = src.maxSteps
		}
		return t, "-tape " + src.tape + src.budgetArg() + canaryArg(), nil
	}
	t, _ := sim.TapeOf(src.options(src.seed))
	return t, fmt.Sprintf("-seed %d%s", src.seed, src.args()), nil
}

// tapeOptions are the options that replay t under the command's budgets: the tape's step
// budget (or -max-steps, or the default), the wall-time budget, the artifacts directory.
func (src *source) tapeOptions(t sim.Tape) sim.Options {
	opts := t.Options()
	src.budget(&opts)
	return opts
}

// parseFlags parses args with fs, printing usage for -h; extra arguments are an error.
func parseFlags(fs *flag.FlagSet, usage string, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintln(stdout, usage)
			fs.PrintDefaults()
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// usageError reports a bad command line: one line on stderr, exit status 2 (0 for -h).
func usageError(cmd string, err error, stderr io.Writer) int {
	if !errors.Is(err, flag.ErrHelp) {
		err = &exitError{exitUsage, err}
	}
	return fail(cmd, err, stderr)
}
