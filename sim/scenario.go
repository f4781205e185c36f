package sim

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
	"github.com/msgrsim/msgrsim/workload/synthetic"
)

// Options shape one seeded run of the default scenario. Start from DefaultOptions.
type Options struct {
	Seed      uint64
	OSDs      int           // OSD-like nodes, lossless_peer among themselves (at least 1)
	Clients   int           // client nodes, lossy toward the OSDs
	Messages  int           // messages each sender queues on each of its streams
	Window    time.Duration // the safety phase: sends and faults are spread over it (default 200 ms)
	Faults    *Faults       // what to inject (nil: none)
	KeepTrace bool          // keep a readable trace (Result.Trace)
	MaxSteps  uint64        // bound on scheduling decisions per phase (default 5,000,000)
	Liveness  time.Duration // virtual time the liveness phase may take (default 10 min)
	// Workload selects what runs: WorkloadDefault ("" too), WorkloadCluster or WorkloadSynthetic.
	Workload string
	// VisualizeDir is where a failed model check writes porcupine's HTML visualization
	// (default: os.TempDir()); the violation names the file. NoVisualize writes none.
	VisualizeDir string
	NoVisualize  bool

	// Where the decisions come from: by default a family seeded from Seed. Replay draws them
	// from Tape instead (zeros past its end); Fuzz from a fuzzer's bytes, and then, when
	// Faults is nil, the fault mix is drawn from those bytes too. Record keeps the decisions
	// the run drew (Result.Tape), so it can be saved and replayed as a tape.
	Tape   []uint64
	Replay bool
	Fuzz   []byte
	Record bool

	// Synthetic configures WorkloadSynthetic; when nil, Preset names one of Ceph's presets
	// (scaled down, see ScaleSynthetic), or, when that is empty too, the seed draws one.
	Synthetic *synthetic.Config
	Preset    string

	inspect   func(*scenario) // test hook: look at the scenario before the model checks
	perturbAt uint64          // test hook: make the second run of CheckDeterminism differ at this event
}

// DefaultOptions is the default scenario for seed: two OSDs, one client, 50 messages per
// stream, no faults.
func DefaultOptions(seed uint64) Options {
	return Options{Seed: seed, OSDs: 2, Clients: 1, Messages: 50}
}

// decisions returns the root of the run's random family and, unless the run is plainly
// seeded, the log of every decision it draws.
func (o *Options) decisions() (*detrand.Rand, *detrand.Log) {
	switch {
	case o.Fuzz != nil:
		return detrand.NewFuzzed(o.Fuzz)
	case o.Replay:
		return detrand.NewTaped(o.Tape)
	case o.Record:
		return detrand.NewRecorded(o.Seed)
	}
	return detrand.NewSeeded(o.Seed), nil
}

func (o *Options) setDefaults() {
	if o.OSDs < 1 {
		o.OSDs = 1
	}
	if o.Window == 0 {
		o.Window = 200 * time.Millisecond
	}
	if o.MaxSteps == 0 {
		o.MaxSteps = 5_000_000
	}
	if o.Liveness == 0 {
		o.Liveness = 10 * time.Minute
	}
	if o.Faults == nil && o.Fuzz == nil {
		f := NoFaults()
		o.Faults = &f
	}
}

// Phases of a run.
const (
	PhaseSafety   = "safety"   // sends and faults
	PhaseLiveness = "liveness" // faults healed: every lossless message must arrive
	PhaseShutdown = "shutdown"
	PhaseDone     = "done"
)

// Stats count what happened in a run.
type Stats struct {
	Injected       [NumFaults]int
	ConnFaults     int // connection faults the messengers reported
	SessionResets  int // reset and remote reset events
	Reconnects     int // sessions re-established on a connection that had been open
	BytesCorrupted int // corrupted bytes delivered by the network
	Crashes        int
}

// Mark is one happening of a run placed on its timeline (Result.Marks).
type Mark = world.Mark

