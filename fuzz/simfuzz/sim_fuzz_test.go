package simfuzz_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/msgrsim/msgrsim/fuzz/simfuzz"
	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/internal/fuzzing"
	"github.com/msgrsim/msgrsim/sim"
)

// FuzzSim: the fuzzer's bytes are the whole simulation's decision tape (see sim.go). Seeds:
// no bytes (the calmest run), text, a repeated pattern, pseudo-random bytes, and the decision
// tapes of seeded swarm runs turned into fuzz bytes (testdata/fuzz/FuzzSim holds the same,
// written by TestWriteSimCorpus).
func FuzzSim(f *testing.F) {
	seeds, err := simfuzz.Seeds()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzing.Report(t, simfuzz.Check(data)) })
}

func seedInput(tb testing.TB, seed uint64) []byte {
	tb.Helper()
	b, err := simfuzz.SeedInput(seed)
	if err != nil {
		tb.Fatal(err)
	}
	return b
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
		text := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seedInput(t, seed))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seeded-run-%d", seed)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A seeded run turned into fuzz bytes keeps its fault mix: the fuzzed run turns on the same
// fault kinds, and draws its decisions from the seeded run's.
func TestSeededRunBytesFollowTheSeed(t *testing.T) {
	if simfuzz.Options(nil).Fuzz == nil {
		t.Fatal("an empty input must be a fuzzed run (of zeros), not a seeded one")
	}
	for seed := uint64(1); seed <= 4; seed++ {
		want := sim.SwarmFaults(detrand.NewSeeded(seed))
		r := sim.Run(simfuzz.Options(seedInput(t, seed)))
		if r.Faults.On != want.On || r.Faults.Every != want.Every {
			t.Errorf("seed %d: fuzzed run's faults %v, the seed's %v", seed, r.Faults, want)
		}
		if len(r.Tape) == 0 {
			t.Errorf("seed %d: the fuzzed run drew no decisions", seed)
		}
	}
}
