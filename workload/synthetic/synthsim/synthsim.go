package synthsim

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/sim/harness"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/workload/synthetic"
)

// Sizes of the simulator's default synthetic runs: Ceph's presets, scaled down.
const (
	simServers  = 4
	simClients  = 6
	simOps      = 300
	simPayload  = 64 << 10
	simDelayMax = time.Second
)

// For is the synthetic workload a seed runs by default: one of Ceph's presets, drawn from the
// seed, scaled down (Scale).
func For(seed uint64) (preset string, cfg synthetic.Config) {
	names := synthetic.PresetNames()
	preset = names[detrand.NewSeeded(seed^0x5e7e7109).IntN(len(names))]
	cfg, _ = synthetic.Preset(preset)
	return preset, Scale(cfg)
}

// Scale scales a preset down to a size the simulator runs in about a second or less: at most
// 4 servers and 6 clients, 300 operations, payloads of at most 64 KiB, injected dispatch
// delays of at most 1 s (Ceph's SyntheticInjectTest4 holds every message up to 5 s).
func Scale(cfg synthetic.Config) synthetic.Config {
	cfg = cfg.Scaled(simServers, simClients, simOps, simPayload)
	cfg.DelayMax = min(cfg.DelayMax, simDelayMax)
	return cfg
}

// Report is what a synthetic run adds to the simulator's result.
type Report struct {
	Preset string // the preset drawn from the seed ("" when Config.Synthetic was given)
	Config synthetic.Config
	Stats  synthetic.Stats
}

// Config chooses what runs: Synthetic, else the preset named Preset (scaled down, see Scale),
// else one drawn from Seed (For).
type Config struct {
	Seed      uint64
	Window    time.Duration // the safety phase: the operations must be issued within Window plus an hour
	Synthetic *synthetic.Config
	Preset    string
}

// Workload is the synthetic workload on one simulated run.
type Workload struct {
	h       *harness.Run
	seed    uint64
	window  time.Duration
	given   *synthetic.Config // Config.Synthetic
	wc      *synthetic.Checker
	wl      *synthetic.Workload
	cfg     synthetic.Config
	preset  string
	opsLeft int
	nodes   []*node
}

// New is the workload cfg on h (harness.Run.Drive runs it). It turns h's crash faults off: a
// crashed messenger would need a new workload node.
func New(h *harness.Run, cfg Config) *Workload {
	h.Faults.On[fault.Crash] = false
	return &Workload{h: h, seed: cfg.Seed, window: cfg.Window, given: cfg.Synthetic, preset: cfg.Preset}
}

// Build implements harness.Workload: the configuration (given, a preset, or drawn from the
// seed), the workload's messengers, its initial connections, and its first operation.
func (r *Workload) Build() error {
	h := r.h
	switch {
	case r.given != nil:
		r.cfg, r.preset = *r.given, ""
	case r.preset != "":
		cfg, err := synthetic.Preset(r.preset)
		if err != nil {
			r.preset = ""
			return err
		}
		r.cfg = Scale(cfg)
	default:
		r.preset, r.cfg = For(r.seed)
	}
	r.wc = synthetic.NewChecker(h.Check, func() int64 { return int64(h.W.Now()) })
	r.wc.ConnEventsOnly()
	r.wc.AttributeResets(h.ResetExcused)
	var obs synthetic.Observer = r.wc
	if h.W.Trace.Keeping() {
		obs = marker{r.wc, h}
	}
	wl, err := synthetic.New(r.cfg, r, obs, h.Rand)
	if err != nil {
		return err
	}
	r.wl, r.cfg = wl, wl.Config()
	h.W.Trace.Logf(0, "workload: synthetic %s: %v", r.preset, r.cfg)
	h.LogFaults()
	h.ScheduleKeepalives(r.window, len(r.nodes), func(i int) *msgr.Messenger { return r.nodes[i].m })
	wl.Seed(r.cfg.InitialConns)
	r.opsLeft = r.cfg.Ops
	h.W.Schedule(0, r.nextOp)
	return nil
}

// nextOp runs the workload's next operation and schedules the one after: at once, after the
// operation's sleep, or (blocked on in-flight PINGs) the same one after BlockedWait.
func (r *Workload) nextOp() { r.do(r.wl.Next()) }

func (r *Workload) do(op synthetic.Op) {
	if r.opsLeft == 0 {
		return
	}
	w := r.h.W
	if err := r.wl.Do(op); errors.Is(err, synthetic.ErrBlocked) {
		w.Schedule(w.Now()+r.cfg.BlockedWait, func() { r.do(op) })
		return
	}
	r.opsLeft--
	if r.opsLeft > 0 {
		w.Schedule(w.Now()+op.Sleep, r.nextOp)
	}
}