// Result is the outcome of one run.
type Result struct {
	Seed        uint64
	Pass        bool
	TraceHash   uint64
	Sent        int
	Delivered   int
	VirtualTime time.Duration
	Steps       uint64
	Faults      Faults
	Stats       Stats
	Phase       string // the last phase reached
	Violations  []Violation
	Summary     string
	Trace       []string
	Marks       []Mark // the run's timeline (with KeepTrace)
	Events      uint64 // events folded into the trace hash
	// Tape is the decisions the run drew, in order, when it recorded, replayed or fuzzed
	// (not the ones that drew a fuzzed run's fault mix): Tape and Options replay the run.
	Tape      []uint64
	Coverage  *Coverage        // what the run exercised of the protocol
	Models    []models.Report  // the porcupine checks of the recorded histories
	Acked     int              // lossless messages the peer acknowledged (each checked: ack-unreceived)
	Workload  string           // the workload that ran
	Synthetic *SyntheticReport // the synthetic workload's configuration and counts

	checkpoints []uint64
	recorded    []string
}

type scenario struct {
	opts    Options
	faults  Faults
	w       *world.World
	rand    *detrand.Rand // workload decisions
	frand   *detrand.Rand // fault decisions
	check   *check.Checker
	audit   *check.Auditor
	inj     *fault.Injector
	nodes   []*simNode
	nextID  uint64
	phase   string
	stats   Stats
	held    int                          // messages held back by dispatch delay injection
	byAddr  map[wire.EntityAddr]*simNode // every address any incarnation had
	opened  map[*msgr.Connection]bool    // connections that had a session
	log     *detrand.Log                 // the decisions drawn (recorded, replayed or fuzzed runs)
	logFrom int                          // decisions before this one drew the fault mix

	cov          *Coverage
	rec          *check.Histories
	cl           *cluster          // the cluster workload (nil: the default one)
	kv           *models.KVHistory // the cluster workload's client history (nil otherwise)
	modelReports []models.Report
}

// Run executes the default scenario for opts.Seed: OSD-like nodes exchanging lossless
// messages with each other (simultaneous connects race), clients sending lossy messages to
// every OSD, which answer each one, while the chosen faults are injected (safety phase); then
// every fault is healed and every lossless message must arrive within a bound (liveness
// phase); then every messenger shuts down. Invariants are checked as messages are dispatched
// and at the end.
func Run(opts Options) Result { return run(opts, 0, 0, 0) }

// run is Run with the trace rendering events [recFrom, recTo). instance numbers the runs of
// one determinism check; perturbation (a test hook) applies to the second.
func run(opts Options, recFrom, recTo uint64, instance int) Result {
	opts.setDefaults()
	s := newScenario(opts, recFrom, recTo, instance)
	switch opts.Workload {
	case WorkloadCluster:
		return s.runCluster()
	case WorkloadSynthetic:
		return runSynthetic(s)
	}
	if err := s.build(); err != nil {
		s.check.Violate(InvNoProgress, 0, "build: %v", err)
		return s.result()
	}
	s.w.Trace.Logf(0, "faults: %v", s.faults)
	s.scheduleSends()
	s.inj.Schedule()
	if err := s.w.RunUntil(s.allIssued, s.opts.Window+time.Minute, opts.MaxSteps); err != nil {
		s.stepFailed(InvNoProgress, err, "safety phase")
		return s.result()
	}
	s.liveness()
	s.check.Finish(int64(s.w.Now()))
	s.shutdown()
	s.checkModels()
	return s.result()
}

// newScenario sets up the world, network, checker and auditor every workload shares.
func newScenario(opts Options, recFrom, recTo uint64, instance int) *scenario {
	root, log := opts.decisions()
	if opts.Faults == nil {
		f := fault.Swarm(root)
		opts.Faults = &f
	}
	s := &scenario{opts: opts, faults: *opts.Faults, check: check.NewChecker(), phase: PhaseSafety,
		byAddr: map[wire.EntityAddr]*simNode{}, opened: map[*msgr.Connection]bool{}, log: log}
	if log != nil {
		s.logFrom = log.Len()
	}
	netCfg := simnet.Config{Latency: 100 * time.Microsecond}
	if s.faults.On[FaultLatency] {
		netCfg.LatencySpread, netCfg.Jitter = s.faults.LatencySpread, s.faults.Jitter
	}
	s.w = world.NewFrom(opts.Seed, root, netCfg, opts.KeepTrace)
	s.w.Trace.Record(recFrom, recTo)
	if instance == 2 && opts.perturbAt > 0 {
		s.w.Trace.Perturb(opts.perturbAt, 0xdead)
	}
	s.rand, s.frand = s.w.Rand(), s.w.Rand()
	s.audit = check.NewAuditor(s.check, func() int64 { return int64(s.w.Now()) })
	s.w.AfterStep = s.audit.AfterStep
	s.cov = NewCoverage()
	s.cov.Runs = 1
	s.setUpNetwork()
	s.setUpRecording()
	s.audit.Count(s.cov)
	return s
}

