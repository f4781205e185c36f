package sim

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/inject"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// cproc is one machine of the cluster workload (the mon, an OSD, a client, the probe): a
// simulated host running one or more messengers, through a sequence of incarnations (a crash
// or a clean restart starts a new one). What survives an incarnation is the node's durable
// state, kept by the node types that embed cproc.
type cproc struct {
	cl       *cluster
	name     string // e.g. "osd.1"
	ename    wire.EntityName
	idx      int
	ip       netip.Addr
	inc      int
	alive    bool
	stopping bool // a clean shutdown is under way
	host     *simnet.Host
	stack    netio.Stack
	inj      *inject.Stack
	injected uint64 // socket failures injected into earlier incarnations
	msgrs    []*cmsgr
	// restart starts a new incarnation (set by the node type).
	restart func() error
	// keepNonce: restarts announce the same nonce (a monitor) instead of a new one.
	keepNonce bool
}

func (p *cproc) incName() string { return fmt.Sprintf("%s#%d", p.name, p.inc) }

// newHost starts an incarnation's host (and socket-failure injector).
func (p *cproc) newHost() {
	s := p.cl.s
	p.inc++
	if p.inj != nil {
		p.injected += p.inj.Injected()
		p.inj = nil
	}
	p.host = s.w.AddHost(p.incName(), p.ip)
	p.stack = p.host
	if s.faults.On[FaultSocketFailures] {
		p.inj = inject.New(p.host, inject.Options{SocketFailures: s.socketFailures(), Rand: s.w.Rand()})
		p.stack = p.inj
	}
	p.msgrs = nil
	p.alive, p.stopping = true, false
}

// process implementation (fault targets).

func (p *cproc) Label() string       { return p.name }
func (p *cproc) Incarnation() string { return p.incName() }
func (p *cproc) IP() netip.Addr      { return p.ip }
func (p *cproc) Running() bool       { return p.alive && !p.stopping }

func (p *cproc) Centers() []*event.Center {
	var cs []*event.Center
	for _, x := range p.msgrs {
		cs = append(cs, x.m.Centers()...)
	}
	return cs
}

// Crash: every socket vanishes, every messenger stops, the volatile state is gone; the node
// restarts 1–50 ms later.
func (p *cproc) Crash() {
	s := p.cl.s
	s.inj.Note(p.incName(), "crash")
	p.host.Crash()
	for _, x := range p.msgrs {
		s.audit.Remove(x.m) // its state is gone, not leaked
	}
	p.down()
	s.w.Net.RemoveHost(p.ip)
	at := s.w.Now() + time.Duration(s.frand.Range(1, 50))*time.Millisecond
	s.w.Schedule(at, p.revive)
}

// down ends the incarnation: centers stopped, streams to and from it forgiven.
func (p *cproc) down() {
	s := p.cl.s
	for _, c := range p.Centers() {
		s.w.Stop(c)
	}
	p.alive = false
	for _, x := range p.msgrs {
		s.check.ForgiveNode(x.endpoint())
	}
}

func (p *cproc) revive() {
	s := p.cl.s
	if s.phase == PhaseShutdown || s.phase == PhaseDone {
		return
	}
	if err := p.restart(); err != nil {
		s.check.Violate(InvNoProgress, int64(s.w.Now()), "restart %s: %v", p.name, err)
	}
}

// cleanRestart shuts every messenger down (Ceph's shutdown), waits until all are done
// (wait), drops them (delete) and starts a new incarnation a little later.
func (p *cproc) cleanRestart() {
	s := p.cl.s
	if !p.Running() || s.phase != PhaseSafety {
		return
	}
	s.w.Trace.Logf(s.w.Now(), "lifecycle: %s shuts down for a restart", p.incName())
	p.stopping = true
	for _, x := range p.msgrs {
		s.check.ForgiveNode(x.endpoint())
		x.m.Shutdown()
	}
	p.waitStopped()
}

// waitStopped polls (every virtual millisecond) until every messenger finished shutting down.
func (p *cproc) waitStopped() {
	s := p.cl.s
	for _, x := range p.msgrs {
		if !x.m.Finished() {
			s.w.Schedule(s.w.Now()+time.Millisecond, p.waitStopped)
			return
		}
	}
	p.alive = false
	s.w.Net.RemoveHost(p.ip)
	s.w.Trace.Logf(s.w.Now(), "lifecycle: %s stopped and deleted", p.incName())
	s.w.Schedule(s.w.Now()+time.Duration(s.frand.Range(1, 20))*time.Millisecond, p.revive)
}

