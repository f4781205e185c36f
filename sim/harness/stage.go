package harness

import (
	"runtime/debug"

	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/sim/world"
)

// Stages of a run outside the world's steps, where the workload's driver, the checks and the
// harness run code under test directly (Run.Stage, Run.StageHook): a panic there is the run's
// violation as a step's is.
const (
	StageBuild    = "build"    // Workload.Build: messengers made, bound, started
	StageSafety   = "safety"   // Workload.Safety between and around its RunUntil calls
	StageLiveness = "liveness" // Workload.Liveness: the healing, the done conditions
	StageFinish   = "finish"   // the loss check and Workload.Finish
	StageShutdown = "shutdown" // Workload.Shutdown: Shutdown called on every messenger
	StageModels   = "models"   // the model checks of the recorded histories
	StageReport   = "report"   // Workload.Report (Run.Report)
	StageRelease  = "release"  // Run.Release: the run's memory given to later runs
)

// stage enters a stage: it is named in the violation a panic there becomes, and StageHook, a
// test hook, is told.
func (r *Run) stage(s string) {
	r.Stage = s
	if r.StageHook != nil {
		r.StageHook(s)
	}
}

// recoverStage, deferred, turns a panic raised outside the world's steps into the run's
// violation, as a step's panic is (StepFailed): named by what panicked, with the stage, the
// phase and the stack; the run is Panicked, so nothing touches its messengers again and
// Release drops it.
func (r *Run) recoverStage() {
	v := recover()
	if v == nil {
		return
	}
	r.Panicked = true
	pe := &world.PanicError{Value: v, Stack: string(debug.Stack())}
	r.Check.Violate(check.PanicInvariant(v), r.now(), "%s (%s phase, outside a step): %v", r.Stage, r.Phase, pe)
}

// Report returns the workload's lines of the run's summary (Workload.Report), once the run is
// over. A panic in it is the run's violation (check.InvPanic, stage report) and the summary
// is empty.
func (r *Run) Report() string {
	defer r.recoverStage()
	r.stage(StageReport)
	return r.wl.Report()
}

// releasePanic, deferred by Release, turns a panic while releasing into a violation for the
// caller: the run is dropped (what was given back before the panic had been cleared whole).
func (r *Run) releasePanic(v **check.Violation) {
	p := recover()
	if p == nil {
		return
	}
	r.Panicked = true
	pe := &world.PanicError{Value: p, Stack: string(debug.Stack())}
	*v = &check.Violation{Name: check.PanicInvariant(p), AtNs: r.now(),
		Detail: StageRelease + " (after the run, outside a step): " + pe.Error()}
}
