package msgr

import (
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// connHost is the proto.Host of a Connection. Its methods run with the connection locked: on
// the owning center, or for MarkDown on its caller's goroutine, or for an existing session
// touched by an accept decision on the deciding center (see the package's lock protocol).
type connHost Connection

func (h *connHost) c() *Connection { return (*Connection)(h) }

// Now is the center's time. While the owning center runs the connection it is the time read
// when the center's step began (event.Center.StepNow): the core stamps every read and write
// with it, and a clock read per stamp cost more than the rest of the idle bookkeeping. It
// lags the clock by the work the step did so far, so the deadlines the core computes from
// it come that much early (microseconds against timeouts of 1 ms to 900 s). Elsewhere (an
// inline send, a markDown, an accept decision on another center) it reads the clock.
func (h *connHost) Now() time.Duration {
	if h.inCenter {
		return h.center.StepNow()
	}
	return h.center.Now()
}

func (h *connHost) Wall() time.Time     { return h.center.Clock().Wall() }
func (h *connHost) Rand() *detrand.Rand { return h.center.Rand() }

func (h *connHost) StartConnect() {
	c := h.c()
	c.closeSocket()
	addr := c.PeerAddr()
	s, err := c.m.cfg.Stack.Connect(addr.Addr)
	if err != nil {
		c.connectErr = err
		return
	}
	c.sock, c.connecting = s, true
}

func (h *connHost) CloseTransport() { h.c().closeSocket() }

func (h *connHost) ClientAuth(peer wire.EntityType) proto.ClientAuth {
	return h.m.cfg.Auth.Client(peer, randReader{h.c()})
}

func (h *connHost) MyAddr() wire.EntityAddr { return h.m.MyAddr() }

func (h *connHost) LearnAddr(seen wire.EntityAddr) wire.EntityAddr {
	h.m.injectDelay(netio.DelayLearnedAddr)
	return h.m.learnAddr(seen)
}

func (h *connHost) GlobalSeq(atLeast uint32) uint32 { return h.m.nextGlobalSeq(atLeast) }

func (h *connHost) PolicyFor(t wire.EntityType) (proto.Policy, proto.Throttles) {
	h.peerType.Store(uint32(t))
	return h.m.policyAndThrottles(t)
}

func (h *connHost) AcceptConnect(req *proto.ConnectRequest) proto.Decision {
	c := h.c()
	a := req.PeerAddr
	c.peerAddr.Store(&a)
	return c.m.acceptConnect(c, req)
}

func (h *connHost) Deliver(m *wire.Message, r *proto.Reservation) {
	h.msgsIn++ // added to the traffic counters by unlock
	// The upcall is written field by field into its slot: appending the whole struct (it
	// holds pointers) went through a bulk write barrier while the garbage collector marks,
	// once per received message. Slots past the length are zero (run clears them).
	n := len(h.upcalls)
	if n < cap(h.upcalls) {
		h.upcalls = h.upcalls[:n+1]
	} else {
		h.upcalls = append(h.upcalls, upcall{})
	}
	u := &h.upcalls[n]
	u.kind, u.msg = upDeliver, m
	// Only the throttles that hold units (most messages hold none but the dispatch
	// throttle's, a 0-byte one none at all): a slot's reservation is zero otherwise, and a
	// throttle without units is never used. Each interface store checked the write barrier.
	if r.Messages != 0 {
		u.res.Messages, u.res.From.Messages = r.Messages, r.From.Messages
	}
	if r.Bytes != 0 {
		u.res.Bytes, u.res.From.Bytes = r.Bytes, r.From.Bytes
	}
	if r.Dispatch != 0 {
		u.res.Dispatch, u.res.From.Dispatch = r.Dispatch, r.From.Dispatch
	}
	h.deferWrite = true // see Connection.run
	// Traced last: nothing is live after the call, so the untraced path spills no registers.
	// (The upcall runs only after the core returns, so the order is not observable.)
	if h.m.cfg.Tracer != nil {
		h.m.trace(TraceEvent{Kind: TraceDeliver, Conn: h.c(), Msg: m})
	}
}

// Acked implements proto.AckObserver: the peer acknowledged ms, which go back to the free
// list if they were lent (Messenger.NewMessage).
func (h *connHost) Acked(ms []*wire.Message) {
	if h.m.cfg.Tracer != nil {
		h.ackedTraced(ms)
		return
	}
	for _, m := range ms {
		if releasing(m) {
			h.recycled = append(h.recycled, m)
		}
	}
}

// ackedTraced is Acked with a Tracer, out of line: with the trace's call in Acked, every ACKed
// message paid its register spills. Each message is traced, then recycled, in order.
func (h *connHost) ackedTraced(ms []*wire.Message) {
	for _, m := range ms {
		h.m.trace(TraceEvent{Kind: TraceAcked, Conn: h.c(), Msg: m})
		h.recycle(m)
	}
}

// Dropped implements proto.Dropper: the core forgot m unacknowledged (a lossy session wrote
// it, or a reset, fault or stop discarded it); it is traced (TraceDiscard) and a lent message
// goes back to the free list.
func (h *connHost) Dropped(m *wire.Message) {
	if h.m.cfg.Tracer != nil {
		h.m.trace(TraceEvent{Kind: TraceDiscard, Conn: h.c(), Msg: m})
	}
	h.recycle(m)
}

// recycle collects a lent message the core is done with; unlock gives the collected ones to
// the free list together, under one lock: an ACK covers many messages, and the free list's
// lock is shared with the application's NewMessage.
func (h *connHost) recycle(m *wire.Message) {
	if releasing(m) {
		h.recycled = append(h.recycled, m)
	}
}

func (h *connHost) DiscardIncoming() { h.m.dq.discard(h.c()) }

func (h *connHost) Event(kind proto.EventKind) {
	h.upcalls = append(h.upcalls, upcall{kind: upEvent, event: kind})
}

func (h *connHost) Faulted(s proto.State, err error) {
	h.lastFault = err
	h.faultGen++
	h.m.countFault(h.c(), s, err)
	h.m.trace(TraceEvent{Kind: TraceFault, Conn: h.c(), From: s, Err: err})
}

// Throttled counts a received message waiting for a full throttle (proto.Observer).
func (h *connHost) Throttled(proto.State) { h.m.counters.throttleWaits.Add(1) }

// NewMessage, SectionBuffer (rxcache.go), GetBuffer and PutBuffer make connHost a
// proto.Buffers: received messages and their section buffers come from the messenger's
// released ones, prefetch buffers and output arenas from the center's free list.

// GetBuffer lends a prefetch buffer or an output arena from the center's free list.
func (h *connHost) GetBuffer(n int) []byte { return h.bufs.get(n) }

// PutBuffer takes back a buffer GetBuffer lent.
func (h *connHost) PutBuffer(b []byte) { h.bufs.put(b) }

// NewMessage is rxGet, written out where the core's interface call lands: a message from the
// connection's stash, else from its center's list (rxRefill).
func (h *connHost) NewMessage() *wire.Message {
	k := len(h.rxStash) - 1
	if k < 0 {
		return h.c().rxRefill()
	}
	msg := h.rxStash[k]
	h.rxStash[k] = nil
	h.rxStash = h.rxStash[:k]
	h.rxGets++
	*markOf(msg) = h.rxMark // markNone, at home on this center
	return msg
}

// reachHost is the proto.Host of a connection of a traced messenger: a connHost that is also
// a proto.Reacher and a proto.StateObserver, so the core's probes and state transitions reach
// the Tracer (TraceReach, TraceState). A messenger without a Tracer gives its connections the
// bare connHost, which is neither: a probe or a transition then costs the core one nil check
// (a received message walks six states).
type reachHost struct{ *connHost }

// StateChanged traces a state transition of the connection (proto.StateObserver).
func (h reachHost) StateChanged(from, to proto.State) {
	h.m.trace(TraceEvent{Kind: TraceState, Conn: h.c(), From: from, To: to})
}

// Reached traces probe p of the connection (proto.Reacher).
func (h reachHost) Reached(p proto.Probe) {
	h.m.trace(TraceEvent{Kind: TraceReach, Conn: h.c(), Probe: p})
}

// protoHost is the proto.Host for connection c: a reachHost when the messenger is traced.
func (m *Messenger) protoHost(c *Connection) proto.Host {
	if m.cfg.Tracer != nil {
		return reachHost{(*connHost)(c)}
	}
	return (*connHost)(c)
}

// reachDecision traces the probe of accept decision d, taken on c for in.
func (m *Messenger) reachDecision(c *Connection, in *proto.DecideInput, d proto.Decision) {
	if p := proto.DecisionProbe(in, d); p != proto.ProbeNone {
		m.trace(TraceEvent{Kind: TraceReach, Conn: c, Probe: p})
	}
}
