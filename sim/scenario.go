package sim

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/simnet"
)

// Options shape one seeded run of the default scenario. Start from DefaultOptions.
type Options struct {
	Seed      uint64
	OSDs      int           // OSD-like nodes, lossless_peer among themselves (at least 1)
	Clients   int           // client nodes, lossy toward the OSDs
	Messages  int           // messages each sender queues on each of its streams
	Window    time.Duration // virtual time over which sends are spread (default 20 ms)
	KeepTrace bool          // keep a readable trace (Result.Trace)
	MaxSteps  uint64        // bound on scheduling decisions (default 5,000,000)
	Limit     time.Duration // bound on virtual time (default 10 min)
}

// DefaultOptions is the default scenario for seed: two OSDs, one client, 50 messages per stream.
func DefaultOptions(seed uint64) Options {
	return Options{Seed: seed, OSDs: 2, Clients: 1, Messages: 50}
}

func (o *Options) setDefaults() {
	if o.OSDs < 1 {
		o.OSDs = 1
	}
	if o.Window == 0 {
		o.Window = 20 * time.Millisecond
	}
	if o.MaxSteps == 0 {
		o.MaxSteps = 5_000_000
	}
	if o.Limit == 0 {
		o.Limit = 10 * time.Minute
	}
}

// Result is the outcome of one run.
type Result struct {
	Seed        uint64
	Pass        bool
	TraceHash   uint64
	Sent        int
	Delivered   int
	VirtualTime time.Duration
	Steps       uint64
	Violations  []Violation
	Summary     string
	Trace       []string
}

// simNode is one messenger in the scenario.
type simNode struct {
	s    *scenario
	m    *msgr.Messenger
	name string
	idx  int
	fast bool // fast-dispatches everything
	osd  bool
}

type scenario struct {
	opts   Options
	w      *World
	rand   *detrand.Rand
	check  *Checker
	nodes  []*simNode
	nextID uint64
}

// Run executes the default scenario for opts.Seed: OSD-like nodes exchanging lossless
// messages with each other (simultaneous connects race), clients sending lossy messages to
// every OSD, which answer each one; then every messenger shuts down. Delivery invariants are
// checked as messages are dispatched and at the end.
func Run(opts Options) Result {
	opts.setDefaults()
	s := &scenario{opts: opts, check: NewChecker()}
	s.w = NewWorld(opts.Seed, simnet.Config{Latency: 100 * time.Microsecond}, opts.KeepTrace)
	s.rand = s.w.Rand()
	if err := s.build(); err != nil {
		s.check.Violate(InvNoProgress, 0, "build: %v", err)
		return s.result()
	}
	s.schedule()
	done := func() bool { return s.allIssued() && s.check.Pending() == 0 }
	if err := s.w.RunUntil(done, opts.Limit, opts.MaxSteps); err != nil {
		s.check.Violate(InvNoProgress, int64(s.w.Now()), "%v; %d messages undelivered", err, s.check.Pending())
	}
	s.shutdown()
	s.check.Finish(int64(s.w.Now()))
	return s.result()
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
	ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(idx + 1)})
	h := s.w.AddHost(name.String(), ip)
	n := &simNode{s: s, name: name.String(), idx: idx, fast: s.rand.Bool(), osd: osd}
	m, err := msgr.New(msgr.Config{
		Name: name, Stack: h, Runtime: s.w, Rand: s.w.Rand(), ClusterProtocol: 10,
		Tracer: n.trace,
	})
	if err != nil {
		return err
	}
	n.m = m
	m.SetPolicy(wire.EntityOSD, proto.LosslessPeer(0))
	m.SetPolicy(wire.EntityClient, proto.StatelessServer(0))
	if name.Type == wire.EntityClient {
		m.SetPolicy(wire.EntityOSD, proto.LossyClient(0))
	}
	if osd {
		if err := m.Bind(netip.AddrPortFrom(ip, 0)); err != nil {
			return err
		}
	}
	if err := m.Start(); err != nil {
		return err
	}
	m.AddDispatcherTail(n)
	s.nodes = append(s.nodes, n)
	return nil
}

// schedule spreads every send over the window: each OSD sends to each other OSD, each client
// to each OSD.
func (s *scenario) schedule() {
	for _, from := range s.nodes {
		for _, to := range s.nodes {
			if from == to || !to.osd {
				continue
			}
			for i := 0; i < s.opts.Messages; i++ {
				at := time.Duration(s.rand.Uint64N(uint64(s.opts.Window)))
				from, to := from, to
				s.w.Schedule(at, func() { from.send(to.m.MyAddr(), to.name, to.m.Name().Type) })
			}
		}
	}
}

func (s *scenario) allIssued() bool { _, ok := s.w.jobs.next(); return !ok }