// Safety implements harness.Workload: run until every operation and fault was issued.
func (r *Workload) Safety() bool {
	if err := r.h.RunUntil(r.h.AllIssued, r.window+time.Hour); err != nil {
		r.h.StepFailed(check.InvNoProgress, err, "operations")
		return false
	}
	return true
}

// Liveness implements harness.Workload: the drain. It heals the network (the workload's own
// socket failures stay on, as in Ceph's wait_for_done) and runs until every PING is answered
// and every lossless message delivered or accounted for (liveness-timeout otherwise).
func (r *Workload) Liveness() {
	h := r.h
	h.Phase = harness.PhaseLiveness
	h.W.Trace.Logf(h.W.Now(), "phase: drain (heal the network; %d PINGs pending)", r.wl.Pending())
	h.W.Net.Heal()
	h.W.Net.SetConnectFault(nil)
	h.W.Unpause()
	for _, n := range r.nodes {
		n.sockets.SetRate(n.rate)
	}
	done := func() bool {
		if r.wl.Pending() > 0 || !h.W.Quiet() {
			return false
		}
		if h.Check.PendingLossless() > 0 {
			r.wc.ForgiveStranded(r.wl.Nodes())
		}
		return h.Check.PendingLossless() == 0
	}
	if err := h.RunUntil(done, h.W.Now()+r.cfg.DrainTimeout); err != nil {
		h.StepFailedWith(check.InvLiveness, err, func() string {
			return fmt.Sprintf("drain: %d PINGs pending, %d lossless messages undelivered, %d connections unsettled",
				r.wl.Pending(), h.Check.PendingLossless(), h.Unsettled(r.live))
		})
	}
}

// live yields every node's messenger.
func (r *Workload) live(yield func(*msgr.Messenger) bool) {
	for _, n := range r.nodes {
		if !yield(n.m) {
			return
		}
	}
}

// Finish implements harness.Workload: nothing beyond the loss check.
func (r *Workload) Finish() {}

// Shutdown implements harness.Workload: every messenger shuts down.
func (r *Workload) Shutdown() { r.h.ShutdownAll(r.live) }

// Models implements harness.Workload: none (Ceph's own checks and the Checker's cover it).
func (r *Workload) Models() (bool, *models.KVHistory) { return false, nil }

// Processes implements harness.Workload: the nodes, in order.
func (r *Workload) Processes() []fault.Process {
	ps := make([]fault.Process, len(r.nodes))
	for i, n := range r.nodes {
		ps[i] = n
	}
	return ps
}

// NewMessenger implements synthetic.Env: each messenger on its own simulated host (with
// socket failure injection when the workload or the seed's faults ask for it), driven by the
// world, traced into the trace hash and the checkers, with the run's configuration knobs
// over the workload's configuration (harness.Knobs.Apply). Internal delays (a center blocked in real
// time) have no meaning here and are left out; the seed's pause faults stop centers instead.
func (r *Workload) NewMessenger(spec synthetic.Spec) (*msgr.Messenger, error) {
	h := r.h
	wn := spec.Node
	n := &node{name: wn.Name, idx: len(r.nodes), ip: r.BindIP(wn), sockets: h.NewSockets()}
	host := h.W.AddHost(wn.Name, n.ip)
	var stack netio.Stack = host
	rate := spec.SocketFailures
	if rate == 0 && h.Faults.On[fault.SocketFailures] {
		rate = h.Faults.SocketFailures
	}
	if rate > 0 {
		stack = n.sockets.Inject(host, rate)
		n.rate = spec.SocketFailures
	}
	cfg := spec.Config
	h.Cfg.Knobs.Apply(&cfg)
	cfg.Stack, cfg.Runtime, cfg.Rand = stack, h.W, h.W.Rand()
	cfg.Tracer = func(ev msgr.TraceEvent) {
		h.Trace(n, ev)
		r.wc.Trace(ev)
	}
	if cfg.InjectDelay == nil && h.Faults.On[fault.DispatchDelay] {
		cfg.InjectDelay = &msgr.InjectDelay{Types: synthDelayTypes, Probability: h.Faults.DelayProb, Max: h.Faults.DelayMax}
	}
	m, err := msgr.New(cfg)
	if err != nil {
		return nil, err
	}
	n.m = m
	r.nodes = append(r.nodes, n)
	h.Audit.Add(wn.Name, m)
	r.wc.AddNode(wn, m)
	return m, nil
}

