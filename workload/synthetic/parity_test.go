//go:build linux

package synthetic_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/sim"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/workload/synthetic"
)

// Sim-to-real parity (issue 8): the same SyntheticWorkload configurations, with the same
// checkers (check.Checker through synthetic.Checker, check.Auditor at the end), run in the
// simulator and over epoll loopback; their invariant outcomes must agree. A bug that only real
// epoll shows — a wakeup lost, EPOLLRDHUP, an EAGAIN storm, a race between two workers — shows
// up as a real run that fails where the simulated one passes. (It found one: a shut-down
// messenger drained its dispatch queue before its last connections had queued their final
// events; see TestEpollShutdownLeavesNothingQueued in msgr.)

// parityConfigs are small versions of Ceph's presets: lossless (stateful_server/lossless_client,
// lossless_peer_reuse) and lossy, with and without socket failures, with drops.
func parityConfigs() map[string]synthetic.Config {
	out := map[string]synthetic.Config{}
	for _, name := range []string{"inject", "inject2", "inject3", "stress1"} {
		c, _ := synthetic.Preset(name)
		c = c.Scaled(4, 8, 250, 16<<10)
		if name == "inject3" {
			c.SocketFailures = 30
		}
		out[name] = c
	}
	return out
}

// outcome is what parity compares: the invariants a run violated, and what it exercised.
type outcome struct {
	violated string // sorted names, "" when the run passed
	sent     int
	acked    int // lossless messages acknowledged (the ACK invariant was evaluated)
	checked  int // PONGs checked against their PINGs (Ceph's FIFO and content checks)
	injected int // socket failures injected
}

func (o outcome) String() string {
	v := o.violated
	if v == "" {
		v = "pass"
	}
	return fmt.Sprintf("%s (sent %d, acked %d, PONGs checked %d, socket failures %d)", v, o.sent, o.acked, o.checked, o.injected)
}

// compareOutcomes says how two runs of one configuration disagree ("" when they agree): the
// violated invariants must be the same, and each run must have exercised what the other did.
func compareOutcomes(simulated, real outcome, lossless, failures bool) string {
	var diffs []string
	if simulated.violated != real.violated {
		diffs = append(diffs, fmt.Sprintf("violations differ: simulator %q, epoll %q", simulated.violated, real.violated))
	}
	exercised := func(what string, a, b int, want bool) {
		if want && (a == 0) != (b == 0) {
			diffs = append(diffs, fmt.Sprintf("%s: simulator %d, epoll %d", what, a, b))
		}
	}
	exercised("messages sent", simulated.sent, real.sent, true)
	exercised("acknowledgements", simulated.acked, real.acked, lossless)
	exercised("socket failures", simulated.injected, real.injected, failures)
	return strings.Join(diffs, "; ")
}

func TestParitySimVsEpoll(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real TCP")
	}
	configs := parityConfigs()
	for _, name := range []string{"inject", "inject2", "inject3", "stress1"} {
		cfg := configs[name]
		t.Run(name, func(t *testing.T) {
			seed := uint64(len(name)) * 31
			s := simOutcome(cfg, seed)
			r := realOutcome(t, cfg, seed)
			t.Logf("simulator: %v", s)
			t.Logf("epoll:     %v", r)
			if d := compareOutcomes(s, r, !cfg.ClientPolicy.Lossy, cfg.SocketFailures > 0); d != "" {
				t.Errorf("%s: sim and epoll disagree: %s", cfg, d)
			}
			if s.violated != "" || r.violated != "" {
				t.Errorf("%s: invariants violated", cfg)
			}
		})
	}
}

func simOutcome(cfg synthetic.Config, seed uint64) outcome {
	opts := sim.DefaultOptions(seed)
	opts.Workload, opts.Synthetic = sim.WorkloadSynthetic, &cfg
	r := sim.Run(opts)
	o := outcome{violated: outcomeOf(r.Violations), sent: r.Sent, injected: r.Stats.Injected[sim.FaultSocketFailures]}
	if r.Synthetic != nil {
		o.checked = r.Synthetic.Stats.PongsChecked
	}
	o.acked = r.Acked
	return o
}

func realOutcome(t *testing.T, cfg synthetic.Config, seed uint64) outcome {
	r := runReal(t, cfg, seed, time.Minute)
	if len(r.leaked) > 0 {
		r.violations = append(r.violations, check.Violation{Name: "goroutine-leak"})
	}
	return outcome{violated: r.outcome(), sent: r.sent, acked: r.acked, checked: r.stats.PongsChecked, injected: int(r.injected)}
}

// The comparison is not one that cannot fail.
func TestCompareOutcomes(t *testing.T) {
	pass := outcome{sent: 10, acked: 5, injected: 3}
	if d := compareOutcomes(pass, pass, true, true); d != "" {
		t.Fatalf("equal outcomes differ: %s", d)
	}
	for _, c := range []struct {
		real outcome
		want string
	}{
		{outcome{violated: check.InvQueueLeftover, sent: 10, acked: 5, injected: 3}, "violations differ"},
		{outcome{sent: 10, acked: 0, injected: 3}, "acknowledgements"},
		{outcome{sent: 10, acked: 5, injected: 0}, "socket failures"},
		{outcome{}, "messages sent"},
	} {
		if d := compareOutcomes(pass, c.real, true, true); !strings.Contains(d, c.want) {
			t.Errorf("%+v: got %q, want it to mention %q", c.real, d, c.want)
		}
	}
}
