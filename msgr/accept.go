package msgr

import (
	"errors"
	"time"

	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// processor is the listener (Ceph's Processor): it accepts sockets on one center and hands
// each to a new acceptor connection on the least-loaded worker.
//
// Ceph's processor, and this one in simulation, watches the listening socket on the first
// worker center. On real sockets it is watched by the messenger's dispatch center instead
// (listenerCenter): the first connection lands on the first worker (Pool.Pick), and a worker
// that watches a single socket skips the epoll_wait after each wakeup that was not a Wake
// (epoll.Poller.RunLoop), which a worker that also watches the listener cannot, since either
// descriptor may have woken it. Accepting is rare; the dispatch center's wakeups are Wakes
// (it watches no socket otherwise), which poll anyway.
type processor struct {
	m        *Messenger
	l        netio.Listener
	center   *event.Center
	failures int  // consecutive accept failures
	paused   bool // the listener is unwatched until a backoff timer fires
	stopped  bool
}

// maxAcceptsPerEvent bounds the accepts handled per readiness report.
const maxAcceptsPerEvent = 64

// After an accept failure (EMFILE, ENFILE, ENOBUFS, …) the pending connection stays in the
// backlog and the listener stays readable: rather than spin on it (or abort, as Ceph does
// after ms_max_accept_failures), the processor stops watching it for a backoff that doubles
// from acceptBackoffMin up to acceptBackoffMax while failures continue.
const (
	acceptBackoffMin = 10 * time.Millisecond
	acceptBackoffMax = time.Second
)

func newProcessor(m *Messenger, l netio.Listener) *processor {
	return &processor{m: m, l: l, center: m.listenerCenter()}
}

// listenerCenter is the center that watches the listening socket: the first worker, as in
// Ceph, in simulation (where moving it would change the simulated schedule), and the
// dispatch center on real sockets (a stack that checksums in write chunks, as Connection.flush's
// early writes tell them apart), where it keeps the first worker's wakeups to one socket.
func (m *Messenger) listenerCenter() *event.Center {
	if writeChunk(m.cfg.Stack) > 0 {
		return m.dq.center
	}
	return m.pool.Centers()[0]
}

func (p *processor) start() { p.center.Post(p.watch) }

func (p *processor) watch() {
	if err := p.center.CreateFileEvent(p.l.FD(), netio.Read, p.onAccept); err != nil {
		p.m.log.Error("watch listener", "err", err)
	}
}

func (p *processor) stop() {
	p.center.Post(func() {
		p.stopped = true
		_ = p.center.DeleteFileEvent(p.l.FD(), netio.Read)
		_ = p.l.Close()
	})
}

func (p *processor) onAccept(int, netio.Events) {
	for i := 0; i < maxAcceptsPerEvent && !p.paused; i++ {
		s, err := p.l.Accept()
		if errors.Is(err, netio.ErrWouldBlock) {
			return
		}
		if err != nil {
			p.acceptFailed(err)
			return
		}
		p.failures = 0
		p.m.newAcceptor(s)
	}
}

// acceptFailed counts and logs a failed accept and pauses accepting for a backoff.
func (p *processor) acceptFailed(err error) {
	p.failures++
	p.m.counters.acceptFailures.Add(1)
	backoff := min(acceptBackoffMin<<min(p.failures-1, 16), acceptBackoffMax)
	p.m.log.Warn("accept failed", "err", err, "consecutive", p.failures, "backoff", backoff)
	p.paused = true
	_ = p.center.DeleteFileEvent(p.l.FD(), netio.Read)
	p.center.CreateTimeEvent(backoff, func() {
		p.paused = false
		if !p.stopped {
			p.watch()
		}
	})
}

// refuse closes an accepted socket because MaxConnections is reached. Under a flood only the
// first refusal and then every power of two is logged; all are counted.
func (m *Messenger) refuse(s netio.Socket, limit int) {
	n := m.counters.refused.Add(1)
	peer := s.RemoteAddr()
	_ = s.Close()
	if n&(n-1) == 0 {
		m.log.Warn("connection refused", "peer", peer.String(), "err", ErrTooManyConnections,
			"limit", limit, "refused_total", n)
	}
}

// newConnectorLocked creates a connection that will connect to addr; m.mu is held.
func (m *Messenger) newConnectorLocked(peerType wire.EntityType, addr wire.EntityAddr) *Connection {
	c := m.newConnectionLocked()
	c.regAddr = addr
	c.peerType.Store(uint32(peerType))
	c.peerAddr.Store(&addr)
	p := m.policyLocked(peerType)
	th := m.throttles[peerType]
	if m.dthrot != nil {
		th.Dispatch = m.dthrot
	}
	c.pc.InitConnector(m.pcfg, m.protoHost(c), addr, peerType, p, th)
	c.p = &c.pc
	c.publish()
	m.all = append(m.all, c) // ids grow: all stays in id order
	m.gen.Add(1)
	return c
}

// newConnectionLocked creates a connection on the least-loaded worker; m.mu is held.
func (m *Messenger) newConnectionLocked() *Connection {
	c := newConnection(m, m.newIDLocked(), m.pool.Pick())
	if c.flushFn == nil { // a recycled connection keeps its own
		c.flushFn = c.flush
	}
	c.bufs = &m.bufCaches[c.center.ID()]
	c.rxMark = homeMark(c.center.ID())
	return c
}

// start begins a connector's first connect; posted to its center.
func (c *Connection) start() { c.run(c.p.Start) }

// newAcceptor creates a connection for an accepted socket and starts its handshake; over
// MaxConnections the socket is closed at once instead.
func (m *Messenger) newAcceptor(s netio.Socket) {
	m.counters.accepted.Add(1)
	m.mu.Lock()
	if m.state == stateShutdown {
		m.mu.Unlock()
		_ = s.Close()
		return
	}
	if limit := m.cfg.MaxConnections; limit > 0 && len(m.all) >= limit {
		m.mu.Unlock()
		m.refuse(s, limit)
		return
	}
	c := m.newConnectionLocked()
	// The protocol core is in place before the connection is published in m.all (under
	// m.mu): introspection from other goroutines (Connections, then State) must not see the
	// field being written.
	c.pc.InitAcceptor(m.pcfg, m.protoHost(c), wire.LegacyAddr(s.RemoteAddr(), 0))
	c.p = &c.pc
	c.publish()
	m.all = append(m.all, c) // ids grow: all stays in id order
	m.gen.Add(1)
	m.mu.Unlock()
	c.center.Post(func() {
		c.run(func() {
			c.sock = s
			c.p.Start()
		})
	})
}

// handover is a lossless replace decided on the new connection's center: the existing session
// adopts the new socket on its own center.
type handover struct {
	existing      *Connection
	connect       wire.Connect
	resetFromPeer bool
	resetExisting bool
}

// acceptConnect decides what to answer to a connect message (Ceph's handle_connect_message_2
// around the pure proto.Decide) and carries out the side effects on the existing session.
func (m *Messenger) acceptConnect(c *Connection, req *proto.ConnectRequest) proto.Decision {
	if r, ok := m.cfg.Auth.(AuthFeatureRequirer); ok {
		req.Policy.FeaturesRequired |= r.RequiredFeatures(req.Connect.HostType, req.Connect.AuthorizerProtocol)
	}
	// As in Ceph, the authorizer is verified only once the protocol version and the features
	// passed: Decide answers BADPROTOVER or FEATURES first, whatever the verdict.
	v := AuthVerdict{Result: 1}
	cm := &req.Connect
	if cm.ProtocolVersion == m.acceptProtocolVersion(cm.HostType) && req.Policy.FeaturesRequired&^cm.Features == 0 {
		v = c.authorize(req)
	}
	d := m.decideConnect(c, req, &v)
	return d.WithAuth(&v)
}

// acceptProtocolVersion is the protocol version we expect of a connecting peer type.
func (m *Messenger) acceptProtocolVersion(peer wire.EntityType) uint32 {
	return proto.ProtocolVersion(m.cfg.Name.Type, peer, m.cfg.ClusterProtocol, false)
}

// decideConnect is acceptConnect's decision, before the authorizer's reply and signer are added.
func (m *Messenger) decideConnect(c *Connection, req *proto.ConnectRequest, v *AuthVerdict) proto.Decision {
	in := proto.DecideInput{
		Connect:         req.Connect,
		Policy:          req.Policy,
		ProtocolVersion: m.acceptProtocolVersion(req.Connect.HostType),
		AuthResult:      v.Result,
		PeerAddr:        req.PeerAddr,
		MyAddr:          m.MyAddr(),
		Replacing:       req.Replacing,
	}
	ex := m.lookup(req.PeerAddr)
	m.injectDelay(netio.DelayAcceptLookup)
	if ex == c {
		in.Existing = proto.Existing{Present: true, IsSelf: true}
		ex = nil
	}
	if ex != nil {
		ex.mu.lockExisting()
		defer ex.unlock()
		in.Existing = ex.p.Snapshot()
	}
	d := proto.Decide(&in)
	m.trace(TraceEvent{Kind: TraceDecision, Conn: c, Rule: d.Rule})
	if m.cfg.Tracer != nil {
		m.reachDecision(c, &in, d)
	}
	switch d.Verdict {
	case proto.VerdictOpen:
		return m.acceptOpen(c, req, d)
	case proto.VerdictReplace:
		return m.acceptReplace(c, ex, req, d)
	case proto.VerdictReply:
		if d.KeepaliveExisting {
			ex.center.Post(func() { ex.run(ex.p.SendKeepalive) })
		}
	}
	return d
}

// authorize verifies the connector's authorizer with the socket's ServerAuth, started on the
// first connect message the socket carries.
func (c *Connection) authorize(req *proto.ConnectRequest) AuthVerdict {
	if c.serverAuth == nil {
		c.serverAuth = c.m.cfg.Auth.Server(randReader{c})
	}
	cm := &req.Connect
	v := c.serverAuth.Verify(cm.HostType, cm.AuthorizerProtocol, req.Authorizer, cm.Features)
	if v.Result < 0 {
		c.m.countAuthRejected(c, cm, v.Reason)
	}
	return v
}

// countAuthRejected logs an authorizer refused (BADAUTHORIZER: the socket stays open for
// another connect message, as in Ceph, so this is not a connection fault) and counts it.
func (m *Messenger) countAuthRejected(c *Connection, cm *wire.Connect, reason error) {
	m.log.Warn("authorizer rejected", "conn", c.id, "peer", c.PeerAddr().String(), "peer_type", cm.HostType.String(),
		"protocol", cm.AuthorizerProtocol, "reason", "auth_rejected", "err", reason)
	m.counters.authRejected.Add(1)
}

// acceptOpen registers c for the peer's address (unless it is a stateless server's client).
func (m *Messenger) acceptOpen(c *Connection, req *proto.ConnectRequest, d proto.Decision) proto.Decision {
	p := req.Policy
	if p.Server && p.Lossy && !p.RegisterLossyClients {
		return d
	}
	if !m.register(c, req.PeerAddr) {
		m.injectDelay(netio.DelayOpen)
		return proto.Decision{Verdict: proto.VerdictFault, Rule: "accept_conn: another connection holds the address"}
	}
	m.injectDelay(netio.DelayOpen)
	return d
}

// acceptReplace replaces the existing session ex (locked by the caller). A lossy one is
// stopped and c opens a new session; a lossless one adopts c's socket (carried out once the
// core returns, see carryOutHandover).
func (m *Messenger) acceptReplace(c, ex *Connection, req *proto.ConnectRequest, d proto.Decision) proto.Decision {
	if ex.p.Policy().Lossy {
		m.stopReplaced(ex)
		open := proto.Decision{Verdict: proto.VerdictOpen, ResetFromPeer: d.ResetFromPeer, Rule: d.Rule}
		return m.acceptOpen(c, req, open)
	}
	ex.p.MarkReplacing()
	c.handover = &handover{existing: ex, connect: req.Connect, resetFromPeer: d.ResetFromPeer, resetExisting: d.ResetExisting}
	return d
}

// stopReplaced stops a lossy session being replaced (ex is locked): its queued input is
// discarded, dispatchers hear of a reset, and its socket is closed on its own center.
func (m *Messenger) stopReplaced(ex *Connection) {
	ex.p.Stop()
	ex.markClosed()
	m.forget(ex)
	m.dq.discard(ex)
	m.dq.queueEvent(ex, proto.EventReset)
	ex.center.Post(func() { ex.run(func() {}) })
}

// carryOutHandover gives c's socket and unconsumed input to the existing session, which adopts
// them on its own center.
func (c *Connection) carryOutHandover() {
	h := c.handover
	c.handover = nil
	s := c.sock
	leftover := c.p.TakeInput()
	if s != nil {
		_ = c.center.DeleteFileEvent(s.FD(), netio.Read|netio.Write)
	}
	c.sock, c.mask = nil, 0
	ex := h.existing
	ex.center.Post(func() { ex.adopt(s, h, leftover) })
}

// adopt makes this (existing) session continue on socket s (Ceph's replace, lossless branch).
func (c *Connection) adopt(s netio.Socket, h *handover, leftover []byte) {
	c.m.injectDelay(netio.DelayReplace)
	c.run(func() {
		if c.p.State() == proto.StateClosed || s == nil {
			if s != nil {
				_ = s.Close()
			}
			return
		}
		c.serverAuth = nil // a new socket: its authorizers are verified anew
		if h.resetExisting {
			c.p.SessionReset()
		}
		c.closeSocket()
		c.sock = s
		c.p.Adopt(h.connect, h.resetFromPeer, leftover)
	})
}