// cmsgr is one messenger of a cluster node and its dispatcher.
type cmsgr struct {
	p     *cproc
	role  string // "public", "cluster", "hb_client", "hb_back_server", "hb_front_server", "objecter", or ""
	slot  int    // index among the node's messengers (for the trace)
	m     *msgr.Messenger
	port  uint16 // bound port, kept across incarnations (0: never bound)
	bind  bool
	fast  bool
	nonce uint32
	auth  msgr.Auth // nil: auth none
	// handle acts on a received message (the node type's logic); onReset on a session reset.
	handle  func(c *msgr.Connection, m *cmsg)
	onReset func(c *msgr.Connection)
}

// endpoint names the messenger across incarnations, e.g. "osd.1/cluster" (streams are
// between endpoints).
func (x *cmsgr) endpoint() string {
	if x.role == "" {
		return x.p.name
	}
	return x.p.name + "/" + x.role
}

// receiver names the messenger's current incarnation, e.g. "osd.1/cluster#2".
func (x *cmsgr) receiver() string { return fmt.Sprintf("%s#%d", x.endpoint(), x.p.inc) }

// create makes the messenger of a new incarnation.
func (x *cmsgr) create(name wire.EntityName, clusterProto uint32, workers int) error {
	s := x.p.cl.s
	cfg := msgr.Config{Name: name, Nonce: x.nonce, ExplicitNonce: x.p.keepNonce, Stack: x.p.stack, Runtime: s.w,
		Rand: s.w.Rand(), ClusterProtocol: clusterProto, Tracer: x.trace, Workers: workers, Auth: x.auth,
		ReadyTimeout: x.p.cl.readyTimeout, IdleTimeout: x.p.cl.idleTimeout}
	if s.faults.On[FaultDispatchDelay] {
		cfg.InjectDelay = &msgr.InjectDelay{Types: []wire.EntityType{wire.EntityOSD, wire.EntityClient, wire.EntityMon},
			Probability: s.faults.DelayProb, Max: s.faults.DelayMax}
	}
	m, err := msgr.New(cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", x.endpoint(), err)
	}
	x.m = m
	x.p.msgrs = append(x.p.msgrs, x)
	s.audit.Add(x.receiver(), m)
	return nil
}

// bindAndStart binds (if the messenger serves) on its port of earlier incarnations, or the
// first free one, and starts it.
func (x *cmsgr) bindAndStart() error {
	if x.bind {
		if err := x.m.Bind(netip.AddrPortFrom(x.p.ip, x.port)); err != nil {
			return fmt.Errorf("%s: %w", x.endpoint(), err)
		}
		x.port = x.m.MyAddr().Port()
		x.p.cl.endpoints[x.m.MyAddr()] = x.endpoint()
	}
	return x.m.Start()
}

// init adds the dispatchers (Ceph's add_dispatcher_head/tail; the first makes the messenger
// ready): this one at the head or the tail as the seed says, sometimes behind or before a
// dispatcher that declines everything.
func (x *cmsgr) init(head, extra bool) {
	if extra {
		x.m.AddDispatcherTail(msgr.NopDispatcher{})
	}
	if head {
		x.m.AddDispatcherHead(x)
	} else {
		x.m.AddDispatcherTail(x)
	}
}

// send sends m to endpoint to on c, recording it with the checker.
func (x *cmsgr) send(c *msgr.Connection, to string, lossless bool, m *cmsg) {
	s := x.p.cl.s
	s.nextID++
	m.id, m.from = s.nextID, x.endpoint()
	msg := wire.NewMessage(cmsgType[m.kind], m.encode())
	msg.Header.Tid = m.id
	if m.kind == ckPing || m.kind == ckPingReply {
		msg.Header.Priority = wire.PrioHigh
	}
	s.check.SentOn(x.endpoint(), to, check.SessionID(x.p.inc, c.ID()), msg.Header.Priority, m.id, lossless)
	if err := c.SendMessage(msg); err != nil {
		s.check.Dropped(m.id)
	}
}

// connect returns the session with the messenger at addr (a peer of type t).
func (x *cmsgr) connect(t wire.EntityType, addr wire.EntityAddr) *msgr.Connection {
	if !x.p.alive || x.p.stopping || !addr.Addr.IsValid() {
		return nil
	}
	c, err := x.m.ConnectTo(t, addr)
	if err != nil {
		return nil
	}
	return c
}

