package harness

import (
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/sim/fault"
)

type counter struct{ evaluated map[string]int }

func (c *counter) Evaluated(inv string, n int)   { c.evaluated[inv] += n }
func (c *counter) TagWritten(bool, wire.Tag)     {}
func (c *counter) TagRead(bool, wire.Tag)        {}
func (c *counter) Observe(msgr.TraceEvent)       {}
func (c *counter) ObserveState(_, _ proto.State) {}
func newRun(seed uint64) (*Run, *counter) {
	c := &counter{evaluated: map[string]int{}}
	r := New(Config{Seed: seed, Root: detrand.NewSeeded(seed), Faults: fault.None(), Window: 10 * time.Millisecond,
		Liveness: time.Second, MaxSteps: 1000, Coverage: c, Models: models.CheckOptions{NoVisualize: true}})
	return r, c
}

// phases is a workload without messengers that records which phases ran; its safety phase
// runs job.
type phases struct {
	r   *Run
	job func()
	ran []string
}

func (p *phases) Build() error {
	p.ran = append(p.ran, "build")
	p.r.W.Schedule(time.Millisecond, p.job)
	return nil
}

func (p *phases) Safety() bool {
	p.ran = append(p.ran, "safety")
	if err := p.r.RunUntil(p.r.AllIssued, time.Second); err != nil {
		p.r.StepFailed(check.InvNoProgress, err, "safety phase")
		return false
	}
	return true
}

func (p *phases) Liveness() { p.ran = append(p.ran, "liveness"); p.r.Heal() }
func (p *phases) Finish()   { p.ran = append(p.ran, "finish") }
func (p *phases) Shutdown() {
	p.ran = append(p.ran, "shutdown")
	p.r.ShutdownAll(func(func(*msgr.Messenger) bool) {})
}
func (p *phases) Models() (bool, *models.KVHistory) { return true, nil }
func (p *phases) Processes() []fault.Process        { return nil }
func (p *phases) Report() string                    { return "" }

// Drive runs the phases in order and model-checks the (empty) histories.
func TestDriveRunsThePhases(t *testing.T) {
	r, c := newRun(1)
	p := &phases{r: r, job: func() {}}
	r.Drive(p)
	if got := strings.Join(p.ran, " "); got != "build safety liveness finish shutdown" {
		t.Fatalf("phases %q", got)
	}
	if r.Phase != PhaseDone || len(r.ModelReports) != 1 || c.evaluated[check.InvFIFO] != 1 || r.Check.Failed() {
		t.Fatalf("phase %s, reports %v, evaluated %v, violations %v", r.Phase, r.ModelReports, c.evaluated, r.Check.Violations())
	}
}

// A panic in the code under test ends the run, named by what panicked: a throttle underflow
// is throttle-negative.
func TestPanicsBecomeViolations(t *testing.T) {
	for _, c := range []struct {
		panic any
		want  string
	}{{"msgr: throttle released more than it held", check.InvThrottleNeg}, {"index out of range", check.InvPanic}} {
		r, _ := newRun(1)
		p := &phases{r: r, job: func() { panic(c.panic) }}
		r.Drive(p)
		v := r.Check.Violations()
		if len(v) != 1 || v[0].Name != c.want || !strings.Contains(v[0].Detail, "harness_test.go") || len(p.ran) != 2 {
			t.Fatalf("panic %q: phases %v, violations %v", c.panic, p.ran, v)
		}
	}
}
