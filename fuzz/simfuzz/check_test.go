package simfuzz

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/sim"
)

// A failing run's tape is written where asked, the failure names it and the command that
// replays it, and replaying the file reproduces the run: the same trace hash. (A normal build
// has no failing runs to fuzz into; the failure is the run's result with a violation added.)
func TestFailingRunWritesATapeThatReplays(t *testing.T) {
	seeded, err := SeedInput(2)
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{nil, seeded, bytes.Repeat([]byte("msgr1 "), 100)} {
		opts := Options(data)
		r := sim.Run(opts)
		if !r.Pass {
			t.Fatalf("%v", r.Violations)
		}
		r.Pass = false
		r.Violations = append(r.Violations, sim.Violation{Name: "lossless-loss", Detail: "made up by the test"})
		dir := filepath.Join(t.TempDir(), "tapes")
		err := reportFailure(opts, r, nil, dir)
		m := regexp.MustCompile(`replay: msgr-sim replay -tape (\S+)`).FindStringSubmatch(fmt.Sprint(err))
		if m == nil || !strings.HasPrefix(m[1], dir) || !strings.Contains(err.Error(), "lossless-loss: made up") {
			t.Fatalf("failure message does not name a tape in %s: %v", dir, err)
		}
		f, ferr := os.Open(m[1])
		if ferr != nil {
			t.Fatal(ferr)
		}
		tape, rerr := sim.ReadTape(f)
		f.Close()
		if rerr != nil {
			t.Fatal(rerr)
		}
		if tape.Expect != "lossless-loss" || tape.Faults != r.Faults || tape.Messages != opts.Messages {
			t.Errorf("tape expects %q with faults %v, messages %d; the run had %v, %d", tape.Expect, tape.Faults,
				tape.Messages, r.Faults, opts.Messages)
		}
		if rep := tape.Replay(); rep.TraceHash != r.TraceHash || rep.Steps != r.Steps {
			t.Errorf("replay: trace %016x, %d steps; the fuzzed run: %016x, %d steps", rep.TraceHash, rep.Steps, r.TraceHash, r.Steps)
		}
	}
}

// Tapes go to $MSGRSIM_FUZZ_TAPES when it is set, else to the temporary directory; a tape
// that cannot be written is reported, not lost silently.
func TestTapeDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(TapeDirEnv, dir)
	if got := TapeDir(); got != dir {
		t.Errorf("TapeDir() = %q, want %q", got, dir)
	}
	t.Setenv(TapeDirEnv, "")
	if got := TapeDir(); got != os.TempDir() {
		t.Errorf("TapeDir() = %q, want %q", got, os.TempDir())
	}
	blocked := filepath.Join(dir, "file")
	if err := os.WriteFile(blocked, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := Options(nil)
	r := sim.Run(opts)
	err := reportFailure(opts, r, nil, filepath.Join(blocked, "tapes"))
	if err == nil || !strings.Contains(err.Error(), "could not write the tape") {
		t.Errorf("unwritable tape directory: %v", err)
	}
}

// The seeds are ordinary inputs: each passes, and each runs the same twice (Check runs the
// determinism check on one input in determinismEvery).
func TestSimSeeds(t *testing.T) {
	seeds, err := Seeds()
	if err != nil {
		t.Fatal(err)
	}
	double := 0
	for i, s := range seeds {
		if err := Check(s); err != nil {
			t.Errorf("seed %d: %v", i, err)
		}
		if checksDeterminism(s) {
			double++
		}
		if _, div := sim.CheckDeterminism(Options(s)); div != nil {
			t.Errorf("seed %d is not deterministic: %v", i, div)
		}
	}
	if err := Check(make([]byte, MaxInput+1)); err == nil || !strings.Contains(err.Error(), "out of scope") {
		t.Errorf("an oversized input: %v", err)
	}
	t.Logf("%d seeds also checked for determinism", double)
}

// An input runs without its tape; a failing one runs again with its tape and that run is
// reported, its tape replaying it; a failure that does not happen again is reported as not
// deterministic, with no tape; a passing input runs once.
func TestCheckRunsAFailureAgainWithItsTape(t *testing.T) {
	data, err := SeedInput(3)
	if err != nil {
		t.Fatal(err)
	}
	for _, failAgain := range []bool{true, false} {
		var calls []bool // NoTape of each run
		run := func(opts sim.Options, _ []byte) (sim.Result, *sim.Divergence) {
			calls = append(calls, opts.NoTape)
			r := sim.Run(opts)
			if (opts.NoTape && r.Tape != nil) || (!opts.NoTape && len(r.Tape) == 0) {
				t.Fatalf("NoTape %v: a tape of %d words", opts.NoTape, len(r.Tape))
			}
			if len(calls) == 1 || failAgain {
				r.Pass = false
				r.Violations = append(r.Violations, sim.Violation{Name: "lossless-loss", Detail: "made up by the test"})
			}
			return r, nil
		}
		dir := filepath.Join(t.TempDir(), "tapes")
		err := check(data, run, dir)
		if len(calls) != 2 || !calls[0] || calls[1] {
			t.Fatalf("runs with NoTape %v, want [true false]", calls)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.tape"))
		if !failAgain {
			if err == nil || !strings.Contains(err.Error(), "NOT DETERMINISTIC: the input passed when it ran again") || len(files) != 0 {
				t.Fatalf("a failure that did not happen again: %v, tapes %v", err, files)
			}
			continue
		}
		m := regexp.MustCompile(`replay: msgr-sim replay -tape (\S+)`).FindStringSubmatch(fmt.Sprint(err))
		if m == nil || len(files) != 1 || files[0] != m[1] {
			t.Fatalf("failure message does not name the tape written (%v): %v", files, err)
		}
		f, ferr := os.Open(m[1])
		if ferr != nil {
			t.Fatal(ferr)
		}
		tape, rerr := sim.ReadTape(f)
		f.Close()
		if rerr != nil {
			t.Fatal(rerr)
		}
		if want := sim.Run(Options(data)); tape.Replay().TraceHash != want.TraceHash {
			t.Fatalf("the tape does not replay the input's run")
		}
	}
	calls := 0
	if err := check(data, func(opts sim.Options, d []byte) (sim.Result, *sim.Divergence) {
		calls++
		return sim.Run(opts), nil
	}, t.TempDir()); err != nil || calls != 1 {
		t.Fatalf("a passing input: %v after %d runs", err, calls)
	}
}
