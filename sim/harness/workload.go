package harness

import (
	"errors"
	"iter"
	"time"

	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/sim/world"
)

// Phases of a run (Run.Phase).
const (
	PhaseSafety   = "safety"   // the workload runs and faults are injected
	PhaseLiveness = "liveness" // faults healed: everything the workload sent must arrive
	PhaseShutdown = "shutdown"
	PhaseDone     = "done"
)

// A Workload is what runs on the messengers of a simulated run: pingpong, the Ceph-shaped
// cluster, Ceph's SyntheticWorkload. Drive calls its phases in order; each phase that fails
// records its violation (the helpers below do) and Drive goes on or stops as documented.
type Workload interface {
	// Build starts the workload's processes and schedules its jobs (Drive then schedules the
	// faults). An error ends the run: no-progress at time 0.
	Build() error
	// Safety runs the safety phase: the workload's jobs, under the faults. False ends the run.
	Safety() bool
	// Liveness heals every fault (Heal) and runs until everything the workload sent has
	// arrived. Drive then checks that no lossless message was lost (check.Checker.Finish).
	Liveness()
	// Finish checks what the workload itself requires at the end (after the loss check).
	Finish()
	// Shutdown shuts every messenger down and runs until all are done.
	Shutdown()
	// Models says which recorded histories are model-checked after the run: the lossless
	// sessions (fifo), and a key-value history (kv, nil: none).
	Models() (fifo bool, kv *models.KVHistory)
	// Processes are what faults crash, pause and partition, in a stable order.
	Processes() []fault.Process
	// Report is called once the run is over, whatever phase it reached: the workload adds its
	// own counts (to Stats, to the coverage) and returns its lines of the run's summary.
	Report() string
}

// Drive runs wl on r, phase by phase: build, schedule the faults, safety, liveness, the
// end-of-run loss check, the workload's own checks, shutdown, the model checks. A run whose
// code under test panicked (Panicked), in a step or outside one (in a stage: the workload's
// driver, a check, the harness), stops after the phase that panicked: the panic is its
// violation, and its messengers, possibly torn and locked, are not shut down.
func (r *Run) Drive(wl Workload) {
	r.wl = wl
	defer r.recoverStage()      // last: a panic in FlushCounts too
	defer r.Audit.FlushCounts() // the audits' evaluations, counted in bulk, before coverage is read
	r.stage(StageBuild)
	if err := wl.Build(); err != nil {
		r.Check.Violate(check.InvNoProgress, 0, "build: %v", err)
		return
	}
	r.Injector.Schedule()
	r.stage(StageSafety)
	if !wl.Safety() || r.Exceeded != "" || r.Panicked {
		return
	}
	r.stage(StageLiveness)
	wl.Liveness()
	if r.Exceeded != "" || r.Panicked {
		return
	}
	r.stage(StageFinish)
	r.Check.Finish(r.now())
	wl.Finish()
	r.stage(StageShutdown)
	wl.Shutdown()
	if r.Exceeded != "" || r.Panicked {
		return
	}
	if r.Phase == PhaseDone { // every messenger shut down (not shutdown-stalled)
		r.Check.FinishFates(r.now())
	}
	r.stage(StageModels)
	if fifo, kv := wl.Models(); fifo {
		r.ModelReports = r.Histories.CheckModels(kv, r.Cfg.Seed, r.Cfg.Models)
	}
}

// Budgets a run can go past (Run.Exceeded).
const (
	BudgetSteps   = "steps"   // Config.StepBudget: deterministic
	BudgetAborted = "aborted" // Config.Abort said stop (wall time, interrupt): not deterministic
)

// ErrBudget is RunUntil's error once the run went past a budget: the run's one
// check.OutcomeBudget is recorded already, and the phase should record nothing more (StepFailed
// does not).
var ErrBudget = errors.New("budget exceeded")

