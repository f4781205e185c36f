package harness

import (
	"sync"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// Config shapes one run.
type Config struct {
	Seed      uint64
	Root      *detrand.Rand // the run's decisions: seeded, recorded, taped or fuzzed
	Faults    fault.Mix
	KeepTrace bool          // keep a readable trace and the timeline marks
	Window    time.Duration // the safety phase: sends and faults are spread over it
	Liveness  time.Duration // virtual time the liveness phase may take
	MaxSteps  uint64        // bound on scheduling decisions per phase
	// StepBudget bounds the scheduling decisions of the whole run (0: none); Abort, polled
	// every 1024 steps, stops it early (a wall-clock budget, an interrupt). A run past either
	// ends as check.OutcomeBudget (Run.Exceeded says which), and nothing after it runs.
	StepBudget uint64
	Abort      func() bool
	Coverage   Coverage // counts what the run exercises (nil: nothing)
	Knobs      Knobs    // the messengers' configuration (the zero value: the defaults)
	Models     models.CheckOptions
	// Auth is the run's authentication: "" (none) or "cephx" (the workload's sessions with
	// authorizers are signed). The tamper fault rewrites messages only on sessions opened
	// with a cephx authorizer under cephx, on any session otherwise.
	Auth string
}

// Coverage counts what a run exercises: the invariants evaluated and the tags the frame
// tracker sees (fault.Counter), and the messenger trace events it counts (Observe: those of
// kinds TraceFault, TraceDecision and TraceReach, and ObserveState: TraceState; the others,
// several per message, are not handed to it). sim.Coverage implements it.
type Coverage interface {
	fault.Counter
	Observe(ev msgr.TraceEvent)
	// ObserveState is Observe of a TraceState event from from to to (several per message:
	// the harness does not copy the whole event for them).
	ObserveState(from, to proto.State)
}

// Run is one simulated run: the world, the checks and the fault injector, wired together
// once, and the state the phases share. A Workload runs on it (Drive).
type Run struct {
	Cfg       Config
	W         *world.World
	Rand      *detrand.Rand // the workload's decisions
	FaultRand *detrand.Rand // the fault decisions (the injector's, and when crashed processes restart)
	Faults    fault.Mix     // the run's faults (a workload may turn kinds off before Drive schedules them)
	Injector  *fault.Injector
	Check     *check.Checker
	Audit     *check.Auditor
	Histories *check.Histories
	// Sessions is the protocol-conformance monitor (fed by the injector's frame tracker) and
	// the attribution of every session reset (fed by Trace).
	Sessions *check.Sessions
	Cov      Coverage
	KV       *models.KVHistory // a key-value history to model-check after the run (nil: none)
	Phase    string
	Stats    Stats
	// ModelReports are the porcupine checks of the recorded histories, once the run is over.
	ModelReports []models.Report
	// Exceeded is the budget the run went past: "" (none), BudgetSteps or BudgetAborted.
	Exceeded string
	// Panicked says the code under test panicked in a step (RunUntil recovered it, and
	// StepFailed records it as its violation). The run is torn: a messenger may have been left
	// half-way through a change with a lock held, so nothing may touch its messengers any
	// more. Drive runs no later phase (no loss check, no shutdown, no model check), workloads
	// ask their messengers nothing more (StepFailedWith), and Release keeps nothing of the run
	// for later runs.
	Panicked bool
	// Stage is where the run is outside the world's steps (StageBuild … StageRelease): a panic
	// raised there, in the workload's driver, a check or the harness, is recovered and is the
	// run's violation like a step's (Panicked too), named with the stage.
	Stage string
	// StageHook, a test hook (nil: none), is called as each stage begins; a test makes it panic
	// to see such a panic reported.
	StageHook func(stage string)
	// Mem is where workloads take the messages they send from (see SendMemory).
	Mem SendMemory
	// Recycler is every workload's msgr.Config.Recycler: Release gives the run's messengers,
	// their connections and their centers to the runs after it.
	Recycler msgr.Recycler

	wl      Workload
	nextID  uint64
	held    int                       // messages held back by dispatch delay injection
	opened  map[*msgr.Connection]bool // connections that had a session
	sockets []*Sockets
	// Unsettled's function for live (built once: the liveness phase asks at every step), its
	// count and its scratch list of connections
	unsettledFn func(*msgr.Messenger) bool
	unsettledN  int
	conns       []*msgr.Connection
	incs        map[uint64]incarnation      // the last incarnation traced per messenger (ids past maxDenseIncs)
	incDense    []incSlot                   // the same for ids below maxDenseIncs
	excuse      map[*msgr.Connection][]bool // per reset event queued: was it attributed
}

// incarnation is a messenger's incarnation as Trace last saw it, its address and the
// messenger.
type incarnation struct {
	inc  uint64
	addr wire.EntityAddr
	m    *msgr.Messenger
}

// New builds a run: the world (its network's latency shaped by the faults), the workload's and
// the faults' random sources, forked in that order, the checker and the auditor (after every
// step), the fault injector and its frame tracker, and the histories.
func New(cfg Config) *Run {
	r := newRunMem()
	r.Cfg, r.Faults, r.Check, r.Cov, r.Phase = cfg, cfg.Faults, newChecker(), cfg.Coverage, PhaseSafety
	if r.opened == nil {
		r.opened, r.incs, r.excuse = map[*msgr.Connection]bool{}, map[uint64]incarnation{}, map[*msgr.Connection][]bool{}
	}
	if r.Cov == nil {
		r.Cov = noCoverage{}
	}
	netCfg := simnet.Config{Latency: 100 * time.Microsecond}
	if r.Faults.On[fault.Latency] {
		netCfg.LatencySpread, netCfg.Jitter = r.Faults.LatencySpread, r.Faults.Jitter
	}
	r.W = world.NewFrom(cfg.Seed, cfg.Root, netCfg, cfg.KeepTrace)
	r.W.Abort = cfg.Abort
	r.Rand, r.FaultRand = r.W.Rand(), r.W.Rand()
	r.Audit = check.NewAuditor(r.Check, r.now)
	r.Audit.SetListening(r.W.Net.Listening)
	// counter is what the monitor, the frame tracker and the auditor count into: nothing at
	// all without coverage (the tracker then keeps no tag marks).
	var counter Coverage
	if cfg.Coverage != nil {
		counter = r.Cov
	}
	r.Sessions = check.NewSessions(r.Check, r.now, counter)
	r.Sessions.SetResetcheck(r.resetcheck)
	r.W.AfterStep = r.Audit.AfterStep
	r.Injector = fault.New(r.W, fault.Config{Faults: &r.Faults, Window: cfg.Window, Rand: r.FaultRand,
		Targets: r.targets, Active: func() bool { return r.Phase == PhaseSafety },
		Violate: func(name, detail string) { r.Check.Violate(name, r.now(), "%s", detail) }, Count: counter,
		Monitor: r.Sessions, TamperAny: cfg.Auth != "cephx",
		Tampered: func(tid uint64, front []byte) { r.Check.Tampered(tid, front) }})
	r.W.Net.SetTracer(r.netTraced)
	r.Histories = r.Check.Record(r.now, r.Cov)
	r.Audit.Count(counter)
	return r
}

// resetcheck tells the reset attribution whether the last incarnation traced with nonce has
// resetcheck in its policy for peers of type t (true when no such messenger is known, or any
// of several with that nonce has).
func (r *Run) resetcheck(nonce uint32, t wire.EntityType) bool {
	found, rc := false, false
	see := func(in incarnation) {
		if in.m != nil && in.addr.Nonce == nonce {
			found = true
			rc = rc || in.m.Policy(t).Resetcheck
		}
	}
	for _, sl := range r.incDense {
		if sl.seen {
			see(sl.last)
		}
	}
	for _, in := range r.incs { //lint:ordered (an or over all)
		see(in)
	}
	return rc || !found
}

// noCoverage counts nothing.
type noCoverage struct{}

func (noCoverage) Evaluated(string, int)         {}
func (noCoverage) TagWritten(bool, wire.Tag)     {}
func (noCoverage) TagRead(bool, wire.Tag)        {}
func (noCoverage) Observe(msgr.TraceEvent)       {}
func (noCoverage) ObserveState(_, _ proto.State) {}

// now is the virtual time as the checkers stamp it.
func (r *Run) now() int64 { return int64(r.W.Now()) }

// targets are what faults crash, pause and partition: the workload's processes.
func (r *Run) targets() []fault.Process { return r.wl.Processes() }

// netTraced counts the bytes the network corrupted.
func (r *Run) netTraced(tr simnet.Transfer) {
	if tr.Corrupt {
		r.Stats.BytesCorrupted++
		r.W.Trace.Logf(r.W.Now(), "network: corrupted byte %d of %v", tr.CorruptOffset, tr)
	}
}

// NextID is a new message id, unique in the run.
func (r *Run) NextID() uint64 {
	r.nextID++
	return r.nextID
}

// Opened counts a session opened on c (a connect or accept event): a reconnect if c had one.
func (r *Run) Opened(c *msgr.Connection) {
	if r.opened[c] {
		r.Stats.Reconnects++
	}
	r.opened[c] = true
}

// LogFaults writes the run's fault mix into the readable trace.
func (r *Run) LogFaults() {
	r.W.Trace.Logf(0, "faults: %v", r.Faults)
	if r.Cfg.Knobs != (Knobs{}) {
		r.W.Trace.Logf(0, "knobs: %v", r.Cfg.Knobs)
	}
}

// Note logs an injected fault and marks it on node's lane of the timeline (fault.Injector.Note).
func (r *Run) Note(node, format string, args ...any) { r.Injector.Note(node, format, args...) }

// DispatchedTampered checks a dispatched message (tid, front) against the tamper fault: on a
// signed session a tampered front is a violation (check.InvTamperedDispatch), on an unsigned
// one it is counted (Stats.TamperedDispatched: crcs alone do not protect).
func (r *Run) DispatchedTampered(rcv string, tid uint64, front []byte, signed bool) {
	if !r.Faults.On[fault.Tamper] {
		return
	}
	if signed {
		r.Cov.Evaluated(check.InvTamperedDispatch, 1)
	}
	if r.Check.DispatchedTampered(rcv, tid, front, signed, r.now()) && !signed {
		r.Stats.TamperedDispatched++
	}
}

// Release gives the memory the run kept for itself (the network's buffer chunks, the frame
// tracker's per-connection blocks, the send blocks, the checker and its records, the
// messengers made with Recycler) to the runs made after this one in the process. Call it
// once the run is over and its result taken: nothing of the run, r itself included, may be
// used after it (r is cleared and serves a later run). A run that panicked (Panicked) is
// dropped instead: its messengers, network, checker and blocks are left to the garbage
// collector, since they may be torn and locked. A panic while releasing is recovered: the
// run is dropped there, and the violation it is comes back (nil: none) for the caller to add
// to the run's result, taken before.
func (r *Run) Release() (panicked *check.Violation) {
	if r.Panicked {
		return nil
	}
	defer r.releasePanic(&panicked)
	r.Stage = StageRelease
	r.Recycler.Recycle()
	if r.StageHook != nil {
		r.StageHook(StageRelease) // the messengers given back, the rest not yet
	}
	r.W.Net.Release()
	r.Injector.Release()
	r.Mem.Release()
	r.Check.Reset()
	spareCheckers.Put(r.Check)
	r.recycle()
	return nil
}

// spareRuns holds finished runs, cleared (they keep their maps and slices, empty, and
// unsettledFn, bound to the run itself), for the runs made later in the process.
var spareRuns struct {
	mu   sync.Mutex
	runs []*Run
}

// maxSpareRuns bounds spareRuns.
const maxSpareRuns = 8

// recycle clears r and keeps it in spareRuns.
func (r *Run) recycle() {
	opened, incs, excuse := r.opened, r.incs, r.excuse
	clear(opened)
	clear(incs)
	clear(excuse)
	sockets, conns, dense := r.sockets[:cap(r.sockets)], r.conns[:cap(r.conns)], r.incDense[:cap(r.incDense)]
	clear(sockets)
	clear(conns)
	clear(dense)
	unsettled := r.unsettledFn
	*r = Run{}
	r.opened, r.incs, r.excuse = opened, incs, excuse
	r.sockets, r.conns, r.incDense = sockets[:0], conns[:0], dense[:0]
	r.unsettledFn = unsettled
	spareRuns.mu.Lock()
	if len(spareRuns.runs) < maxSpareRuns {
		spareRuns.runs = append(spareRuns.runs, r)
	}
	spareRuns.mu.Unlock()
}

// newRunMem is a zero run: a recycled one (see recycle), or a new one.
func newRunMem() *Run {
	spareRuns.mu.Lock()
	defer spareRuns.mu.Unlock()
	if k := len(spareRuns.runs) - 1; k >= 0 {
		r := spareRuns.runs[k]
		spareRuns.runs[k] = nil
		spareRuns.runs = spareRuns.runs[:k]
		return r
	}
	return &Run{}
}

// spareCheckers holds the checkers of finished runs, Reset (they keep their maps and blocks
// of records), for the runs made later in the process; the garbage collector empties it
// when idle.
var spareCheckers sync.Pool

// newChecker is an empty checker: a spare one, or a new one.
func newChecker() *check.Checker {
	if k, ok := spareCheckers.Get().(*check.Checker); ok {
		return k
	}
	return check.NewChecker()
}
