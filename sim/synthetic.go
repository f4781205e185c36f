package sim

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/inject"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/workload/synthetic"
)

// The SyntheticWorkload in the simulator (msgr-sim run -workload synthetic): Ceph's
// SyntheticWorkload (package synthetic) on simulated hosts, one per messenger, with the
// invariants of Checker and Auditor after every step, the seed's faults during the
// operations, then a drain that must answer every pending PING and deliver every lossless
// message, then a shutdown that must leave nothing held.

// WorkloadSynthetic (Options.Workload): Ceph's SyntheticWorkload, see runSynthetic.
const WorkloadSynthetic = "synthetic"

// Sizes of the simulator's default synthetic runs: Ceph's presets, scaled down.
const (
	simSyntheticServers  = 4
	simSyntheticClients  = 6
	simSyntheticOps      = 300
	simSyntheticPayload  = 64 << 10
	simSyntheticDelayMax = time.Second
)

// SyntheticFor is the synthetic workload a seed runs by default: one of Ceph's presets, drawn
// from the seed, scaled down (ScaleSynthetic).
func SyntheticFor(seed uint64) (preset string, cfg synthetic.Config) {
	names := synthetic.PresetNames()
	preset = names[detrand.NewSeeded(seed^0x5e7e7109).IntN(len(names))]
	cfg, _ = synthetic.Preset(preset)
	return preset, ScaleSynthetic(cfg)
}

// ScaleSynthetic scales a preset down to a size the simulator runs in about a second or less:
// at most 4 servers and 6 clients, 300 operations, payloads of at most 64 KiB, injected
// dispatch delays of at most 1 s (Ceph's SyntheticInjectTest4 holds every message up to 5 s).
func ScaleSynthetic(cfg synthetic.Config) synthetic.Config {
	cfg = cfg.Scaled(simSyntheticServers, simSyntheticClients, simSyntheticOps, simSyntheticPayload)
	cfg.DelayMax = min(cfg.DelayMax, simSyntheticDelayMax)
	return cfg
}

// SyntheticReport is what a synthetic run adds to its Result.
type SyntheticReport struct {
	Preset string // the preset drawn from the seed ("" when Options.Synthetic was given)
	Config synthetic.Config
	Stats  synthetic.Stats
}

// synthRun is one synthetic run: the shared scenario (world, network, faults, checker,
// auditor, nodes) plus the workload.
type synthRun struct {
	*scenario
	wc       *synthetic.Checker
	wl       *synthetic.Workload
	cfg      synthetic.Config
	preset   string
	opsLeft  int
	rates    map[*simNode]uint64 // the workload's own socket failure rate per node
	nodeByWl map[*synthetic.Node]*simNode
}

func runSynthetic(s *scenario) Result {
	r := &synthRun{scenario: s, rates: map[*simNode]uint64{}, nodeByWl: map[*synthetic.Node]*simNode{}}
	r.faults.On[FaultCrash] = false // a crashed messenger would need a new workload node
	switch {
	case s.opts.Synthetic != nil:
		r.cfg = *s.opts.Synthetic
	case s.opts.Preset != "":
		cfg, err := synthetic.Preset(s.opts.Preset)
		if err != nil {
			s.check.Violate(InvNoProgress, 0, "build: %v", err)
			return r.result()
		}
		r.preset, r.cfg = s.opts.Preset, ScaleSynthetic(cfg)
	default:
		r.preset, r.cfg = SyntheticFor(s.opts.Seed)
	}
	r.wc = synthetic.NewChecker(s.check, func() int64 { return int64(s.w.Now()) })
	r.wc.ConnEventsOnly()
	wl, err := synthetic.New(r.cfg, r, r.wc, s.rand)
	if err != nil {
		s.check.Violate(InvNoProgress, 0, "build: %v", err)
		return r.result()
	}
	r.wl, r.cfg = wl, wl.Config()
	s.w.Trace.Logf(0, "workload: synthetic %s: %v", r.preset, r.cfg)
	s.w.Trace.Logf(0, "faults: %v", s.faults)
	wl.Seed(r.cfg.InitialConns)
	r.opsLeft = r.cfg.Ops
	s.w.Schedule(0, r.nextOp)
	s.inj.Schedule()
	if err := s.w.RunUntil(s.allIssued, s.opts.Window+time.Hour, s.opts.MaxSteps); err != nil {
		s.stepFailed(InvNoProgress, err, "operations")
		return r.result()
	}
	r.drain()
	s.check.Finish(int64(s.w.Now()))
	s.shutdown()
	return r.result()
}

// nextOp runs the workload's next operation and schedules the one after: at once, after the
// operation's sleep, or (blocked on in-flight PINGs) the same one after BlockedWait.
func (r *synthRun) nextOp() { r.do(r.wl.Next()) }

