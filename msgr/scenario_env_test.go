package msgr_test

// The environments the test_msgr scenarios (scenario_test.go) run in: scSim, the
// deterministic simulator (virtual time, one seed per run), and scEpoll (real loopback TCP,
// scenario_epoll_test.go). Both build messengers the same way, over a faultStack that can
// shut sockets down the way Ceph's ms_inject_socket_failures does.

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

var (
	scTrace = flag.Bool("msgr.sctrace", false, "log messenger traces (states, faults, decisions) in the test_msgr scenarios")
	scSeeds = flag.Int("msgr.scseeds", 0, "seeds per scenario in the simulator (0: 20, or 4 with -short)")
	scSeed  = flag.Uint64("msgr.scseed", 0, "run the simulated scenarios with this one seed only")
)

// scEnv is where a scenario runs. Scenarios only use the messenger API through it.
type scEnv interface {
	// Messenger creates a messenger as test_msgr's fixture does: policies set, bound if asked,
	// started, with its dispatcher added at the head (which makes it ready).
	Messenger(o msgrOpts) (*msgr.Messenger, *fakeDispatcher)
	// WaitFor waits until cond holds; it fails the test if it does not within a generous limit
	// (a minute of virtual time in the simulator, 20 s of real time over epoll).
	WaitFor(what string, cond func() bool)
	// Within waits at most d for cond and reports whether it held.
	Within(d time.Duration, cond func() bool) bool
	// Sleep lets d pass (virtual time in the simulator).
	Sleep(d time.Duration)
	// FailSockets shuts down (SHUT_RDWR) every open socket of a connected to b, as Ceph's
	// ms_inject_socket_failures does; both ends then fault on their next read or write. It
	// returns how many sockets it shut down.
	FailSockets(a, b *msgr.Messenger) int
	// Faults lists the faults traced by m so far.
	Faults(m *msgr.Messenger) []faultRec
	// Shutdown shuts the messengers down and waits until they finished.
	Shutdown(ms ...*msgr.Messenger)
	// Rand is a random source for the scenario's own choices (seeded).
	Rand() *rand.Rand
	// Sim reports whether time is virtual (waits cost no real time).
	Sim() bool
	// Desc names the environment and seed, for failure messages.
	Desc() string
}

// msgrOpts configures one messenger of a scenario.
type msgrOpts struct {
	name     wire.EntityName
	def      *proto.Policy // default policy (Ceph's set_default_policy); nil: Ceph's Policy()
	policies map[wire.EntityType]proto.Policy
	bind     bool
	port     uint16 // with bind: the port (0: the first free one from 6800)

	server bool // the FakeDispatcher answers every message with an MPing
	fast   bool // the FakeDispatcher fast-dispatches MPing

	dispatcher msgr.Dispatcher // use this instead of a FakeDispatcher

	maxBackoff time.Duration // 0: 1 s, as test_msgr's main() sets ms_max_backoff
	idle       time.Duration // ms_connection_idle_timeout (0: default)
	ready      time.Duration // ms_connection_ready_timeout (0: default)
}

func (o *msgrOpts) config(name wire.EntityName) msgr.Config {
	cfg := msgr.Config{
		Name: name, ClusterProtocol: wire.ProtoOSDPeer,
		MaxBackoff: o.maxBackoff, IdleTimeout: o.idle, ReadyTimeout: o.ready,
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = time.Second
	}
	return cfg
}

// setup applies policies, binds, starts and adds the dispatcher (Ceph's fixture order).
func (o *msgrOpts) setup(t *testing.T, m *msgr.Messenger, bindAddr netip.Addr, desc string) *fakeDispatcher {
	t.Helper()
	if o.def != nil {
		m.SetDefaultPolicy(*o.def)
	}
	for _, typ := range sortedTypes(o.policies) {
		m.SetPolicy(typ, o.policies[typ])
	}
	if o.bind {
		if err := m.Bind(netip.AddrPortFrom(bindAddr, o.port)); err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
	}
	if err := m.Start(); err != nil {
		t.Fatalf("%s: %v", desc, err)
	}
	var fd *fakeDispatcher
	d := o.dispatcher
	if d == nil {
		fd = newFakeDispatcher(o.server, o.fast)
		d = fd
	}
	m.AddDispatcherHead(d)
	return fd
}

func sortedTypes(p map[wire.EntityType]proto.Policy) []wire.EntityType {
	var ts []wire.EntityType
	for t := range p {
		ts = append(ts, t)
	}
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j] < ts[j-1]; j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
	return ts
}

// faultRec is one fault a messenger traced.
type faultRec struct {
	conn  *msgr.Connection
	state proto.State
	err   error
}

