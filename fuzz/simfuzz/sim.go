package simfuzz

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/internal/fuzzing"
	"github.com/msgrsim/msgrsim/sim"
)

// FuzzSim's check (sim_fuzz_test.go for go test -fuzz, gofuzz.go for go-fuzz and libFuzzer):
// the fuzzer's bytes are the decision tape of a whole simulation — the fault mix first, then
// every choice of the scheduler, the network and the fault injector, two bytes per decision
// (sim.Options.Fuzz) — so coverage feedback searches schedules and fault placements. A run
// that violates an invariant is written down as a tape that `msgr-sim replay -tape FILE`
// reproduces exactly, and the target fails naming the file.

// TapeDirEnv names the directory failing runs' tapes are written to (default os.TempDir()).
const TapeDirEnv = "MSGRSIM_FUZZ_TAPES"

const (
	// MaxInput bounds the inputs FuzzSim takes: a run lasts a millisecond or two and the
	// fuzzer minimizes new inputs in time quadratic in their length. 1 KiB are the fault mix
	// and the first ~500 decisions: about all of a run of this size (past the end every
	// decision is 0, the tamest), so the input drives the whole run.
	MaxInput = 1024
	// determinismEvery: one input in this many also runs twice and compares the traces. A
	// nondeterministic path (a map's iteration order, an address reaching a decision) diverges
	// on nearly every input that takes it, and the fuzzer mutates an input that found a new
	// path many times over: at hundreds of inputs per second, one in 32 still checks such a
	// path within seconds, for 3% more work per input (one in eight cost 12.5%). TestSimSeeds
	// checks every seed.
	determinismEvery = 32
)

// Options is the scenario FuzzSim runs for an input, small so that an input runs in a
// millisecond or two and a fuzzing worker executes hundreds per second: two OSDs and a
// client (a lossless race, a lossy session, replies), four messages per stream over 30 ms
// (about 240 scheduling steps, 500 decisions: MaxInput covers the whole run), the fault mix
// drawn from the input. An empty input is a run of zeros (the calmest), not a seeded one.
func Options(data []byte) sim.Options {
	if data == nil {
		data = []byte{}
	}
	// NoSwarm: the configuration swarm draws from the seed, and a fuzzed run has none (every
	// input would run seed 0's knobs); the input decides the faults and the schedule only.
	// NoCoverage: the fuzzing engine measures its own coverage; the run's protocol coverage
	// would be counted and thrown away.
	return sim.Options{OSDs: 2, Clients: 1, Messages: 4, Window: 30 * time.Millisecond,
		MaxSteps: 200_000, Fuzz: data, NoSwarm: true, NoCoverage: true}
}

// TapeDir is where failing runs' tapes go: $MSGRSIM_FUZZ_TAPES, else the system's temporary
// directory.
func TapeDir() string {
	if d := os.Getenv(TapeDirEnv); d != "" {
		return d
	}
	return os.TempDir()
}

// Check runs one input of FuzzSim; on a violation (or a run that is not deterministic) it
// writes the tape and returns an error that names it. Inputs over MaxInput are out of scope
// (an error wrapping fuzzing.ErrSkip).
func Check(data []byte) error {
	if len(data) > MaxInput {
		return fuzzing.Skipf("%d bytes: longer inputs make minimization slow", len(data))
	}
	return check(data, runInput, TapeDir())
}

// runInput runs opts, twice and compared when the input checks determinism.
func runInput(opts sim.Options, data []byte) (sim.Result, *sim.Divergence) {
	if checksDeterminism(data) {
		return sim.CheckDeterminism(opts)
	}
	return sim.Run(opts), nil
}

