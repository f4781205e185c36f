package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/sim"
)

func shrinkCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("shrink", flag.ContinueOnError)
	var src source
	src.register(fs)
	out := fs.String("o", "", "write the shrunk tape to this file (required)")
	target := fs.String("target", "", "the violation to keep (default: a tape's expected one, else the first one of the run)")
	maxRuns := fs.Int("max-runs", 20_000, "replays the shrinker may perform")
	timeout := fs.Duration("timeout", 10*time.Minute, "wall time the shrinker may take")
	quiet := fs.Bool("q", false, "do not print each step")
	if err := parseFlags(fs, "Usage: msgr-sim shrink -seed N [scenario flags] | -tape FILE -o OUT [flags]", args, stdout); err != nil {
		return usageError("shrink", err, stderr)
	}
	if err := src.finish(fs); err != nil {
		return usageError("shrink", err, stderr)
	}
	if *out == "" {
		return usageError("shrink", errors.New("-o OUT is required"), stderr)
	}
	if *target != "" && !slices.Contains(sim.ViolationNames(), *target) {
		return usageError("shrink", fmt.Errorf("unknown -target %q (known: %s)", *target, knownInvariants()), stderr)
	}
	if err := checkWritable(*out); err != nil {
		return fail("shrink", err, stderr)
	}
	src.resolve(*out)
	tape, from, err := src.load()
	if err != nil {
		return fail("shrink", err, stderr)
	}
	if *target == "" {
		*target = tape.Expect // a tape keeps its violation unless told otherwise
	}
	start := time.Now()
	opts := sim.ShrinkOptions{Target: *target, MaxRuns: *maxRuns, Deadline: *timeout, Clock: time.Now}
	if !*quiet {
		last := -1
		opts.Progress = func(step string, t sim.Tape, runs int) {
			if n := t.Decisions(); n != last || !strings.HasPrefix(step, "lower") {
				fmt.Fprintf(stdout, "  %6d replays  %-28s -> %d decisions\n", runs, step, n)
				last = n
			}
		}
	}
	fmt.Fprintf(stdout, "shrinking %s: %d decisions\n", from, tape.Decisions())
	small, rep, err := sim.Shrink(tape, opts)
	if err != nil {
		// The only errors: the replay passes, or does not violate the target.
		return fail("shrink", &exitError{exitUsage, err}, stderr)
	}
	if err := writeTapeFile(*out, small); err != nil {
		return fail("shrink", err, stderr)
	}
	fmt.Fprintf(stdout, "violation kept: %s\n", rep.Violation)
	fmt.Fprintf(stdout, "before: %v\nafter:  %v\n", rep.Before, rep.After)
	if len(rep.FaultsOff) > 0 || len(rep.Workloads) > 0 {
		fmt.Fprintf(stdout, "dropped: faults %v, workload %v\n", rep.FaultsOff, rep.Workloads)
	}
	if len(rep.KnobsReset) > 0 {
		fmt.Fprintf(stdout, "knobs back to default: %v\n", rep.KnobsReset)
	}
	note := ""
	if rep.StoppedEarly {
		note = " (budget spent: the tape may shrink further with more -max-runs or -timeout)"
	}
	fmt.Fprintf(stdout, "%d replays in %v%s\nwrote %s\nreplay it: %s replay -tape %s%s\n",
		rep.Runs, time.Since(start).Round(time.Millisecond), note, *out, program(), *out, canaryArg())
	return exitPass
}

// knownInvariants lists the names -target takes, sorted.
func knownInvariants() string {
	names := sim.ViolationNames()
	slices.Sort(names)
	return strings.Join(names, ", ")
}