// Policy implements synthetic.PolicyEnv: the node's default policy with the feature bits the
// run's knobs drop for it and the drawn receive throttles (harness.Knobs.Policy).
func (r *Workload) Policy(n *synthetic.Node, p proto.Policy) proto.Policy {
	return r.h.Cfg.Knobs.Policy(n.Index, p)
}

// BindIP implements synthetic.Env: 10.0.x.y by node index.
func (r *Workload) BindIP(n *synthetic.Node) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 0, byte(n.Index / 250), byte(n.Index%250 + 1)})
}

// Report implements harness.Workload: the workload's own checks counted as evaluated, and
// its session counts in the run's statistics.
func (r *Workload) Report() string {
	if r.wl == nil {
		return ""
	}
	h := r.h
	st := r.wl.Stats()
	h.Cov.Evaluated(check.InvSyntheticFIFO, st.PongsChecked)
	h.Cov.Evaluated(check.InvSyntheticData, st.PongsChecked)
	_, dispatched := h.Check.Counts()
	h.Cov.Evaluated(check.InvSyntheticPath, dispatched)
	h.Stats.SessionResets = st.Resets + st.RemoteResets
	h.Stats.Reconnects = st.Connects
	return ""
}

// Result is what the run adds to the simulator's result.
func (r *Workload) Result() *Report {
	rep := &Report{Preset: r.preset, Config: r.cfg}
	if r.wl != nil {
		rep.Stats = r.wl.Stats()
	}
	return rep
}

// synthDelayTypes are the peer types whose messages dispatch delay injection holds back
// (Ceph's ms_inject_delay_type "client osd").
var synthDelayTypes = []wire.EntityType{wire.EntityOSD, wire.EntityClient}

// node is one messenger of the workload on its own simulated host. It is never crashed
// (the run turns crash faults off), so it has one incarnation.
type node struct {
	name    string
	idx     int
	ip      netip.Addr
	m       *msgr.Messenger
	sockets *harness.Sockets
	rate    uint64 // the workload's own socket failure rate (restored by the drain)
	inc     string // name of its one incarnation, e.g. "srv0#1"
}

// TraceID implements harness.Traced: the node's index, incarnation 1.
func (n *node) TraceID() (uint64, uint64) { return uint64(n.idx), 1 }

// Receiver implements harness.Traced.
func (n *node) Receiver() string { return n.Incarnation() }

// Label implements fault.Process.
func (n *node) Label() string { return n.name }

// Incarnation implements fault.Process.
func (n *node) Incarnation() string {
	if n.inc == "" {
		n.inc = n.name + "#1"
	}
	return n.inc
}

// IP implements fault.Process.
func (n *node) IP() netip.Addr { return n.ip }

// Running implements fault.Process: always.
func (n *node) Running() bool { return true }

// Centers implements fault.Process.
func (n *node) Centers() []*event.Center { return n.m.Centers() }

// Crash implements fault.Process: never called, the run turns crash faults off.
func (n *node) Crash() { panic("synthsim: the synthetic workload's nodes are never crashed") }

// marker is the workload's observer when the run keeps its timeline: the checker's, adding a
// mark for every message sent and dispatched.
type marker struct {
	*synthetic.Checker
	h *harness.Run
}

// Sent implements synthetic.Observer.
func (o marker) Sent(from, peer *synthetic.Node, c *msgr.Connection, m *msgr.Message, lossless bool) {
	o.Checker.Sent(from, peer, c, m, lossless)
	kind := "lossy"
	if lossless {
		kind = "lossless"
	}
	to := "?"
	if peer != nil {
		to = peer.Name
	}
	o.h.W.Trace.AddMark(world.Mark{At: o.h.W.Now(), Kind: "send", Node: from.Name + "#1", Peer: to, ID: m.Header.Tid,
		Conn: c.ID(), Text: kind + " " + msgTypeName(m.Header.Type)})
}

// Dispatched implements synthetic.Observer.
func (o marker) Dispatched(to *synthetic.Node, c *msgr.Connection, m *msgr.Message) {
	o.Checker.Dispatched(to, c, m)
	if to == nil {
		return
	}
	o.h.W.Trace.AddMark(world.Mark{At: o.h.W.Now(), Kind: "dispatch", Node: to.Name + "#1", ID: m.Header.Tid,
		Conn: c.ID(), Text: fmt.Sprintf("seq %d", m.Header.Seq)})
}

// msgTypeName names the message types the workload sends (PING and MCommand), for the timeline.
func msgTypeName(t uint16) string {
	switch t {
	case wire.MsgPing:
		return "ping"
	case wire.MsgCommand:
		return "command"
	}
	return fmt.Sprintf("type_%d", t)
}