// payload draws a message size: mostly small, sometimes a few KiB, rarely 64 KiB.
func (s *scenario) payload() []byte {
	var n int
	switch r := s.rand.IntN(100); {
	case r < 80:
		n = s.rand.IntN(256)
	case r < 98:
		n = 4096 + s.rand.IntN(4096)
	default:
		n = 64 << 10
	}
	b := make([]byte, max(n, 8))
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func (n *simNode) send(to wire.EntityAddr, toName string, toType wire.EntityType) {
	c, err := n.m.ConnectTo(toType, to)
	if err != nil {
		n.s.check.Violate(InvNoProgress, int64(n.s.w.Now()), "%s connect_to %v: %v", n.name, to, err)
		return
	}
	n.sendOn(c, toName, !n.m.Policy(toType).Lossy)
}

func (n *simNode) sendOn(c *msgr.Connection, toName string, lossless bool) {
	s := n.s
	s.nextID++
	m := wire.NewMessage(wire.MsgPing, s.payload())
	m.Header.Tid = s.nextID
	binary.LittleEndian.PutUint64(m.Front, s.nextID)
	s.check.Sent(n.name, toName, s.nextID, lossless)
	c.SendMessage(m)
}

// The node's Dispatcher: record the dispatch; an OSD answers each client message.
func (n *simNode) CanFastDispatchAny() bool           { return n.fast }
func (n *simNode) CanFastDispatch(*msgr.Message) bool { return n.fast }
func (n *simNode) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	n.Dispatch(c, m)
}
func (n *simNode) FastPreprocess(*msgr.Connection, *msgr.Message) {}
func (n *simNode) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	s := n.s
	s.check.Dispatched(m.Header.Tid, int64(s.w.Now()))
	if n.osd && m.Header.Src.Type == wire.EntityClient && m.Header.Type == wire.MsgPing {
		n.sendOn(c, m.Header.Src.String(), false)
	}
	return true
}
func (n *simNode) HandleConnect(*msgr.Connection)      {}
func (n *simNode) HandleFastConnect(*msgr.Connection)  {}
func (n *simNode) HandleAccept(*msgr.Connection)       {}
func (n *simNode) HandleFastAccept(*msgr.Connection)   {}
func (n *simNode) HandleReset(*msgr.Connection) bool   { return false }
func (n *simNode) HandleRemoteReset(*msgr.Connection)  {}
func (n *simNode) HandleRefused(*msgr.Connection) bool { return false }

// trace folds a messenger's trace events into the world's trace hash.
func (n *simNode) trace(ev msgr.TraceEvent) {
	w := n.s.w
	var conn, seq uint64
	if ev.Conn != nil {
		conn = ev.Conn.ID()
	}
	if ev.Msg != nil {
		seq = ev.Msg.Header.Seq
	}
	w.Trace.Add(5, uint64(n.idx), uint64(ev.Kind), conn, uint64(ev.From), uint64(ev.To), seq)
	if !w.Trace.keep {
		return
	}
	switch ev.Kind {
	case msgr.TraceState:
		w.Trace.Logf(w.Now(), "%s conn %d: %v -> %v", n.name, conn, ev.From, ev.To)
	case msgr.TraceFault:
		w.Trace.Logf(w.Now(), "%s conn %d: fault in %v: %v", n.name, conn, ev.From, ev.Err)
	case msgr.TraceDecision:
		w.Trace.Logf(w.Now(), "%s conn %d: accept decision %s", n.name, conn, ev.Rule)
	case msgr.TraceDispatch:
		w.Trace.Logf(w.Now(), "%s conn %d: dispatch %v fast=%v", n.name, conn, ev.Msg, ev.Fast)
	}
}

// shutdown stops every messenger and runs until all are done.
func (s *scenario) shutdown() {
	for _, n := range s.nodes {
		n.m.Shutdown()
	}
	done := func() bool {
		for _, n := range s.nodes {
			if !n.m.Finished() {
				return false
			}
		}
		return true
	}
	if err := s.w.RunUntil(done, s.w.Now()+time.Minute, s.opts.MaxSteps); err != nil {
		s.check.Violate(InvShutdownStalled, int64(s.w.Now()), "%v", err)
	}
}

func (s *scenario) result() Result {
	sent, deliv := s.check.Counts()
	r := Result{
		Seed: s.opts.Seed, TraceHash: s.w.Trace.Hash(), Sent: sent, Delivered: deliv,
		VirtualTime: s.w.Now(), Steps: s.w.Steps(), Violations: s.check.Violations(),
		Summary: s.check.Summary(), Trace: s.w.Trace.Lines(),
	}
	r.Pass = len(r.Violations) == 0
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