// check is Check with the runs made by run and tapes written into dir. An input runs without
// keeping its decision tape (sim.Options.NoTape: most inputs pass, and the tape is only
// written for a failure); a failing input runs again with its tape, and that run is
// reported. A failure that does not happen again is reported as such, without a tape: the
// run is not deterministic.
func check(data []byte, run func(sim.Options, []byte) (sim.Result, *sim.Divergence), dir string) error {
	opts := Options(data)
	fast := opts
	fast.NoTape = true
	r, div := run(fast, data)
	if r.Pass && div == nil {
		return nil
	}
	again, divAgain := run(opts, data)
	if again.Pass && divAgain == nil {
		b := describe(r, div)
		fmt.Fprintf(b, "NOT DETERMINISTIC: the input passed when it ran again to record its tape (trace %016x, then %016x)", r.TraceHash, again.TraceHash)
		return errors.New(b.String())
	}
	return reportFailure(opts, again, divAgain, dir)
}

// checksDeterminism picks the inputs that also run twice (by a hash of the input, so the
// choice is the same every time an input runs).
func checksDeterminism(data []byte) bool {
	h := fnv.New32a()
	h.Write(data)
	return h.Sum32()%determinismEvery == 0
}

// reportFailure writes the failing run's tape into dir and describes the failure.
func reportFailure(opts sim.Options, r sim.Result, div *sim.Divergence, dir string) error {
	b := describe(r, div)
	path, err := WriteTape(opts, r, dir)
	if err != nil {
		fmt.Fprintf(b, "could not write the tape: %v\n", err)
		return errors.New(b.String())
	}
	fmt.Fprintf(b, "tape written to %s\nreplay: msgr-sim replay -tape %s", path, path)
	return errors.New(b.String())
}

// describe starts a failure's description: the run's summary, its violations, and the
// divergence of a determinism check, if any.
func describe(r sim.Result, div *sim.Divergence) *strings.Builder {
	var b strings.Builder
	fmt.Fprintln(&b, r.String())
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "VIOLATION %v\n", v)
	}
	if div != nil {
		fmt.Fprintf(&b, "NOT DETERMINISTIC: %v\n", div)
	}
	return &b
}

// WriteTape writes the tape of a run driven by opts (Fuzz, Replay or Record) into dir, named
// after the run's trace hash, and returns its path. The tape replays the run exactly.
func WriteTape(opts sim.Options, r sim.Result, dir string) (string, error) {
	tape := sim.TapeFromRun(opts, r)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("tape directory: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("msgrsim-fuzz-%016x.tape", r.TraceHash))
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("tape: %w", err)
	}
	if _, err := tape.WriteTo(f); err != nil {
		f.Close()
		return "", fmt.Errorf("tape %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("tape %s: %w", path, err)
	}
	return path, nil
}

// Seeds are FuzzSim's seed inputs: no bytes (the calmest run), text, a repeated pattern,
// pseudo-random bytes, and the decision tapes of seeded swarm runs 1-3 turned into fuzz bytes
// (SeedInput; testdata/fuzz/FuzzSim holds runs 1-6, written by TestWriteSimCorpus).
func Seeds() ([][]byte, error) {
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
		b, err := SeedInput(seed)
		if err != nil {
			return nil, err
		}
		seeds = append(seeds, b)
	}
	return seeds, nil
}

// SeedInput turns the run of a seed (its swarm fault mix, then its decisions) into fuzz
// bytes. detrand.NewFuzzed reads two bytes per decision and repeats them down the word, so a
// ranged draw (multiply-high) sees the top bits and a Bool the lowest: each word becomes its
// top 15 bits and its lowest bit, and the fuzzed run follows the seeded one closely.
func SeedInput(seed uint64) ([]byte, error) {
	root, log := detrand.NewRecorded(seed)
	faults := sim.SwarmFaults(root)
	words := append([]uint64(nil), log.Words()...)
	opts := Options(nil)
	opts.Fuzz, opts.Seed, opts.Faults = nil, seed, &faults // a seeded run, recorded
	tape, r := sim.TapeOf(opts)
	if r.Tape == nil {
		return nil, fmt.Errorf("seed %d: the recorded run has no tape", seed)
	}
	words = append(words, tape.Words...)
	var b []byte
	for _, w := range words {
		hi := uint16(w>>48)&^1 | uint16(w&1)
		b = append(b, byte(hi>>8), byte(hi))
	}
	return b[:min(len(b), MaxInput)], nil
}
