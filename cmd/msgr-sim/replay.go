package main

import (
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/sim"
)

type replayFlags struct {
	source
	verbose bool
	full    bool
}

func replayCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	f := &replayFlags{}
	f.source.register(fs)
	fs.BoolVar(&f.verbose, "v", false, "also print every network transfer")
	fs.BoolVar(&f.full, "full", false, "print the whole run, not only up to the first violation")
	if err := parseFlags(fs, "Usage: msgr-sim replay -seed N [scenario flags] | -tape FILE [-v] [-full]", args, stdout); err != nil {
		return usageError("replay", err, stderr)
	}
	if err := f.source.finish(fs); err != nil {
		return usageError("replay", err, stderr)
	}
	f.resolve("")
	tape, from, err := f.load()
	if err != nil {
		return fail("replay", err, stderr)
	}
	opts := f.tapeOptions(tape)
	opts.KeepTrace = true
	fmt.Fprintf(stdout, "replay %s: %s  (%d decisions)\n", from, describe(opts), tape.Decisions())
	r := sim.Run(opts)
	printTrace(stdout, r, f.verbose, f.full)
	fmt.Fprintln(stdout, r.String())
	fmt.Fprintf(stdout, "reproduce: %s replay %s\n", program(), from)
	if tape.Expect != "" && !hasViolation(r, tape.Expect) {
		fmt.Fprintf(stderr, "msgr-sim replay: %s\n", notReproduced(tape, r, f.tape))
		return exitViolation
	}
	if !r.Pass {
		return exitViolation
	}
	return exitPass
}

// notReproduced explains why a tape's expected violation did not come back: which build made
// the tape and with which canary, against this one, and the command that would reproduce it.
func notReproduced(t sim.Tape, r sim.Result, path string) string {
	got := "the run passed"
	if !r.Pass {
		got = "it found " + signature(r)
	}
	msg := fmt.Sprintf("the tape expected %s, this replay did not produce it (%s).\n  tape made by: %s\n  this build:   %s",
		t.Expect, got, describeBuild(t.Build, t.Canary), describeBuild(build.String(), canaryName()))
	switch {
	case t.Canary != "" && t.Canary != canaryName():
		msg += fmt.Sprintf("\n  the tape needs canary %s: go run -tags canary ./cmd/msgr-sim replay -tape %s -canary %s", t.Canary, path, t.Canary)
	case t.Build != "" && t.Build != build.String():
		msg += "\n  a different build made the tape: the code changed since (a fix, or a new behaviour), or the tape needs that build"
	default:
		msg += "\n  the same build made the tape: is its budget (-max-steps) or the wall-time budget different?"
	}
	return msg
}

func hasViolation(r sim.Result, name string) bool {
	for _, v := range r.Violations {
		if v.Name == name {
			return true
		}
	}
	return false
}

// transferLine matches the trace lines of single network transfers (shown with -v).
var transferLine = regexp.MustCompile(`^\s*[0-9.]+s  network: c\d+ `)

// printTrace prints the readable trace, up to the first violation unless full, then the
// violation with what its invariant requires.
func printTrace(w io.Writer, r sim.Result, verbose, full bool) {
	stop := time.Duration(-1)
	if len(r.Violations) > 0 && !full {
		stop = time.Duration(r.Violations[0].AtNs)
	}
	cut := 0
	for _, l := range r.Trace {
		if stop >= 0 && lineTime(l) > stop {
			cut++
			continue
		}
		if !verbose && transferLine.MatchString(l) {
			continue
		}
		fmt.Fprintln(w, l)
	}
	for i, v := range r.Violations {
		if stop >= 0 && time.Duration(v.AtNs) > stop {
			fmt.Fprintf(w, "(%d more violations; -full shows them and the rest of the run)\n", len(r.Violations)-i)
			break
		}
		fmt.Fprintf(w, "VIOLATION %s at %v: %s\n", v.Name, time.Duration(v.AtNs), v.Detail)
		if doc, ok := sim.InvariantDoc[v.Name]; ok {
			fmt.Fprintf(w, "  invariant %s: %s\n", v.Name, doc)
		}
	}
	if cut > 0 {
		fmt.Fprintf(w, "(stopped at the first violation; %d later trace lines not shown, -full shows them)\n", cut)
	}
}

// lineTime reads the virtual time a trace line starts with.
func lineTime(l string) time.Duration {
	f := strings.Fields(l)
	if len(f) == 0 {
		return 0
	}
	secs, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "s"), 64)
	if err != nil {
		return 0
	}
	return time.Duration(secs * 1e9)
}
