package synthsim

import (
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/sim/harness"
)

// A seed's preset runs under the seed's swarm of faults, crashes turned off: every PING is
// answered, every check passes, and everything shuts down.
func TestSwarmSeeds(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		f := fault.Swarm(detrand.NewSeeded(seed))
		f.On[fault.Crash] = true
		h := harness.New(harness.Config{Seed: seed, Root: detrand.NewSeeded(seed), Faults: f, Window: 200 * time.Millisecond,
			Liveness: 10 * time.Minute, MaxSteps: 5_000_000, Models: models.CheckOptions{NoVisualize: true}})
		wl := New(h, Config{Seed: seed, Window: 200 * time.Millisecond})
		h.Drive(wl)
		rep := wl.Result()
		if h.Check.Failed() || h.Phase != harness.PhaseDone || rep.Stats.Pongs == 0 || h.Faults.On[fault.Crash] {
			t.Fatalf("seed %d preset %s (faults %v): phase %s, stats %+v: %v", seed, rep.Preset, h.Faults, h.Phase, rep.Stats,
				h.Check.Violations())
		}
	}
}

// driveKnobs runs preset inject (its own dispatch throttle of 16 MiB and max backoff of 1 s)
// without faults under knobs, and returns the workload.
func driveKnobs(t *testing.T, knobs harness.Knobs) *Workload {
	t.Helper()
	h := harness.New(harness.Config{Seed: 5, Root: detrand.NewSeeded(5), Faults: fault.None(), Window: 200 * time.Millisecond,
		Liveness: 10 * time.Minute, MaxSteps: 5_000_000, Knobs: knobs, Models: models.CheckOptions{NoVisualize: true}})
	wl := New(h, Config{Seed: 5, Window: 200 * time.Millisecond, Preset: "inject"})
	h.Drive(wl)
	if h.Check.Failed() || h.Phase != harness.PhaseDone || len(wl.nodes) < 2 {
		t.Fatalf("knobs %v: phase %s, %d nodes: %v", knobs, h.Phase, len(wl.nodes), h.Check.Violations())
	}
	return wl
}

// The configuration swarm's knobs reach every messenger of the workload: its configuration
// (prefetch, workers, dispatch throttle, timeouts, backoff) and its default policy (feature
// bits per node, receive throttles); a knob at its default leaves the preset's own value.
func TestKnobsApplied(t *testing.T) {
	k := harness.Knobs{LegacyNodes: 1 << 1, OldFooterNodes: 1 << 2, Prefetch: 7, Workers: 2, ThrottleMsgs: 2,
		ThrottleBytes: 4096, DispatchBytes: 512, ReadyTimeout: time.Second, IdleTimeout: 2 * time.Second,
		InitialBackoff: 5 * time.Millisecond}
	for _, n := range driveKnobs(t, k).nodes {
		cfg, p := n.m.Config(), n.m.Policy(wire.EntityOSD)
		if cfg.PrefetchSize != 7 || cfg.Workers != 2 || cfg.DispatchThrottleBytes != 512 || cfg.ReadyTimeout != time.Second ||
			cfg.IdleTimeout != 2*time.Second || cfg.InitialBackoff != 5*time.Millisecond || cfg.MaxBackoff != time.Second {
			t.Errorf("%s: config %+v does not carry the knobs %v (max backoff: the preset's 1 s)", n.name, cfg, k)
		}
		if p.ThrottlerMessages != 2 || p.ThrottlerBytes != 4096 {
			t.Errorf("%s: policy throttles %d msgs %d bytes, want 2, 4096", n.name, p.ThrottlerMessages, p.ThrottlerBytes)
		}
		legacy, oldFooter := p.FeaturesSupported&wire.FeatureReconnectSeq == 0, p.FeaturesSupported&wire.FeatureMsgAuth == 0
		if legacy != (n.idx == 1) || oldFooter != (n.idx == 2) {
			t.Errorf("%s (node %d): features %#x: legacy %v old footer %v", n.name, n.idx, p.FeaturesSupported, legacy, oldFooter)
		}
	}
}

// With the default knobs (the swarm off) every messenger runs the preset's configuration.
func TestNoKnobsKeepsPreset(t *testing.T) {
	for _, n := range driveKnobs(t, harness.Knobs{}).nodes {
		cfg, p := n.m.Config(), n.m.Policy(wire.EntityOSD)
		if cfg.PrefetchSize != 0 || cfg.Workers != 0 || cfg.DispatchThrottleBytes != 16<<20 || cfg.ReadyTimeout != 0 ||
			cfg.IdleTimeout != 0 || cfg.InitialBackoff != 0 || cfg.MaxBackoff != time.Second {
			t.Errorf("%s: config %+v is not the preset's", n.name, cfg)
		}
		if p.ThrottlerMessages != 0 || p.ThrottlerBytes != 0 || p.FeaturesSupported != wire.FeaturesAll {
			t.Errorf("%s: policy %+v is not the preset's", n.name, p)
		}
	}
}
