package sim

import (
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
)

func detrandSeeded(s uint64) *detrand.Rand { return detrand.NewSeeded(s) }

func TestDefaultScenarioPasses(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		r := Run(DefaultOptions(seed))
		if !r.Pass {
			t.Fatalf("%v\n%v\n%s", r, r.Violations, r.Summary)
		}
		if r.Sent != 300 || r.Delivered != 300 {
			t.Fatalf("seed %d: sent %d dispatched %d, want 300 each", seed, r.Sent, r.Delivered)
		}
	}
}

// The same seed gives the same trace hash, whatever GOMAXPROCS is, and different seeds give
// different traces.
func TestDeterministicAcrossGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	hashes := map[uint64]uint64{}
	for _, procs := range []int{1, 4, 1} {
		runtime.GOMAXPROCS(procs)
		for seed := uint64(1); seed <= 10; seed++ {
			r := Run(DefaultOptions(seed))
			if h, ok := hashes[seed]; ok && h != r.TraceHash {
				t.Fatalf("seed %d: trace hash %016x under GOMAXPROCS=%d, %016x before", seed, r.TraceHash, procs, h)
			}
			hashes[seed] = r.TraceHash
		}
	}
	distinct := map[uint64]bool{}
	for _, h := range hashes {
		distinct[h] = true
	}
	if len(distinct) != len(hashes) {
		t.Fatalf("%d seeds gave only %d distinct traces", len(hashes), len(distinct))
	}
}

