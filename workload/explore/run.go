package explore

import (
	"slices"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/sim/harness"
)

// Config is one explored run: a policy and the fault points it fires (none: the scenario as
// is, from which the points are enumerated).
type Config struct {
	Policy Policy
	Points []Point
	// Seed 0 draws every decision of the run as decision 0 (the tamest: whole buffers, the
	// first ready center, no jitter), so the fault points are the only disturbance; another
	// seed draws them from that seed.
	Seed      uint64
	KeepTrace bool
	// Variant changes the scenario (opt-in; the zero Variant is the default scenario).
	Variant Variant

	markDownAt time.Duration // test hook: the connector marks the acceptor down then (0: never)
}

// Result is what one explored run found.
type Result struct {
	Policy     string
	Points     []Point
	Fired      []bool // by point: whether the run reached it
	Pass       bool
	Violations []check.Violation
	Trace      []string
	TraceHash  uint64
	Virtual    time.Duration
	Steps      uint64
	Resets     int // session resets the nodes were told of (reset and remote_reset events)
	Lost       int // lossless messages never dispatched, their loss excused (by a reset or a drop)
	// Written counts the elements each side began writing, by name (Elements orders them).
	Written [2]map[string]int
	// Writes counts each side's Writev calls that reached its socket (none during a hold).
	Writes [2]int
	// Before is, by point, what Written was when it fired.
	Before [][2]map[string]int
}

// AllFired reports whether every point of the run fired.
func (r Result) AllFired() bool { return !slices.Contains(r.Fired, false) }

// Run runs the scenario under cfg's policy with exactly cfg's fault points and checks every
// invariant of the simulator (harness.Run.Drive: the delivery checker, the auditor after every
// step, liveness, shutdown, the fifo model, and the wire checks of the frame tracker).
func Run(cfg Config) Result {
	root := detrand.NewSeeded(cfg.Seed)
	if cfg.Seed == 0 {
		root, _ = detrand.NewTaped(nil)
	}
	h := harness.New(harness.Config{Seed: cfg.Seed, Root: root, Faults: fault.None(), KeepTrace: cfg.KeepTrace,
		Window: 10 * time.Millisecond, Liveness: 2 * time.Minute, MaxSteps: 1_000_000,
		Models: models.CheckOptions{NoVisualize: true}})
	x := newExplorer(h, cfg.Points, StallFor, BlockFor)
	sc := newScenario(h, cfg.Policy, x)
	sc.markDownAt = cfg.markDownAt
	sc.v = cfg.Variant
	h.Drive(sc)
	r := Result{Policy: cfg.Policy.Name, Points: cfg.Points, Fired: x.fired, Violations: h.Check.Violations(),
		Trace: h.W.Trace.Lines(), TraceHash: h.W.Trace.Hash(), Virtual: h.W.Now(), Steps: h.W.Steps(), Written: x.written, Writes: x.writes, Before: x.before, Resets: h.Stats.SessionResets}
	_, r.Lost = h.Check.LosslessCounts()
	r.Pass = len(r.Violations) == 0
	return r
}
