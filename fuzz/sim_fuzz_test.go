package fuzz

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/internal/fuzzing"
	"github.com/msgrsim/msgrsim/sim"
)

// FuzzSim: the fuzzer's bytes are the whole simulation's decision tape (see sim.go). Seeds:
// no bytes (the calmest run), text, a repeated pattern, pseudo-random bytes, and the decision
// tapes of seeded swarm runs turned into fuzz bytes (testdata/fuzz/FuzzSim holds the same,
// written by TestWriteSimCorpus).
func FuzzSim(f *testing.F) {
	for _, s := range simSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzing.Report(t, checkSim(data)) })
}

func simSeeds(tb testing.TB) [][]byte {
	seeds := [][]byte{
		nil,
		[]byte("the quick brown fox jumps over the lazy dog"),
		bytes.Repeat([]byte{0xff, 0x80, 0x01}, 200),
	}
	r := rand.New(rand.NewPCG(5, 5))
	for _, n := range []int{64, 400, 1000} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		seeds = append(seeds, b)
	}
	for seed := uint64(1); seed <= 3; seed++ {
		seeds = append(seeds, seededRunBytes(tb, seed))
	}
	return seeds
}

// seededRunBytes turns the run of a seed (its swarm fault mix, then its decisions) into fuzz
// bytes. detrand.NewFuzzed reads two bytes per decision and repeats them down the word, so a
// ranged draw (multiply-high) sees the top bits and a Bool the lowest: each word becomes its
// top 15 bits and its lowest bit, and the fuzzed run follows the seeded one closely.
func seededRunBytes(tb testing.TB, seed uint64) []byte {
	root, log := detrand.NewRecorded(seed)
	faults := sim.SwarmFaults(root)
	words := append([]uint64(nil), log.Words()...)
	opts := SimOptions(nil)
	opts.Fuzz, opts.Seed, opts.Faults = nil, seed, &faults // a seeded run, recorded
	tape, r := sim.TapeOf(opts)
	if r.Tape == nil {
		tb.Fatalf("seed %d: the recorded run has no tape", seed)
	}
	words = append(words, tape.Words...)
	var b []byte
	for _, w := range words {
		hi := uint16(w>>48)&^1 | uint16(w&1)
		b = append(b, byte(hi>>8), byte(hi))
	}
	return b[:min(len(b), maxSimInput)]
}

// A failing run's tape is written where asked, the failure names it and the command that
// replays it, and replaying the file reproduces the run: the same trace hash. (A normal build
// has no failing runs to fuzz into; the failure is the run's result with a violation added.)
func TestFailingRunWritesATapeThatReplays(t *testing.T) {
	for _, data := range [][]byte{nil, seededRunBytes(t, 2), bytes.Repeat([]byte("msgr1 "), 100)} {
		opts := SimOptions(data)
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
	opts := SimOptions(nil)
	r := sim.Run(opts)
	err := reportFailure(opts, r, nil, filepath.Join(blocked, "tapes"))
	if err == nil || !strings.Contains(err.Error(), "could not write the tape") {
		t.Errorf("unwritable tape directory: %v", err)
	}
}

// The seeds are ordinary inputs: each passes, and the determinism check runs on some.
func TestSimSeeds(t *testing.T) {
	double := 0
	for i, s := range simSeeds(t) {
		if err := checkSim(s); err != nil {
			t.Errorf("seed %d: %v", i, err)
		}
		if checksDeterminism(s) {
			double++
		}
	}
	if err := checkSim(make([]byte, maxSimInput+1)); err == nil || !strings.Contains(err.Error(), "out of scope") {
		t.Errorf("an oversized input: %v", err)
	}
	t.Logf("%d seeds also checked for determinism", double)
}

var writeCorpus = flag.Bool("write-corpus", false, "rewrite testdata/fuzz/FuzzSim from seeded runs")

// TestWriteSimCorpus writes the seeded runs' fuzz bytes as corpus files (with -write-corpus),
// so that go test runs them as FuzzSim seeds and fuzzers start from them.
func TestWriteSimCorpus(t *testing.T) {
	if !*writeCorpus {
		t.Skip("run with -write-corpus to rewrite testdata/fuzz/FuzzSim")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzSim")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 6; seed++ {
		b := seededRunBytes(t, seed)
		text := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seeded-run-%d", seed)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A seeded run turned into fuzz bytes keeps its fault mix: the fuzzed run turns on the same
// fault kinds, and draws its decisions from the seeded run's.
func TestSeededRunBytesFollowTheSeed(t *testing.T) {
	if SimOptions(nil).Fuzz == nil {
		t.Fatal("an empty input must be a fuzzed run (of zeros), not a seeded one")
	}
	for seed := uint64(1); seed <= 4; seed++ {
		want := sim.SwarmFaults(detrand.NewSeeded(seed))
		r := sim.Run(SimOptions(seededRunBytes(t, seed)))
		if r.Faults.On != want.On || r.Faults.Every != want.Every {
			t.Errorf("seed %d: fuzzed run's faults %v, the seed's %v", seed, r.Faults, want)
		}
		if len(r.Tape) == 0 {
			t.Errorf("seed %d: the fuzzed run drew no decisions", seed)
		}
	}
}