// RunUntil runs the world until done holds, for at most the run's steps per phase (see
// world.World.RunUntil) and within its budgets. Past a budget it records the run's one
// check.OutcomeBudget and returns an error for which StepFailed records nothing more. A panic
// in a step is returned as a *world.PanicError and marks the run Panicked.
func (r *Run) RunUntil(done func() bool, limit time.Duration) error {
	if r.Exceeded != "" {
		return ErrBudget
	}
	steps, budgeted := r.Cfg.MaxSteps, false
	if b := r.Cfg.StepBudget; b > 0 {
		if left := b - min(b, r.W.Steps()); left <= steps {
			steps, budgeted = left, true
		}
	}
	err := r.W.RunUntil(done, limit, steps)
	switch {
	case err == nil:
	case isPanic(err):
		r.Panicked = true
	case errors.Is(err, world.ErrAborted):
		r.Exceeded = BudgetAborted
		r.Check.Violate(check.OutcomeBudget, r.now(), "stopped by its caller after %d steps (a wall-time budget or an interrupt: not deterministic)", r.W.Steps())
		return ErrBudget
	case budgeted && r.W.Steps() >= r.Cfg.StepBudget:
		r.Exceeded = BudgetSteps
		r.Check.Violate(check.OutcomeBudget, r.now(), "the run's budget of %d steps is spent (phase %s)", r.Cfg.StepBudget, r.Phase)
		return ErrBudget
	}
	return err
}

// AllIssued reports whether every scheduled job (the workload's sends, the faults) has run.
func (r *Run) AllIssued() bool { return !r.W.HasJobs() }

// StepFailed records why running the world failed: a panic in the code under test (named by
// what panicked), or else the phase's own invariant.
func (r *Run) StepFailed(name string, err error, what string) {
	if errors.Is(err, ErrBudget) {
		return // recorded once, as check.OutcomeBudget
	}
	if pe := (*world.PanicError)(nil); errors.As(err, &pe) {
		name = check.PanicInvariant(pe.Value)
	}
	r.Check.Violate(name, r.now(), "%s: %v", what, err)
}

// isPanic reports whether err is a panic of the code under test (a *world.PanicError).
func isPanic(err error) bool {
	pe := (*world.PanicError)(nil)
	return errors.As(err, &pe)
}

// StepFailedWith is StepFailed with the phase's description made by what, which is called
// only when the run did not panic: it may count the messengers' queues (Unsettled), which a
// panic may have left locked (the phase's name stands for it then).
func (r *Run) StepFailedWith(name string, err error, what func() string) {
	if r.Panicked {
		r.StepFailed(name, err, r.Phase+" phase")
		return
	}
	r.StepFailed(name, err, what())
}

// Heal enters the liveness phase: every fault is healed and stops being injected.
func (r *Run) Heal() {
	r.Phase = PhaseLiveness
	r.W.Trace.Logf(r.W.Now(), "phase: liveness (heal everything)")
	r.W.Net.Heal()
	r.W.Net.SetConnectFault(nil)
	r.W.Unpause()
	for _, s := range r.sockets {
		s.SetRate(0)
	}
}

// Unsettled counts the connections of the messengers live yields still holding messages
// (queued, or sent and not acknowledged).
func (r *Run) Unsettled(live iter.Seq[*msgr.Messenger]) int {
	if r.unsettledFn == nil {
		r.unsettledFn = func(m *msgr.Messenger) bool {
			r.conns = m.AppendConnections(r.conns[:0])
			for _, c := range r.conns {
				if c.Queued() > 0 || c.Held() > 0 {
					r.unsettledN++
				}
			}
			return true
		}
	}
	r.unsettledN = 0
	live(r.unsettledFn)
	return r.unsettledN
}

// ShutdownAll enters the shutdown phase: every messenger live yields shuts down, and the world
// runs until every one live yields has finished (shutdown-stalled otherwise); then every
// messenger is audited a last time.
func (r *Run) ShutdownAll(live iter.Seq[*msgr.Messenger]) {
	r.Phase = PhaseShutdown
	for m := range live {
		m.Shutdown()
	}
	// done asks live at every step; its yield function is made once (a range over live in
	// done would allocate one per step).
	finished := true
	each := func(m *msgr.Messenger) bool {
		finished = m.Finished()
		return finished
	}
	done := func() bool {
		finished = true
		live(each)
		return finished
	}
	if err := r.RunUntil(done, r.W.Now()+time.Minute); err != nil {
		r.StepFailed(check.InvShutdownStalled, err, "shutdown")
		return
	}
	r.Audit.AfterStep(nil)
	r.Phase = PhaseDone
}
