package cluster

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/sim/harness"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// cproc is one machine of the cluster workload (the mon, an OSD, a client, the probe): a
// simulated host running one or more messengers, through a sequence of incarnations (a crash
// or a clean restart starts a new one). What survives an incarnation is the node's durable
// state, kept by the node types that embed cproc.
type cproc struct {
	cl       *Workload
	name     string // e.g. "osd.1"
	ename    wire.EntityName
	idx      int
	ip       netip.Addr
	inc      int
	alive    bool
	stopping bool // a clean shutdown is under way
	host     *simnet.Host
	stack    netio.Stack
	sockets  *harness.Sockets
	msgrs    []*cmsgr
	// restart starts a new incarnation (set by the node type).
	restart func() error
	// keepNonce: restarts announce the same nonce (a monitor) instead of a new one.
	keepNonce bool
	// incStr is incName for incarnation incOf (built once per incarnation).
	incStr string
	incOf  int
}

// incName names the current incarnation, e.g. "osd.1#2".
func (p *cproc) incName() string {
	if p.incStr == "" || p.incOf != p.inc {
		p.incStr, p.incOf = fmt.Sprintf("%s#%d", p.name, p.inc), p.inc
	}
	return p.incStr
}

// newHost starts an incarnation's host (and socket-failure injector).
func (p *cproc) newHost() {
	h := p.cl.h
	p.inc++
	p.host = h.W.AddHost(p.incName(), p.ip)
	p.stack = p.sockets.Stack(p.host)
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
	h := p.cl.h
	h.Note(p.incName(), "crash")
	p.host.Crash()
	for _, x := range p.msgrs {
		h.Audit.Remove(x.m) // its state is gone, not leaked
	}
	p.down()
	h.W.Net.RemoveHost(p.ip)
	at := h.W.Now() + time.Duration(h.FaultRand.Range(1, 50))*time.Millisecond
	h.W.Schedule(at, p.revive)
}

// down ends the incarnation: centers stopped, streams to and from it forgiven.
func (p *cproc) down() {
	h := p.cl.h
	for _, c := range p.Centers() {
		h.W.Stop(c)
	}
	p.alive = false
	for _, x := range p.msgrs {
		h.Check.ForgiveNode(x.endpoint())
		h.Check.Abandoned(x.endpoint()) // its messengers report nothing of what they held
		p.cl.gone[x.m.MyAddr()] = true
	}
}

func (p *cproc) revive() {
	h := p.cl.h
	if h.Phase == harness.PhaseShutdown || h.Phase == harness.PhaseDone {
		return
	}
	if err := p.restart(); err != nil {
		h.Check.Violate(check.InvNoProgress, int64(h.W.Now()), "restart %s: %v", p.name, err)
	}
}

// cleanRestart shuts every messenger down (Ceph's shutdown), waits until all are done
// (wait), drops them (delete) and starts a new incarnation a little later.
func (p *cproc) cleanRestart() {
	h := p.cl.h
	if !p.Running() || h.Phase != harness.PhaseSafety {
		return
	}
	h.W.Trace.Logf(h.W.Now(), "lifecycle: %s shuts down for a restart", p.incName())
	p.stopping = true
	for _, x := range p.msgrs {
		h.Check.ForgiveNode(x.endpoint())
		p.cl.gone[x.m.MyAddr()] = true
		x.m.Shutdown()
	}
	p.waitStopped()
}

// waitStopped polls (every virtual millisecond) until every messenger finished shutting down.
func (p *cproc) waitStopped() {
	h := p.cl.h
	for _, x := range p.msgrs {
		if !x.m.Finished() {
			h.W.Schedule(h.W.Now()+time.Millisecond, p.waitStopped)
			return
		}
	}
	p.alive = false
	h.W.Net.RemoveHost(p.ip)
	h.W.Trace.Logf(h.W.Now(), "lifecycle: %s stopped and deleted", p.incName())
	h.W.Schedule(h.W.Now()+time.Duration(h.FaultRand.Range(1, 20))*time.Millisecond, p.revive)
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
	// endpoint's and receiver's names, and the incarnation recv was built for
	ep, recv string
	recvInc  int
}

