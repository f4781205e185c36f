package sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
)

func syntheticOptions(seed uint64) Options {
	opts := DefaultOptions(seed)
	opts.Workload = WorkloadSynthetic
	return opts
}

func TestSyntheticSeeds(t *testing.T) {
	n := uint64(20)
	if testing.Short() {
		n = 5
	}
	for seed := uint64(1); seed <= n; seed++ {
		start := time.Now()
		r := Run(syntheticOptions(seed))
		t.Logf("%v preset %s wall %v stats %+v", r, r.Synthetic.Preset, time.Since(start).Round(time.Millisecond), r.Synthetic.Stats)
		if !r.Pass {
			t.Fatalf("%v\n%v", r, r.Violations)
		}
	}
}

// Seeds that found bugs stay fixed (testdata/regressions/synthetic.txt).
func TestSyntheticRegressions(t *testing.T) {
	runRegressions(t, "synthetic.txt", parseSyntheticRegression)
}

// parseSyntheticRegression reads a line of synthetic.txt: seed preset ("-": drawn) faults, and
// "swarm" when found with the configuration swarm.
func parseSyntheticRegression(line string) (Options, string, error) {
	var seed uint64
	var preset, faults string
	_, err := fmt.Sscan(line, &seed, &preset, &faults)
	opts := syntheticOptions(seed)
	opts.NoSwarm = !swarmField(line, 3) // see parseClusterRegression
	if preset != "-" {
		opts.Preset = preset
	}
	return opts, faults, err
}

// The synthetic workload under the seed's swarm of faults (crashes excepted).
func TestSyntheticSwarm(t *testing.T) {
	n := uint64(20)
	if testing.Short() {
		n = 5
	}
	for seed := uint64(1000); seed < 1000+n; seed++ {
		opts := syntheticOptions(seed)
		f := SwarmFaults(detrand.NewSeeded(seed))
		opts.Faults = &f
		start := time.Now()
		r := Run(opts)
		t.Logf("%v preset %s faults %v wall %v", r, r.Synthetic.Preset, r.Faults.Names(), time.Since(start).Round(time.Millisecond))
		if !r.Pass {
			t.Fatalf("%v (faults %v)\n%v", r, r.Faults, r.Violations)
		}
	}
}

// A synthetic run is recorded as a tape and replays to the same trace. (Its fault mix is
// NoFaults, whose zero ratios, written "0/0", the tape reader used to reject.)
func TestSyntheticTapeReplays(t *testing.T) {
	for _, preset := range []string{"", "inject3"} {
		opts := syntheticOptions(77)
		opts.Preset = preset
		tape, r := TapeOf(opts)
		var buf strings.Builder
		if _, err := tape.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := ReadTape(strings.NewReader(buf.String()))
		if err != nil {
			t.Fatalf("%v\n%s", err, buf.String())
		}
		if back.Workload != WorkloadSynthetic || back.Preset != preset {
			t.Fatalf("tape lost the workload: %q %q", back.Workload, back.Preset)
		}
		again := back.Replay()
		if again.TraceHash != r.TraceHash || again.Synthetic == nil || again.Synthetic.Preset != r.Synthetic.Preset {
			t.Fatalf("preset %q: replay gave trace %016x (preset %v), the run %016x (%s)", preset, again.TraceHash,
				again.Synthetic, r.TraceHash, r.Synthetic.Preset)
		}
	}
}