// tracer collects faults and, with -msgr.sctrace, logs what the messengers do.
type tracer struct {
	t   *testing.T
	now func() time.Duration

	mu     sync.Mutex
	faults map[*msgr.Messenger][]faultRec
	recent []string // the last traceKeep lines
}

// traceKeep is how many trace lines a tracer keeps to print when its test fails.
const traceKeep = 3000

func newTracer(t *testing.T, now func() time.Duration) *tracer {
	tr := &tracer{t: t, now: now, faults: make(map[*msgr.Messenger][]faultRec)}
	t.Cleanup(func() {
		if !t.Failed() || *scTrace {
			return
		}
		tr.mu.Lock()
		defer tr.mu.Unlock()
		t.Logf("the last %d trace lines:", len(tr.recent))
		for _, l := range tr.recent {
			t.Log(l)
		}
	})
	return tr
}

// logf logs a trace line with -msgr.sctrace, and keeps the recent ones for a failure.
func (tr *tracer) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if *scTrace {
		tr.t.Log(line)
		return
	}
	tr.mu.Lock()
	if len(tr.recent) == traceKeep {
		copy(tr.recent, tr.recent[1:])
		tr.recent = tr.recent[:traceKeep-1]
	}
	tr.recent = append(tr.recent, line)
	tr.mu.Unlock()
}

func (tr *tracer) trace(ev msgr.TraceEvent) {
	if ev.Kind == msgr.TraceFault {
		tr.mu.Lock()
		tr.faults[ev.Msgr] = append(tr.faults[ev.Msgr], faultRec{conn: ev.Conn, state: ev.From, err: ev.Err})
		tr.mu.Unlock()
	}
	var id uint64
	if ev.Conn != nil {
		id = ev.Conn.ID()
	}
	prefix := fmt.Sprintf("%11.6f %v c%d", tr.now().Seconds(), ev.Msgr.Name(), id)
	switch ev.Kind {
	case msgr.TraceState:
		tr.logf("%s %v -> %v", prefix, ev.From, ev.To)
	case msgr.TraceFault:
		tr.logf("%s fault in %v: %v", prefix, ev.From, ev.Err)
	case msgr.TraceDecision:
		tr.logf("%s accept decision: %s", prefix, ev.Rule)
	case msgr.TraceConnEvent:
		tr.logf("%s event %v", prefix, ev.Event)
	case msgr.TraceSend, msgr.TraceDeliver, msgr.TraceDrop:
		kind := map[msgr.TraceKind]string{msgr.TraceSend: "send", msgr.TraceDeliver: "deliver", msgr.TraceDrop: "drop"}[ev.Kind]
		tr.logf("%s %s %v", prefix, kind, ev.Msg)
	}
}

func (tr *tracer) faultsOf(m *msgr.Messenger) []faultRec {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]faultRec(nil), tr.faults[m]...)
}

// dumpConnections logs every live connection of ms (after a failed wait).
func dumpConnections(t *testing.T, ms []*msgr.Messenger) {
	t.Helper()
	for _, m := range ms {
		for _, c := range m.Connections() {
			out, in, cs, pgs := c.Seqs()
			t.Logf("  %v c%d peer %v (%v): %v out_seq %d in_seq %d connect_seq %d peer_global_seq %d queued %d",
				m.Name(), c.ID(), c.PeerAddr(), c.PeerType(), c.State(), out, in, cs, pgs, c.Queued())
		}
	}
}

// ---------------------------------------------------------------------------------------
// Socket fault injection (ms_inject_socket_failures), usable over any netio.Stack.

// faultStack wraps a netio.Stack and remembers the sockets it handed out, so a test can shut
// them down from outside. Its lock also orders Shutdown (test goroutine) against Close (the
// owning center), so a shut-down never hits a closed (and maybe reused) descriptor.
type faultStack struct {
	netio.Stack
	mu     sync.Mutex
	socks  map[*faultSocket]struct{}
	listen []netip.AddrPort
}

func newFaultStack(s netio.Stack) *faultStack {
	return &faultStack{Stack: s, socks: make(map[*faultSocket]struct{})}
}

func (s *faultStack) Listen(addr netip.AddrPort, backlog int) (netio.Listener, error) {
	l, err := s.Stack.Listen(addr, backlog)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.listen = append(s.listen, l.Addr())
	s.mu.Unlock()
	return &faultListener{Listener: l, st: s}, nil
}

func (s *faultStack) Connect(addr netip.AddrPort) (netio.Socket, error) {
	sock, err := s.Stack.Connect(addr)
	if err != nil {
		return nil, err
	}
	return s.wrap(sock), nil
}

func (s *faultStack) wrap(sock netio.Socket) *faultSocket {
	f := &faultSocket{Socket: sock, st: s, local: sock.LocalAddr(), remote: sock.RemoteAddr()}
	s.mu.Lock()
	s.socks[f] = struct{}{}
	s.mu.Unlock()
	return f
}

