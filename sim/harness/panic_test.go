package harness

import (
	"fmt"
	"net/netip"
	"slices"
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

// twoOSDs is a workload of two lossless OSD messengers: osd.0 sends to osd.1 during the
// safety phase, and once more after healing; osd.1 fast-dispatches everything. With panicky
// set, osd.1's tracer panics when its connection reads the message sent in the liveness
// phase: the messenger traces that (TraceDeliver) from inside the protocol core's step, with
// the connection's lock held, and the panic leaves it locked.
type twoOSDs struct {
	r          *Run
	panicky    bool
	panicDone  bool // the liveness phase's done condition panics (outside a step)
	nodes      [2]*osdNode
	sends      int
	dispatched int
	lateID     uint64 // the message sent in the liveness phase
	ran        []string
}

type osdNode struct {
	msgr.NopDispatcher
	wl  *twoOSDs
	idx int
	m   *msgr.Messenger
}

func (n *osdNode) TraceID() (uint64, uint64) { return uint64(n.idx), 1 }
func (n *osdNode) Receiver() string          { return fmt.Sprintf("osd.%d#1", n.idx) }

func (n *osdNode) CanFastDispatchAny() bool           { return true }
func (n *osdNode) CanFastDispatch(*msgr.Message) bool { return true }
func (n *osdNode) FastDispatch(_ *msgr.Connection, m *msgr.Message) {
	wl := n.wl
	wl.r.Check.Dispatched(n.Receiver(), m.Header.Tid, true, wl.r.now())
	wl.dispatched++
}

// tracer is the harness's tracer of n, which panics as the type comment says.
func (n *osdNode) tracer() func(msgr.TraceEvent) {
	trace := n.wl.r.Tracer(n)
	return func(ev msgr.TraceEvent) {
		trace(ev)
		wl := n.wl
		if wl.panicky && n.idx == 1 && ev.Kind == msgr.TraceDeliver && ev.Msg.Header.Tid == wl.lateID && wl.lateID != 0 {
			panic("index out of range [3] with length 3") // a crash in the code under test
		}
	}
}

func (wl *twoOSDs) Build() error {
	wl.ran = append(wl.ran, "build")
	r := wl.r
	for i := range wl.nodes {
		n := &osdNode{wl: wl, idx: i}
		ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
		m, err := msgr.New(msgr.Config{Name: wire.NewName(wire.EntityOSD, int64(i)), Stack: r.W.AddHost(n.Receiver(), ip),
			Runtime: r.W, Rand: r.W.Rand(), ClusterProtocol: wire.ProtoOSDPeer, Tracer: n.tracer(), Recycler: &r.Recycler})
		if err != nil {
			return err
		}
		m.SetPolicy(wire.EntityOSD, proto.LosslessPeer(0))
		if err := m.Bind(netip.AddrPortFrom(ip, 0)); err != nil {
			return err
		}
		if err := m.Start(); err != nil {
			return err
		}
		m.AddDispatcherTail(n)
		r.Audit.Add(n.Receiver(), m)
		n.m, wl.nodes[i] = m, n
	}
	for range 20 {
		r.W.Schedule(time.Duration(r.Rand.Uint64N(uint64(r.Cfg.Window))), func() { wl.send() })
	}
	return nil
}

// send sends one lossless message from osd.0 to osd.1 and returns its id.
func (wl *twoOSDs) send() uint64 {
	r, from, to := wl.r, wl.nodes[0], wl.nodes[1]
	c, err := from.m.ConnectTo(wire.EntityOSD, to.m.MyAddr())
	if err != nil {
		r.Check.Violate(check.InvNoProgress, r.now(), "connect_to: %v", err)
		return 0
	}
	id := r.NextID()
	m := r.Mem.Message(wire.MsgPing, r.Mem.Bytes(16))
	m.Header.Tid = id
	r.Check.SentOn(from.Receiver(), to.Receiver(), check.SessionID(1, c.ID()), m.Header.Priority, id, true)
	if err := c.SendMessage(m); err != nil {
		r.Check.Dropped(id)
	}
	wl.sends++
	return id
}

func (wl *twoOSDs) Safety() bool {
	wl.ran = append(wl.ran, "safety")
	if err := wl.r.RunUntil(wl.r.AllIssued, time.Minute); err != nil {
		wl.r.StepFailed(check.InvNoProgress, err, "safety phase")
		return false
	}
	return true
}

func (wl *twoOSDs) live(yield func(*msgr.Messenger) bool) {
	for _, n := range wl.nodes {
		if !yield(n.m) {
			return
		}
	}
}

func (wl *twoOSDs) Liveness() {
	wl.ran = append(wl.ran, "liveness")
	r := wl.r
	r.Heal()
	wl.lateID = wl.send()
	done := func() bool {
		if wl.panicDone {
			panic("nil map in the done condition") // a crash in code the driver calls between steps
		}
		return r.W.Quiet() && r.Unsettled(wl.live) == 0 && r.Check.PendingLossless() == 0
	}
	if err := r.RunUntil(done, r.W.Now()+r.Cfg.Liveness); err != nil {
		r.StepFailedWith(check.InvLiveness, err, func() string {
			return fmt.Sprintf("%d unsettled", r.Unsettled(wl.live))
		})
	}
}

func (wl *twoOSDs) Finish() { wl.ran = append(wl.ran, "finish") }
func (wl *twoOSDs) Shutdown() {
	wl.ran = append(wl.ran, "shutdown")
	wl.r.ShutdownAll(wl.live)
}
func (wl *twoOSDs) Models() (bool, *models.KVHistory) { return true, nil }
func (wl *twoOSDs) Processes() []fault.Process        { return nil }
func (wl *twoOSDs) Report() string                    { return "" }

// runTwoOSDs runs the workload for seed and returns it and its trace hash; the run is
// released (recycled, or dropped once it panicked).
func runTwoOSDs(t *testing.T, seed uint64, panicky bool) (*twoOSDs, *Run, uint64) {
	t.Helper()
	return runTwoOSDsWith(t, seed, func(wl *twoOSDs) { wl.panicky = panicky })
}

// runTwoOSDsWith is runTwoOSDs with the workload (and its run) set up by setup before Drive.
func runTwoOSDsWith(t *testing.T, seed uint64, setup func(*twoOSDs)) (*twoOSDs, *Run, uint64) {
	t.Helper()
	r := New(Config{Seed: seed, Root: detrand.NewSeeded(seed), Faults: fault.None(), Window: 10 * time.Millisecond,
		Liveness: time.Minute, MaxSteps: 1_000_000, Models: models.CheckOptions{NoVisualize: true}})
	wl := &twoOSDs{r: r}
	setup(wl)
	r.Drive(wl)
	hash := r.W.Trace.Hash()
	return wl, r, hash
}

// A panic in the code under test with a messenger's lock held (here: under the receiving
// connection's lock, in the liveness phase) is the run's violation: the run
// stops there, does not shut its messengers down (Shutdown would block on the lock: "all
// goroutines are asleep - deadlock!"), and Release drops it instead of recycling it. The run
// after it in the process, recycling on, is the run a fresh process makes.
func TestPanicWithLockHeldIsReportedNotRecycled(t *testing.T) {
	const seed = 7
	wl, r, before := runTwoOSDs(t, seed, false)
	if v := r.Check.Violations(); len(v) != 0 || r.Phase != PhaseDone || wl.dispatched != wl.sends || wl.sends != 21 {
		t.Fatalf("the run without the panic: phase %s, %d of %d dispatched, violations %v", r.Phase, wl.dispatched, wl.sends, v)
	}
	r.Release()

	wl, r, _ = runTwoOSDs(t, seed, true)
	v := r.Check.Violations()
	if len(v) != 1 || v[0].Name != check.InvPanic || !strings.Contains(v[0].Detail, "liveness phase: panic: index out of range") ||
		!strings.Contains(v[0].Detail, "panic_test.go") {
		t.Fatalf("violations %v, want one %s from the liveness phase", v, check.InvPanic)
	}
	if !r.Panicked || r.Phase != PhaseLiveness || strings.Join(wl.ran, " ") != "build safety liveness" || r.ModelReports != nil {
		t.Fatalf("panicked %v, phase %s, phases run %v, model reports %v: the run went on after the panic",
			r.Panicked, r.Phase, wl.ran, r.ModelReports)
	}
	r.Release()
	spareRuns.mu.Lock()
	kept := slices.Contains(spareRuns.runs, r)
	spareRuns.mu.Unlock()
	if kept {
		t.Fatal("the run that panicked was kept for later runs")
	}

	for range 2 { // the next runs in the process: the same trace as before the panic
		wl, r, after := runTwoOSDs(t, seed, false)
		if v := r.Check.Violations(); len(v) != 0 || r.Phase != PhaseDone || after != before {
			t.Fatalf("a run after the panicking one: phase %s, %d of %d dispatched, trace hash %#x, want %#x, violations %v",
				r.Phase, wl.dispatched, wl.sends, after, before, v)
		}
		r.Release()
	}
}

// kept reports whether r is among the runs kept for later ones.
func kept(r *Run) bool {
	spareRuns.mu.Lock()
	defer spareRuns.mu.Unlock()
	return slices.Contains(spareRuns.runs, r)
}

// A panic outside the world's steps (as a stage begins, or in the done condition the
// liveness phase evaluates between steps, which world.RunUntil does not recover) is the run's
// violation with its stage and stack, the run stops there (Panicked) and Release drops it;
// a panic in Release itself comes back as a violation and the run is dropped too. The runs
// after each give the trace they gave before.
func TestPanicOutsideAStepIsReportedNotRecycled(t *testing.T) {
	const seed = 7
	_, r, before := runTwoOSDs(t, seed, false)
	r.Release()
	hookAt := func(stage string) func(*twoOSDs) {
		return func(wl *twoOSDs) {
			wl.r.StageHook = func(s string) {
				if s == stage {
					panic("boom at " + s)
				}
			}
		}
	}
	cases := []struct {
		name, stage, want, ran string
		setup                  func(*twoOSDs)
	}{
		{"build", StageBuild, "boom at build", "", hookAt(StageBuild)},
		{"liveness", StageLiveness, "boom at liveness", "build safety", hookAt(StageLiveness)},
		{"done condition", StageLiveness, "nil map in the done condition", "build safety liveness",
			func(wl *twoOSDs) { wl.panicDone = true }},
		{"finish", StageFinish, "boom at finish", "build safety liveness", hookAt(StageFinish)},
		{"shutdown", StageShutdown, "boom at shutdown", "build safety liveness finish", hookAt(StageShutdown)},
		{"models", StageModels, "boom at models", "build safety liveness finish shutdown", hookAt(StageModels)},
	}
	for _, tc := range cases {
		wl, r, _ := runTwoOSDsWith(t, seed, tc.setup)
		v := r.Check.Violations()
		if len(v) != 1 || v[0].Name != check.InvPanic || !strings.HasPrefix(v[0].Detail, tc.stage+" (") ||
			!strings.Contains(v[0].Detail, "panic: "+tc.want) || !strings.Contains(v[0].Detail, "panic_test.go") {
			t.Fatalf("%s: violations %v, want one %s at %s with its stack", tc.name, v, check.InvPanic, tc.stage)
		}
		if !r.Panicked || strings.Join(wl.ran, " ") != tc.ran || r.ModelReports != nil {
			t.Fatalf("%s: panicked %v, phases run %q (want %q), model reports %v", tc.name, r.Panicked, wl.ran, tc.ran, r.ModelReports)
		}
		if pv := r.Release(); pv != nil || kept(r) {
			t.Fatalf("%s: release %v, kept %v", tc.name, pv, kept(r))
		}
		if _, r, after := runTwoOSDs(t, seed, false); after != before || len(r.Check.Violations()) != 0 {
			t.Fatalf("%s: the next run's trace hash %#x, want %#x (violations %v)", tc.name, after, before, r.Check.Violations())
		} else {
			r.Release()
		}
	}
	// Release: the messengers are given back, then the hook panics.
	_, r, _ = runTwoOSDsWith(t, seed, hookAt(StageRelease))
	if v := r.Check.Violations(); len(v) != 0 || r.Phase != PhaseDone {
		t.Fatalf("release case: violations %v before releasing, phase %s", v, r.Phase)
	}
	pv := r.Release()
	if pv == nil || pv.Name != check.InvPanic || !strings.HasPrefix(pv.Detail, StageRelease+" (") ||
		!strings.Contains(pv.Detail, "boom at release") || kept(r) {
		t.Fatalf("release: violation %v, kept %v", pv, kept(r))
	}
	for range 2 {
		if _, r, after := runTwoOSDs(t, seed, false); after != before {
			t.Fatalf("after a panic in release: trace hash %#x, want %#x", after, before)
		} else {
			r.Release()
		}
	}
}