// setUpNetwork installs the fault injector (its frame tracker shapes every stream) and counts
// the bytes the network corrupts.
func (s *scenario) setUpNetwork() {
	s.inj = fault.New(s.w, fault.Config{Faults: &s.faults, Window: s.opts.Window, Rand: s.frand, Targets: s.processes,
		Active:  func() bool { return s.phase == PhaseSafety },
		Violate: func(name, detail string) { s.check.Violate(name, int64(s.w.Now()), "%s", detail) }, Count: s.cov})
	s.w.Net.SetTracer(func(tr simnet.Transfer) {
		if tr.Corrupt {
			s.stats.BytesCorrupted++
			s.w.Trace.Logf(s.w.Now(), "network: corrupted byte %d of %v", tr.CorruptOffset, tr)
		}
	})
}

func (s *scenario) build() error {
	for i := 0; i < s.opts.OSDs; i++ {
		if err := s.addNode(wire.NewName(wire.EntityOSD, int64(i)), true); err != nil {
			return err
		}
	}
	for i := 0; i < s.opts.Clients; i++ {
		if err := s.addNode(wire.NewName(wire.EntityClient, int64(4100+i)), false); err != nil {
			return err
		}
	}
	return nil
}

func (s *scenario) addNode(name wire.EntityName, osd bool) error {
	idx := len(s.nodes)
	n := &simNode{s: s, ename: name, name: name.String(), idx: idx, osd: osd, fast: s.rand.Bool(),
		ip: netip.AddrFrom4([4]byte{10, 0, 0, byte(idx + 1)})}
	s.nodes = append(s.nodes, n)
	return n.start(0)
}

// scheduleSends spreads every send over the window: each OSD sends to each other OSD, each
// client to each OSD.
func (s *scenario) scheduleSends() {
	for _, from := range s.nodes {
		for _, to := range s.nodes {
			if from == to || !to.osd {
				continue
			}
			for i := 0; i < s.opts.Messages; i++ {
				at := time.Duration(s.rand.Uint64N(uint64(s.opts.Window)))
				from, to := from, to
				s.w.Schedule(at, func() { from.sendTo(to) })
			}
		}
	}
}

func (s *scenario) allIssued() bool { return !s.w.HasJobs() }

// liveness heals every fault and requires every lossless message to arrive within the bound.
func (s *scenario) liveness() {
	s.heal()
	// Checked when the world is quiet (the next step would advance virtual time).
	done := func() bool { return s.settled() && s.check.PendingLossless() == 0 }
	if err := s.w.RunUntil(done, s.w.Now()+s.opts.Liveness, s.opts.MaxSteps); err != nil {
		s.stepFailed(InvLiveness, err, fmt.Sprintf("%d lossless messages still undelivered, %d unsettled after healing",
			s.check.PendingLossless(), s.unsettled()))
	}
}

// socketFailures is the socket-failure rate for an injector created now: the configured one
// while faults are injected, 0 once healed (a process restarted after the heal must not bring
// injected failures back: cluster seed 434 of -workload large kept failing a lossless session's
// reconnects after healing, until the step budget ran out).
func (s *scenario) socketFailures() uint64 {
	if s.phase == PhaseSafety {
		return s.faults.SocketFailures
	}
	return 0
}

// heal enters the liveness phase: every fault is healed and stops being injected.
func (s *scenario) heal() {
	s.phase = PhaseLiveness
	s.w.Trace.Logf(s.w.Now(), "phase: liveness (heal everything)")
	s.w.Net.Heal()
	s.w.Net.SetConnectFault(nil)
	s.w.Unpause()
	for _, n := range s.nodes {
		if n.inj != nil {
			n.inj.SetSocketFailures(0)
		}
	}
	if s.cl != nil {
		for _, p := range s.cl.allProcs() {
			if p.inj != nil {
				p.inj.SetSocketFailures(0)
			}
		}
	}
}