func TestTraceRecordsProtocolSteps(t *testing.T) {
	opts := DefaultOptions(7)
	opts.KeepTrace = true
	r := Run(opts)
	if !r.Pass {
		t.Fatal(r)
	}
	want := []string{"START_CONNECT -> CONNECTING", "ACCEPTING_HANDLED_CONNECT_MSG -> OPENED", "accept decision", "dispatch MSG", "faults: none"}
	for _, w := range want {
		found := false
		for _, l := range r.Trace {
			if contains(l, w) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("trace lacks %q", w)
		}
	}
	plain := Run(DefaultOptions(7))
	if plain.TraceHash != r.TraceHash {
		t.Fatalf("keeping the readable trace changed the hash: %016x vs %016x", plain.TraceHash, r.TraceHash)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestCheckDeterminism(t *testing.T) {
	f := AllFaults(detrandSeeded(5))
	opts := DefaultOptions(5)
	opts.Faults = &f
	if _, d := CheckDeterminism(opts); d != nil {
		t.Fatalf("seed 5 is not deterministic:\n%v", d)
	}
	// A run made to differ at event 2000 is caught, and the report points at that event.
	opts.perturbAt = 2000
	_, d := CheckDeterminism(opts)
	if d == nil {
		t.Fatal("a perturbed second run was not reported")
	}
	if d.Event < 1999 || d.Event > 2001 || !strings.Contains(d.String(), "≠") {
		t.Fatalf("divergence reported at #%d:\n%v", d.Event, d)
	}
}

// A swarm sweep: every seed picks its own fault mix; all pass, and across the sweep every
// fault kind fires.
func TestSwarmSweep(t *testing.T) {
	seeds := uint64(300)
	if testing.Short() {
		seeds = 50
	}
	var fired [NumFaults]int
	for seed := uint64(1); seed <= seeds; seed++ {
		f := SwarmFaults(detrand.NewSeeded(seed))
		opts := DefaultOptions(seed)
		opts.Faults = &f
		r := Run(opts)
		if !r.Pass {
			t.Fatalf("%v (faults %v)\n%v\n%s", r, f, r.Violations, r.Summary)
		}
		for i, n := range r.Stats.Injected {
			fired[i] += n
		}
	}
	for i, n := range fired {
		if n == 0 && Fault(i) != FaultTamper { // tamper is never drawn: named only (-faults swarm,tamper)
			t.Errorf("fault %v never fired in %d seeds", Fault(i), seeds)
		}
	}
	if n := fired[FaultTamper]; n != 0 {
		t.Errorf("the swarm drew tamper %d times: it must be named to run", n)
	}
	t.Logf("faults fired over %d seeds: %v", seeds, fired)
}

func TestSwarmSeedsAreDeterministic(t *testing.T) {
	for seed := uint64(100); seed < 120; seed++ {
		f := SwarmFaults(detrand.NewSeeded(seed))
		opts := DefaultOptions(seed)
		opts.Faults = &f
		if _, d := CheckDeterminism(opts); d != nil {
			t.Fatalf("seed %d:\n%v", seed, d)
		}
	}
}

// With cephx the swarm also draws tamper (about half the seeds), and every other kind and
// intensity is the unsigned swarm's; without auth, and for a named list, nothing changes.
func TestSwarmDrawsTamperOnlyWhenSigned(t *testing.T) {
	on := 0
	for seed := uint64(1); seed <= 200; seed++ {
		plain, err := ParseFaults("swarm", detrand.NewSeeded(seed))
		if err != nil {
			t.Fatal(err)
		}
		signed, _ := ParseFaultsFor("swarm", detrand.NewSeeded(seed), AuthCephx)
		if none, _ := ParseFaultsFor("swarm", detrand.NewSeeded(seed), ""); none != plain {
			t.Fatalf("seed %d: auth none drew %v, ParseFaults %v", seed, none, plain)
		}
		if signed.On[FaultTamper] {
			on++
		}
		signed.On[FaultTamper] = false
		if signed != plain {
			t.Fatalf("seed %d: the signed swarm %v differs from the plain %v beyond tamper", seed, signed, plain)
		}
		if named, _ := ParseFaultsFor("cuts,reset", detrand.NewSeeded(seed), AuthCephx); named.On[FaultTamper] {
			t.Fatalf("seed %d: a named list without tamper drew it", seed)
		}
	}
	if on < 60 || on > 140 {
		t.Errorf("tamper drawn in %d of 200 signed swarms, want about half", on)
	}
}

// A run without coverage is the same run: the same trace hash, steps, result and statistics,
// with swarm faults, on the default and the cluster workload; only Result.Coverage is nil.
func TestNoCoverageIsTheSameRun(t *testing.T) {
	for _, wl := range []string{WorkloadDefault, WorkloadCluster} {
		for seed := uint64(1); seed <= 3; seed++ {
			opts := DefaultOptions(seed)
			opts.Workload = wl
			f := SwarmFaults(detrand.NewSeeded(seed))
			opts.Faults = &f
			with := Run(opts)
			opts.NoCoverage = true
			without := Run(opts)
			if with.Coverage == nil || without.Coverage != nil {
				t.Fatalf("%s seed %d: coverage %v with, %v without", wl, seed, with.Coverage != nil, without.Coverage != nil)
			}
			with.Coverage = nil
			for _, r := range []*Result{&with, &without} {
				for i := range r.Models {
					r.Models[i].Elapsed = 0 // wall time
				}
			}
			if !reflect.DeepEqual(with, without) || with.Steps == 0 || with.Summary == "" {
				t.Errorf("%s seed %d: with coverage\n%#v\nwithout\n%#v", wl, seed, with, without)
			}
		}
	}
}

// Runs reuse what earlier runs of the process released (send blocks, frame-tracker blocks,
// checkers, network chunks): runs in parallel goroutines, taking and giving back those
// spares concurrently, give exactly the results of the same runs made one after another.
func TestParallelRunsShareSpares(t *testing.T) {
	var opts []Options
	for _, wl := range []string{WorkloadDefault, WorkloadCluster} {
		for seed := uint64(1); seed <= 4; seed++ {
			o := DefaultOptions(seed)
			o.Workload = wl
			f := SwarmFaults(detrand.NewSeeded(seed))
			o.Faults = &f
			opts = append(opts, o)
		}
	}
	want := make([]uint64, len(opts))
	for i, o := range opts {
		want[i] = Run(o).TraceHash
	}
	got := make([]uint64, len(opts))
	done := make(chan int)
	for w := range 4 {
		go func() {
			for i := w; i < len(opts); i += 4 {
				for range 2 {
					got[i] = Run(opts[i]).TraceHash
				}
			}
			done <- w
		}()
	}
	for range 4 {
		<-done
	}
	for i := range opts {
		if got[i] != want[i] {
			t.Errorf("%s seed %d: trace %016x in parallel, %016x alone", opts[i].Workload, opts[i].Seed, got[i], want[i])
		}
	}
}

// A fuzzed run without its tape is the same run: deep-equal results but for the tape.
func TestNoTapeIsTheSameRun(t *testing.T) {
	for _, data := range [][]byte{{}, make([]byte, 43), make([]byte, 900)} {
		opts := Options{OSDs: 2, Clients: 1, Messages: 4, Window: 30e6, Fuzz: data, NoSwarm: true}
		for i := range data {
			data[i] = byte(i * 37)
		}
		with := Run(opts)
		opts.NoTape = true
		without := Run(opts)
		if len(with.Tape) == 0 || without.Tape != nil {
			t.Fatalf("tape of %d words with, %d without", len(with.Tape), len(without.Tape))
		}
		with.Tape = nil
		for _, r := range []*Result{&with, &without} {
			for i := range r.Models {
				r.Models[i].Elapsed = 0 // wall time
			}
		}
		if !reflect.DeepEqual(with, without) || with.Steps == 0 {
			t.Errorf("%d bytes: with the tape\n%#v\nwithout\n%#v", len(data), with, without)
		}
	}
}