func (r *synthRun) do(op synthetic.Op) {
	if r.opsLeft == 0 {
		return
	}
	if err := r.wl.Do(op); errors.Is(err, synthetic.ErrBlocked) {
		r.w.Schedule(r.w.Now()+r.cfg.BlockedWait, func() { r.do(op) })
		return
	}
	r.opsLeft--
	if r.opsLeft > 0 {
		r.w.Schedule(r.w.Now()+op.Sleep, r.nextOp)
	}
}

// drain heals the network (the workload's own socket failures stay on, as in Ceph's
// wait_for_done) and runs until every PING is answered and every lossless message delivered
// or accounted for (liveness-timeout otherwise).
func (r *synthRun) drain() {
	s := r.scenario
	s.phase = PhaseLiveness
	s.w.Trace.Logf(s.w.Now(), "phase: drain (heal the network; %d PINGs pending)", r.wl.Pending())
	s.w.Net.Heal()
	s.w.Net.SetConnectFault(nil)
	s.w.Unpause()
	for _, n := range s.nodes {
		if n.inj != nil {
			n.inj.SetSocketFailures(r.rates[n])
		}
	}
	done := func() bool {
		if r.wl.Pending() > 0 || !s.w.Quiet() {
			return false
		}
		if s.check.PendingLossless() > 0 {
			r.wc.ForgiveStranded(r.wl.Nodes())
		}
		return s.check.PendingLossless() == 0
	}
	if err := s.w.RunUntil(done, s.w.Now()+r.cfg.DrainTimeout, s.opts.MaxSteps); err != nil {
		s.stepFailed(InvLiveness, err, fmt.Sprintf("drain: %d PINGs pending, %d lossless messages undelivered, %d connections unsettled",
			r.wl.Pending(), s.check.PendingLossless(), s.unsettled()))
	}
}

// NewMessenger implements synthetic.Env: each messenger on its own simulated host (with
// socket failure injection when the workload or the seed's faults ask for it), driven by the
// world, traced into the trace hash and the checkers. Internal delays (a center blocked in real
// time) have no meaning here and are left out; the seed's pause faults stop centers instead.
func (r *synthRun) NewMessenger(spec synthetic.Spec) (*msgr.Messenger, error) {
	s := r.scenario
	wn := spec.Node
	n := &simNode{s: s, ename: spec.Config.Name, name: wn.Name, idx: len(s.nodes), osd: wn.Server, inc: 1, ip: r.BindIP(wn)}
	n.host = s.w.AddHost(wn.Name, n.ip)
	var stack netio.Stack = n.host
	rate := spec.SocketFailures
	if rate == 0 && s.faults.On[FaultSocketFailures] {
		rate = s.faults.SocketFailures
	}
	if rate > 0 {
		n.inj = inject.New(n.host, inject.Options{SocketFailures: rate, Rand: s.w.Rand()})
		r.rates[n] = spec.SocketFailures
		stack = n.inj
	}
	cfg := spec.Config
	cfg.Stack, cfg.Runtime, cfg.Rand = stack, s.w, s.w.Rand()
	cfg.Tracer = func(ev msgr.TraceEvent) {
		n.trace(ev)
		r.wc.Trace(ev)
	}
	if cfg.InjectDelay == nil && s.faults.On[FaultDispatchDelay] {
		cfg.InjectDelay = &msgr.InjectDelay{Types: synthDelayTypes, Probability: s.faults.DelayProb, Max: s.faults.DelayMax}
	}
	m, err := msgr.New(cfg)
	if err != nil {
		return nil, err
	}
	n.m, n.alive = m, true
	s.nodes = append(s.nodes, n)
	r.nodeByWl[wn] = n
	s.audit.Add(wn.Name, m)
	r.wc.AddNode(wn, m)
	return m, nil
}

// BindIP implements synthetic.Env: 10.0.x.y by node index.
func (r *synthRun) BindIP(n *synthetic.Node) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 0, byte(n.Index / 250), byte(n.Index%250 + 1)})
}

func (r *synthRun) result() Result {
	var st synthetic.Stats
	if r.wl != nil {
		st = r.wl.Stats()
		r.cov.Evaluated(InvSyntheticFIFO, st.PongsChecked)
		r.cov.Evaluated(InvSyntheticData, st.PongsChecked)
		_, dispatched := r.check.Counts()
		r.cov.Evaluated(InvSyntheticPath, dispatched)
	}
	res := r.scenario.result()
	res.Workload = WorkloadSynthetic
	res.Synthetic = &SyntheticReport{Preset: r.preset, Config: r.cfg, Stats: st}
	if r.wl != nil {
		res.Stats.SessionResets = st.Resets + st.RemoteResets
		res.Stats.Reconnects = st.Connects
	}
	return res
}

// synthDelayTypes are the peer types whose messages dispatch delay injection holds back
// (Ceph's ms_inject_delay_type "client osd").
var synthDelayTypes = []wire.EntityType{wire.EntityOSD, wire.EntityClient}