// Dispatcher implementation.

func (x *cmsgr) CanFastDispatchAny() bool                       { return x.fast }
func (x *cmsgr) CanFastDispatch(*msgr.Message) bool             { return x.fast }
func (x *cmsgr) FastPreprocess(*msgr.Connection, *msgr.Message) {}
func (x *cmsgr) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	x.Dispatch(c, m)
}

// Dispatch checks the message with the Checker and hands it to the node's logic.
func (x *cmsgr) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	s := x.p.cl.s
	cm, err := decodeCmsg(m.Front)
	intact := err == nil && cm.id == m.Header.Tid
	s.check.Dispatched(x.receiver(), m.Header.Tid, intact, int64(s.w.Now()))
	if intact && x.p.alive && x.handle != nil {
		x.handle(c, cm)
	}
	return true
}

func (x *cmsgr) HandleConnect(c *msgr.Connection)     { x.opened(c) }
func (x *cmsgr) HandleFastConnect(*msgr.Connection)   {}
func (x *cmsgr) HandleAccept(c *msgr.Connection)      { x.opened(c) }
func (x *cmsgr) HandleFastAccept(*msgr.Connection)    {}
func (x *cmsgr) HandleReset(c *msgr.Connection) bool  { x.reset(c); return true }
func (x *cmsgr) HandleRemoteReset(c *msgr.Connection) { x.reset(c) }
func (x *cmsgr) HandleRefused(*msgr.Connection) bool  { return false }

func (x *cmsgr) opened(c *msgr.Connection) {
	s := x.p.cl.s
	if s.opened[c] {
		s.stats.Reconnects++
	}
	s.opened[c] = true
}

// reset accounts the loss of what this messenger sent to the peer, then lets the node react.
func (x *cmsgr) reset(c *msgr.Connection) {
	s := x.p.cl.s
	if s.phase == PhaseShutdown || s.phase == PhaseDone {
		return
	}
	s.stats.SessionResets++
	if peer, ok := x.p.cl.endpoints[c.PeerAddr()]; ok {
		s.check.Forgive(x.endpoint(), peer)
	}
	if x.onReset != nil && x.p.alive {
		x.onReset(c)
	}
}

// trace folds the messenger's trace events into the world's trace hash, the coverage and
// the log, and tells the checker about dropped messages.
func (x *cmsgr) trace(ev msgr.TraceEvent) {
	s := x.p.cl.s
	w := s.w
	if ev.Kind == msgr.TraceAcked {
		// Not folded into the trace hash: it follows from the ACK frames already traced.
		s.check.Acked(ev.Msg.Header.Tid, int64(w.Now()))
		return
	}
	var conn, seq uint64
	if ev.Conn != nil {
		conn = ev.Conn.ID()
	}
	if ev.Msg != nil {
		seq = ev.Msg.Header.Seq
	}
	w.Trace.Add(world.TagMsgrEvent, uint64(x.p.idx*8+x.slot), uint64(x.p.inc), uint64(ev.Kind), conn, uint64(ev.From), uint64(ev.To), seq)
	s.observe(ev)
	switch ev.Kind {
	case msgr.TraceDrop:
		s.check.Dropped(ev.Msg.Header.Tid)
	case msgr.TraceDeliver:
		s.check.Received(x.receiver(), ev.Msg.Header.Tid)
	case msgr.TraceFault:
		s.stats.ConnFaults++
	case msgr.TraceHeld:
		s.held++
	}
	if w.Trace.Keeping() {
		logTraceEvent(w, x.receiver(), ev, conn)
	}
}

// featOSDPeer is what OSDs require of each other (Ceph's CEPH_FEATURE_UID | PGID64 | OSDENC).
const featOSDPeer = wire.FeatureUID | wire.FeaturePGID64 | wire.FeatureOSDEnc

// setPolicies applies a default policy and per-peer-type policies.
func (x *cmsgr) setPolicies(def proto.Policy, per map[wire.EntityType]proto.Policy) {
	x.m.SetDefaultPolicy(def)
	for _, t := range []wire.EntityType{wire.EntityMon, wire.EntityMDS, wire.EntityOSD, wire.EntityClient, wire.EntityMgr} {
		if p, ok := per[t]; ok {
			x.m.SetPolicy(t, p)
		}
	}
}
