package sim

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/sim/harness"
)

// stagePanicFreshEnv makes TestPanicOutsideAStepIsReported, in a child process, run one of its
// workloads as the process's first run and print its trace hash.
const stagePanicFreshEnv = "MSGRSIM_STAGE_PANIC_FRESH"

// stagePanicOptions are a run of each workload.
func stagePanicOptions() []Options {
	return []Options{DefaultOptions(3), clusterOptions(2, SwarmFaults(detrandSeeded(2))), syntheticOptions(4)}
}

// stages are the stages of a run outside the world's steps, in order.
var stages = []string{harness.StageBuild, harness.StageSafety, harness.StageLiveness, harness.StageFinish,
	harness.StageShutdown, harness.StageModels, harness.StageReport, harness.StageRelease}

// A panic outside a simulated step (in the workload's driver, the checks, the report, the
// release of the run's memory; injected as each stage begins) is the run's violation, named
// with its stage and with the stack, as a step's panic is; the process goes on, the run is
// dropped, and the runs after it in the process give the trace a fresh process gives.
func TestPanicOutsideAStepIsReported(t *testing.T) {
	all := stagePanicOptions()
	if k := os.Getenv(stagePanicFreshEnv); k != "" {
		i, err := strconv.Atoi(k)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("trace %016x\n", Run(all[i]).TraceHash)
		return
	}
	for _, o := range all {
		for _, stage := range stages {
			po := o
			po.panicAt = stage
			checkStagePanic(t, Run(po), stage)
		}
	}
	for i, o := range all {
		got := Run(o)
		if !got.Pass {
			t.Fatalf("%s after the panics: %v", o.Workload, got.Violations)
		}
		if fresh := freshTraceHash(t, i); got.TraceHash != fresh {
			t.Errorf("%s: trace %016x after the panicking runs, %016x in a fresh process", got.Workload, got.TraceHash, fresh)
		}
	}
}

// checkStagePanic checks the result of a run whose stage panicked.
func checkStagePanic(t *testing.T, r Result, stage string) {
	t.Helper()
	v := r.Violations
	if r.Pass || len(v) != 1 || v[0].Name != check.InvPanic {
		t.Fatalf("%s, panic at %s: pass %v, violations %v; want one %s", r.Workload, stage, r.Pass, v, check.InvPanic)
	}
	if !strings.HasPrefix(v[0].Detail, stage+" (") || !strings.Contains(v[0].Detail, "panic: injected panic at stage "+stage) ||
		!strings.Contains(v[0].Detail, "goroutine ") || !strings.Contains(v[0].Detail, "panicAtStage") {
		t.Fatalf("%s, panic at %s: detail %q; want the stage, the panic and its stack", r.Workload, stage, v[0].Detail)
	}
	wantPhase := map[string]string{harness.StageBuild: PhaseSafety, harness.StageSafety: PhaseSafety,
		harness.StageLiveness: PhaseSafety, harness.StageFinish: PhaseLiveness}[stage] // the hook runs before Heal
	if wantPhase != "" && r.Phase != wantPhase {
		t.Fatalf("%s, panic at %s: phase %s, want %s", r.Workload, stage, r.Phase, wantPhase)
	}
}

// freshTraceHash runs all[i] in a child process, as its first run.
func freshTraceHash(t *testing.T, i int) uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPanicOutsideAStepIsReported$", "-test.count=1")
	cmd.Env = append(os.Environ(), stagePanicFreshEnv+"="+strconv.Itoa(i))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run %d in a fresh process: %v\n%s", i, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if h, ok := strings.CutPrefix(line, "trace "); ok {
			fresh, err := strconv.ParseUint(h, 16, 64)
			if err != nil {
				t.Fatalf("run %d: %q", i, line)
			}
			return fresh
		}
	}
	t.Fatalf("run %d: the fresh process printed no trace:\n%s", i, out)
	return 0
}