// endpoints are the addresses at which the stack's sockets and listeners can be reached.
func (s *faultStack) endpoints() map[netip.AddrPort]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	eps := make(map[netip.AddrPort]bool)
	for _, a := range s.listen {
		eps[a] = true
	}
	for f := range s.socks {
		eps[f.local] = true
	}
	return eps
}

// failToward shuts down every open socket of s whose peer is one of eps.
func (s *faultStack) failToward(eps map[netip.AddrPort]bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for f := range s.socks {
		if eps[f.remote] {
			if f.Socket.Shutdown(netio.ShutReadWrite) == nil {
				n++
			}
		}
	}
	return n
}

type faultListener struct {
	netio.Listener
	st *faultStack
}

func (l *faultListener) Accept() (netio.Socket, error) {
	s, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.st.wrap(s), nil
}

type faultSocket struct {
	netio.Socket
	st            *faultStack
	local, remote netip.AddrPort // as when created: read without racing the owner
}

func (f *faultSocket) Close() error {
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	delete(f.st.socks, f)
	return f.Socket.Close()
}

// ---------------------------------------------------------------------------------------
// The simulator.

// scSim runs a scenario in a world.World: every messenger on its own simulated host, virtual
// time, one seeded schedule.
type scSim struct {
	t      *testing.T
	seed   uint64
	w      *world.World
	tr     *tracer
	rng    *rand.Rand
	ms     []*msgr.Messenger
	stacks map[*msgr.Messenger]*faultStack
}

// simMaxSteps bounds one wait: more scheduling decisions than this without the condition
// holding is a livelock.
const simMaxSteps = 20_000_000

func newScSim(t *testing.T, seed uint64) *scSim {
	lat := time.Duration(25+seed%4*50) * time.Microsecond
	w := world.New(seed, simnet.Config{Latency: lat}, false)
	e := &scSim{t: t, seed: seed, w: w, rng: rand.New(rand.NewPCG(seed, 0x5ce7a710)),
		stacks: make(map[*msgr.Messenger]*faultStack)}
	e.tr = newTracer(t, w.Now)
	return e
}

func (e *scSim) Desc() string     { return fmt.Sprintf("sim seed %d (t=%v)", e.seed, e.w.Now()) }
func (e *scSim) Sim() bool        { return true }
func (e *scSim) Rand() *rand.Rand { return e.rng }

func (e *scSim) Messenger(o msgrOpts) (*msgr.Messenger, *fakeDispatcher) {
	e.t.Helper()
	ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(len(e.ms) + 1)})
	fs := newFaultStack(e.w.AddHost(fmt.Sprintf("%v@%v", o.name, ip), ip))
	cfg := o.config(o.name)
	cfg.Stack, cfg.Runtime, cfg.Rand, cfg.Tracer = fs, e.w, e.w.Rand(), e.tr.trace
	m, err := msgr.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.ms = append(e.ms, m)
	e.stacks[m] = fs
	return m, o.setup(e.t, m, ip, e.Desc())
}

func (e *scSim) Within(d time.Duration, cond func() bool) bool {
	e.t.Helper()
	expired, held := false, false
	deadline := e.w.Now() + d
	e.w.Schedule(deadline, func() { expired = true })
	err := e.w.RunUntil(func() bool {
		held = cond() // cond may consume what it checks: call it once per check
		return held || expired
	}, deadline+time.Second, simMaxSteps)
	if err != nil {
		dumpConnections(e.t, e.ms)
		e.t.Fatalf("%s: %v", e.Desc(), err)
	}
	return held
}

func (e *scSim) WaitFor(what string, cond func() bool) {
	e.t.Helper()
	if !e.Within(time.Minute, cond) {
		dumpConnections(e.t, e.ms)
		e.t.Fatalf("%s: timed out waiting for %s", e.Desc(), what)
	}
}

func (e *scSim) Sleep(d time.Duration) { e.Within(d, func() bool { return false }) }

func (e *scSim) FailSockets(a, b *msgr.Messenger) int {
	return e.stacks[a].failToward(e.stacks[b].endpoints())
}

func (e *scSim) Faults(m *msgr.Messenger) []faultRec { return e.tr.faultsOf(m) }

func (e *scSim) Shutdown(ms ...*msgr.Messenger) {
	e.t.Helper()
	for _, m := range ms {
		m.Shutdown()
	}
	e.WaitFor("shutdown", func() bool {
		for _, m := range ms {
			if !m.Finished() {
				return false
			}
		}
		return true
	})
}

// Hash is the world's trace hash: the same seed must give the same hash.
func (e *scSim) Hash() uint64 { return e.w.Trace.Hash() }
