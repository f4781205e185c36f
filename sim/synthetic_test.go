package sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/wire"
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

// The configuration swarm reaches the synthetic workload: a seed's run draws the seed's knobs
// and runs with them (its trace is not the run with Ceph's defaults, and with the keepalive
// knob its messengers send keepalives, which the workload never does itself); -swarm=false
// is the knob-free run, the same run as one given the default knobs.
func TestSyntheticSwarmKnobs(t *testing.T) {
	seed := uint64(1000)
	for SeedKnobs(seed).Keepalive == 0 {
		seed++
	}
	on := syntheticOptions(seed)
	off, def := on, on
	off.NoSwarm, def.Knobs = true, &Knobs{}
	a, b, c := Run(on), Run(off), Run(def)
	keepalives := func(r Result) int {
		return r.Coverage.FrameSent[wire.TagKeepalive.String()] + r.Coverage.FrameSent[wire.TagKeepalive2.String()]
	}
	if !a.Pass || !b.Pass {
		t.Fatalf("seed %d: %v %v / %v %v", seed, a, a.Violations, b, b.Violations)
	}
	if a.Knobs != SeedKnobs(seed) || b.Knobs != (Knobs{}) {
		t.Errorf("seed %d: knobs %v with the swarm (want %v), %v without", seed, a.Knobs, SeedKnobs(seed), b.Knobs)
	}
	if a.TraceHash == b.TraceHash || keepalives(a) == 0 || keepalives(b) != 0 {
		t.Errorf("seed %d knobs %v not applied: traces %016x and %016x without, keepalives sent %d and %d without",
			seed, a.Knobs, a.TraceHash, b.TraceHash, keepalives(a), keepalives(b))
	}
	if b.TraceHash != c.TraceHash {
		t.Errorf("seed %d: -swarm=false ran %016x, the default knobs %016x", seed, b.TraceHash, c.TraceHash)
	}
}

// The swarm's receive throttles take effect on the synthetic workload's messengers (its
// policies are default ones, which make no throttle of their own): with one message at a time
// a receiver stalls, without a throttle it never does.
func TestSyntheticThrottleKnobs(t *testing.T) {
	for _, k := range []Knobs{{ThrottleMsgs: 1}, {ThrottleBytes: 1}, {}} {
		opts := syntheticOptions(3)
		opts.Preset, opts.Knobs = "stress", &k
		r := Run(opts)
		msgs, bytes := r.Coverage.Reach["throttle-stall-messages"], r.Coverage.Reach["throttle-stall-bytes"]
		if !r.Pass || (msgs > 0) != (k.ThrottleMsgs > 0) || (bytes > 0) != (k.ThrottleBytes > 0) {
			t.Errorf("knobs %v: %v, throttle stalls: %d on messages, %d on bytes\n%v", k, r, msgs, bytes, r.Violations)
		}
	}
}