// endpoint names the messenger across incarnations, e.g. "osd.1/cluster" (streams are
// between endpoints).
// (Built once: names are formatted for every message sent and dispatched.)
func (x *cmsgr) endpoint() string {
	if x.ep == "" {
		x.ep = x.p.name
		if x.role != "" {
			x.ep = x.p.name + "/" + x.role
		}
	}
	return x.ep
}

// receiver names the messenger's current incarnation, e.g. "osd.1/cluster#2" (built once
// per incarnation).
func (x *cmsgr) receiver() string {
	if x.recv == "" || x.recvInc != x.p.inc {
		x.recv, x.recvInc = fmt.Sprintf("%s#%d", x.endpoint(), x.p.inc), x.p.inc
	}
	return x.recv
}

// create makes the messenger of a new incarnation.
func (x *cmsgr) create(name wire.EntityName, clusterProto uint32, workers int) error {
	h := x.p.cl.h
	cfg := msgr.Config{Name: name, Nonce: x.nonce, ExplicitNonce: x.p.keepNonce, Stack: x.p.stack, Runtime: h.W,
		Rand: h.W.Rand(), ClusterProtocol: clusterProto, Tracer: h.Tracer(x), Workers: workers, Auth: x.auth,
		ReadyTimeout: x.p.cl.readyTimeout, IdleTimeout: x.p.cl.idleTimeout, Recycler: &h.Recycler}
	h.Cfg.Knobs.Apply(&cfg)
	if h.Faults.On[fault.DispatchDelay] {
		cfg.InjectDelay = &msgr.InjectDelay{Types: []wire.EntityType{wire.EntityOSD, wire.EntityClient, wire.EntityMon},
			Probability: h.Faults.DelayProb, Max: h.Faults.DelayMax}
	}
	m, err := msgr.New(cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", x.endpoint(), err)
	}
	x.m = m
	x.p.msgrs = append(x.p.msgrs, x)
	h.Audit.Add(x.receiver(), m)
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
	err := x.m.Start()
	delete(x.p.cl.gone, x.m.MyAddr()) // an incarnation with the address (nonce included) is back
	return err
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

// send sends m to endpoint to on c, recording it with the checker. The message is one the
// messenger lends (Messenger.NewMessage) and takes back once done with it; its front comes
// from the run's send memory (the messenger may still be writing it out after it is done
// with the message).
func (x *cmsgr) send(c *msgr.Connection, to string, lossless bool, m *cmsg) {
	h := x.p.cl.h
	m.id, m.from = h.NextID(), x.endpoint()
	msg := x.m.NewMessage(cmsgType[m.kind], m.encodeInto(h.Mem.Bytes(m.encodedLen())[:0]))
	msg.Header.Tid = m.id
	if m.kind == ckPing || m.kind == ckPingReply {
		msg.Header.Priority = wire.PrioHigh
	}
	h.Check.SentOn(x.endpoint(), to, check.SessionID(x.p.inc, c.ID()), msg.Header.Priority, m.id, lossless)
	if h.W.Trace.Keeping() {
		h.W.Trace.AddMark(world.Mark{At: h.W.Now(), Kind: "send", Node: x.receiver(), Peer: to, ID: m.id, Conn: c.ID(),
			Text: policyName(lossless) + " " + m.kind.String()})
	}
	if err := c.SendMessage(msg); err != nil {
		x.m.Release(msg) // not taken: still ours
		h.Check.Dropped(m.id)
	} else if len(x.p.cl.gone) > 0 && x.p.cl.gone[c.PeerAddr()] {
		h.Check.SentToGone(m.id) // queued for a stopped incarnation: nothing will read it
	}
}

// markDown marks down the session with the messenger at addr (a peer of type t) and tells the
// checker: on a lossless session without resetcheck (OSD↔OSD, lossless_peer on both ends) the
// peer may send what it still holds again to our next session (check.CaseRedelivery), and
// what we read from it but had not dispatched is discarded with our dispatch queue.
func (x *cmsgr) markDown(t wire.EntityType, addr wire.EntityAddr) {
	x.m.MarkDown(addr)
	if from, ok := x.p.cl.endpoints[addr]; ok {
		pol := x.m.Policy(t)
		x.p.cl.h.Check.MarkedDown(x.receiver(), from, pol.Lossy || pol.Resetcheck)
		x.p.cl.h.Check.DiscardedOnMarkDown(from, x.endpoint())
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
	cl := x.p.cl
	h := cl.h
	cm := cl.rxMsg()
	err := cm.decode(m.Front, cl.names, cl.keys)
	intact := err == nil && cm.id == m.Header.Tid
	h.DispatchedTampered(x.receiver(), m.Header.Tid, m.Front, c.Signed())
	h.Check.Dispatched(x.receiver(), m.Header.Tid, intact, int64(h.W.Now()))
	if h.W.Trace.Keeping() {
		h.W.Trace.AddMark(world.Mark{At: h.W.Now(), Kind: "dispatch", Node: x.receiver(), Peer: x.p.cl.endpoints[c.PeerAddr()],
			ID: m.Header.Tid, Conn: c.ID(), Text: fmt.Sprintf("seq %d", m.Header.Seq)})
	}
	if intact && x.p.alive && x.handle != nil {
		x.handle(c, cm)
	}
	cl.rxDone(cm)
	// Hand the message back for reuse, as a production dispatcher would (nothing keeps its
	// front: cmsg.decode copies what it keeps). A messenger that still used a released message
	// would corrupt a later delivery, which the checks above would catch.
	c.Messenger().Release(m)
	return true
}

func (x *cmsgr) HandleConnect(c *msgr.Connection)     { x.p.cl.h.Opened(c) }
func (x *cmsgr) HandleFastConnect(*msgr.Connection)   {}
func (x *cmsgr) HandleAccept(c *msgr.Connection)      { x.p.cl.h.Opened(c) }
func (x *cmsgr) HandleFastAccept(*msgr.Connection)    {}
func (x *cmsgr) HandleReset(c *msgr.Connection) bool  { x.reset(c); return true }
func (x *cmsgr) HandleRemoteReset(c *msgr.Connection) { x.reset(c) }
func (x *cmsgr) HandleRefused(*msgr.Connection) bool  { return false }

// reset accounts the loss of what this messenger sent to the peer, then lets the node react.
func (x *cmsgr) reset(c *msgr.Connection) {
	h := x.p.cl.h
	if h.Phase == harness.PhaseShutdown || h.Phase == harness.PhaseDone {
		return
	}
	h.Stats.SessionResets++
	excused := h.ResetExcused(c) // a spurious reset (reported) accounts for no loss
	if peer, ok := x.p.cl.endpoints[c.PeerAddr()]; ok && excused {
		h.Check.Forgive(x.endpoint(), peer)
	}
	if x.onReset != nil && x.p.alive {
		x.onReset(c)
	}
}

// TraceID implements harness.Traced: eight messenger slots per process, and its incarnation.
func (x *cmsgr) TraceID() (uint64, uint64) { return uint64(x.p.idx*8 + x.slot), uint64(x.p.inc) }

// Receiver implements harness.Traced (see receiver).
func (x *cmsgr) Receiver() string { return x.receiver() }

// featOSDPeer is what OSDs require of each other (Ceph's CEPH_FEATURE_UID | PGID64 | OSDENC).
const featOSDPeer = wire.FeatureUID | wire.FeaturePGID64 | wire.FeatureOSDEnc

// setPolicies applies a default policy and per-peer-type policies (with the process's feature
// bits and the run's throttles, harness.Knobs).
func (x *cmsgr) setPolicies(def proto.Policy, per map[wire.EntityType]proto.Policy) {
	x.m.SetDefaultPolicy(x.knobbed(def))
	for _, t := range []wire.EntityType{wire.EntityMon, wire.EntityMDS, wire.EntityOSD, wire.EntityClient, wire.EntityMgr} {
		if p, ok := per[t]; ok {
			x.m.SetPolicy(t, x.knobbed(p))
		}
	}
}

// knobbed is p with the process's feature bits and the run's policy throttles (harness.Knobs).
func (x *cmsgr) knobbed(p proto.Policy) proto.Policy { return x.p.cl.h.Cfg.Knobs.Policy(x.p.idx, p) }

// policyName is how a send mark names the sender's policy for the peer.
func policyName(lossless bool) string {
	if lossless {
		return "lossless"
	}
	return "lossy"
}