// settled reports whether nothing is in flight: no network transfer pending, no center with
// work, no connection with queued or unacknowledged messages.
func (s *scenario) settled() bool {
	return s.w.Quiet() && s.unsettled() == 0
}

// unsettled counts live connections still holding messages.
func (s *scenario) unsettled() int {
	n := 0
	for _, node := range s.nodes {
		if !node.alive {
			continue
		}
		for _, c := range node.m.Connections() {
			if c.Queued() > 0 || c.Held() > 0 {
				n++
			}
		}
	}
	return n
}

// shutdown stops every live messenger and runs until all are done.
func (s *scenario) shutdown() {
	s.phase = PhaseShutdown
	for _, n := range s.nodes {
		if n.alive {
			n.m.Shutdown()
		}
	}
	done := func() bool {
		for _, n := range s.nodes {
			if n.alive && !n.m.Finished() {
				return false
			}
		}
		return true
	}
	if err := s.w.RunUntil(done, s.w.Now()+time.Minute, s.opts.MaxSteps); err != nil {
		s.stepFailed(InvShutdownStalled, err, "shutdown")
		return
	}
	s.audit.AfterStep(nil)
	s.phase = PhaseDone
}

// stepFailed records why running the world failed: a panic in the code under test (named
// by what panicked), or else the phase's own invariant.
func (s *scenario) stepFailed(name string, err error, what string) {
	if pe := (*world.PanicError)(nil); errors.As(err, &pe) {
		name = check.PanicInvariant(pe.Value)
	}
	s.check.Violate(name, int64(s.w.Now()), "%s: %v", what, err)
}

func (s *scenario) result() Result {
	s.countContinuous()
	sent, deliv := s.check.Counts()
	r := Result{
		Seed: s.opts.Seed, TraceHash: s.w.Trace.Hash(), Sent: sent, Delivered: deliv,
		VirtualTime: s.w.Now(), Steps: s.w.Steps(), Faults: s.faults, Stats: s.stats, Phase: s.phase,
		Violations: s.check.Violations(), Summary: s.check.Summary() + s.workloadSummary(), Trace: s.w.Trace.Lines(),
		Marks:  s.w.Trace.Marks(),
		Events: s.w.Trace.Events(), checkpoints: s.w.Trace.Checkpoints(), recorded: s.w.Trace.Recorded(),
		Coverage: s.finishCoverage(), Models: s.modelReports,
	}
	r.Pass = len(r.Violations) == 0
	_, r.Acked = s.check.AckCounts()
	if s.log != nil {
		r.Tape = append([]uint64(nil), s.log.Words()[s.logFrom:]...)
	}
	if r.Workload = s.opts.Workload; r.Workload == "" {
		r.Workload = WorkloadDefault
	}
	return r
}

// String is a one-line summary of the result.
func (r Result) String() string {
	verdict := "PASS"
	if !r.Pass {
		verdict = fmt.Sprintf("FAIL (%d violations)", len(r.Violations))
	}
	return fmt.Sprintf("seed %d: %s  sent %d dispatched %d  virtual %v  steps %d  trace %016x",
		r.Seed, verdict, r.Sent, r.Delivered, r.VirtualTime, r.Steps, r.TraceHash)
}

// countContinuous fills the injection counts of the faults that act all the time.
func (s *scenario) countContinuous() {
	st := &s.stats
	st.Injected, st.Crashes = s.inj.Injected, s.inj.Crashes
	st.Injected[FaultCuts] = s.inj.Cuts()
	if s.faults.On[FaultLatency] {
		st.Injected[FaultLatency] = int(s.w.Net.Stats().Connects)
	}
	st.Injected[FaultDispatchDelay] = s.held
	for _, n := range s.nodes {
		st.Injected[FaultSocketFailures] += int(n.injected)
		if n.inj != nil {
			st.Injected[FaultSocketFailures] += int(n.inj.Injected())
		}
	}
	if s.cl != nil {
		for _, p := range s.cl.allProcs() {
			st.Injected[FaultSocketFailures] += int(p.injected)
			if p.inj != nil {
				st.Injected[FaultSocketFailures] += int(p.inj.Injected())
			}
		}
	}
}
