package prototest

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Node is one named connection and the proto.Host it talks to.
type Node struct {
	w        *World
	Name     string
	M        *Msgr
	C        *proto.Conn
	Sock     *Socket // the socket it holds, nil if none
	Side     int     // its end of Sock: 0 the dialer, 1 the acceptor
	Target   *Msgr   // connector: the messenger it dials (nil: none of the world's)
	Dialing  bool    // asked for a socket that is not there yet
	Dials    int     // how many times it asked for a socket
	Started  bool
	Crashed  bool      // its process is gone: it never reads, writes or ticks again
	Handover *Handover // a lossless replace decided on this (new) connection, not carried out
	Tid      uint64    // the tid of the last message made by NewMessage

	Delivered []*wire.Message
	Events    []proto.EventKind

	fixed *proto.Existing // a registry entry with no connection behind it (RegisterExisting)
}

// Handover is a lossless replace decided on a new connection: the existing session is to
// take the socket over (msgr's carryOutHandover and adopt).
type Handover struct {
	Existing      *Node
	Sock          *Socket // the socket the decision was made on
	Connect       wire.Connect
	ResetFromPeer bool
	ResetExisting bool
}

func (w *World) addNode(name string, m *Msgr) *Node {
	n := &Node{w: w, Name: name, M: m}
	w.Nodes = append(w.Nodes, n)
	return n
}

// NewConnector creates a connection from m to target's messenger at peer (its address, or
// another nonce) and starts it; msgr registers an outgoing connection under the peer's
// address.
func (w *World) NewConnector(name string, m, target *Msgr, peer wire.EntityAddr) *Node {
	n := w.NewConnectorTo(name, m, peer, target.Cfg.MyName.Type)
	n.Target = target
	return n
}

// NewConnectorTo is NewConnector toward an address no messenger of the world has (a
// scripted or fuzzed peer of type peerType).
func (w *World) NewConnectorTo(name string, m *Msgr, peer wire.EntityAddr, peerType wire.EntityType) *Node {
	n := w.addNode(name, m)
	n.C = proto.NewConnector(m.Cfg, n, peer, peerType, m.PolicyFor(peerType), m.Throttles())
	if m.Registry == nil {
		m.Registry = n
	}
	n.Started = true
	n.C.Start()
	return n
}

// NewAcceptor creates a connection for a socket m will accept (started when connected).
func (w *World) NewAcceptor(name string, m *Msgr) *Node {
	return w.addNode(name, m)
}

// NewNode creates a node whose connection the caller makes (with the node, or a wrapper of
// it such as a Recycler, as its Host) and sets as its C.
func (w *World) NewNode(name string, m *Msgr) *Node {
	return w.addNode(name, m)
}

// RegisterExisting puts in m's registry a session that no connection of the world holds:
// accept decisions see ex; a replace stops it when it is lossy and marks it replacing when
// it is lossless (the new connection is then handed over to nothing: no Handover is kept).
// Fuzzers start an acceptor against any registered session this way.
func (m *Msgr) RegisterExisting(w *World, ex proto.Existing) {
	m.Registry = &Node{w: w, Name: "existing", M: m, fixed: &ex}
}

// NewMessage makes the node's next message: front "<name><tid>" (or size bytes of the tid),
// data bytes of tid+1.
func (n *Node) NewMessage(typ, prio uint16, size, data int) *wire.Message {
	n.Tid++
	front := []byte(fmt.Sprintf("%s%d", n.Name, n.Tid))
	if size >= 0 {
		front = bytes.Repeat([]byte{byte(n.Tid)}, size)
	}
	m := wire.NewMessage(typ, front)
	m.Header.Tid, m.Header.Priority = n.Tid, prio
	if data > 0 {
		m.Data = bytes.Repeat([]byte{byte(n.Tid) + 1}, data)
	}
	return m
}

// snapshot is what an accept decision sees of the registered session n.
func (n *Node) snapshot() proto.Existing {
	if n.fixed != nil {
		return *n.fixed
	}
	return n.C.Snapshot()
}

func (n *Node) state() proto.State {
	if n.fixed != nil {
		return n.fixed.State
	}
	return n.C.State()
}

func (n *Node) lossy() bool {
	if n.fixed != nil {
		return n.fixed.Lossy
	}
	return n.C.Policy().Lossy
}

// The proto.Host of every node.

func (n *Node) Now() time.Duration      { return n.w.Now }
func (n *Node) Wall() time.Time         { return time.Unix(1700000000, 0).Add(n.w.Now) }
func (n *Node) Rand() *detrand.Rand     { return n.M.Rand }
func (n *Node) MyAddr() wire.EntityAddr { return n.M.Addr }

func (n *Node) StartConnect() {
	if n.Sock != nil {
		if !n.w.Quiet {
			n.w.Logf("%s: close socket %d", n.Name, n.Sock.ID)
		}
		n.w.CloseEnd(n)
	}
	n.Dialing = true
	n.Dials++
	if n.Target == nil { // an accepted session reconnecting: it dials the address it learned
		for _, m := range n.w.Msgrs {
			if m.Addr == n.C.PeerAddr() {
				n.Target = m
			}
		}
	}
	if !n.w.Quiet {
		n.w.Logf("%s: dial %s", n.Name, AddrString(n.C.PeerAddr()))
	}
}

func (n *Node) CloseTransport() {
	switch {
	case n.Sock != nil:
		if !n.w.Quiet {
			n.w.Logf("%s: close socket %d", n.Name, n.Sock.ID)
		}
		n.w.CloseEnd(n)
	case n.Dialing:
		if !n.w.Quiet {
			n.w.Logf("%s: cancel dial", n.Name)
		}
		n.Dialing = false
	}
}

// ClientAuth is auth none's exchange (the authorizer below; a challenge is refused, the reply
// is not checked, nothing is signed).
func (n *Node) ClientAuth(peer wire.EntityType) proto.ClientAuth {
	p, b := n.Authorizer(peer)
	return &noneClient{protocol: p, blob: b}
}

type noneClient struct {
	protocol uint32
	blob     []byte
}

func (a *noneClient) Authorizer() (uint32, []byte) { return a.protocol, a.blob }

func (a *noneClient) Challenge([]byte) error {
	return fmt.Errorf("auth none: challenged (authorizer protocol %d)", a.protocol)
}

func (a *noneClient) Done([]byte) (proto.Session, error) { return nil, nil }

// Authorizer is what the node sends in its connect messages: the auth-none authorizer, or
// nothing when the messenger sends none (or none toward a monitor).
func (n *Node) Authorizer(peer wire.EntityType) (uint32, []byte) {
	me := n.M.Cfg.MyName.Type
	if !n.M.Authorize || (n.M.NoAuthorizerToMon && peer == wire.EntityMon && me != wire.EntityMon) {
		return wire.AuthUnknown, nil
	}
	a := wire.AuthNoneAuthorizer{Name: wire.AuthEntityName{Type: uint32(me), ID: n.Name}, GlobalID: 7}
	return wire.AuthNone, a.AppendEncoded(nil)
}

func (n *Node) LearnAddr(wire.EntityAddr) wire.EntityAddr { return n.M.Addr }

func (n *Node) GlobalSeq(atLeast uint32) uint32 {
	n.M.GSeq = max(n.M.GSeq, atLeast) + 1
	return n.M.GSeq
}

func (n *Node) PolicyFor(t wire.EntityType) (proto.Policy, proto.Throttles) {
	return n.M.PolicyFor(t), n.M.Throttles()
}

// AcceptConnect is msgr's acceptConnect: registry lookup, Decide, and the side effects on the
// existing session (lossy: stopped and replaced by an open; lossless: marked replacing, the
// handover carried out by CarryOut or Stabilize).
func (n *Node) AcceptConnect(req *proto.ConnectRequest) proto.Decision {
	m := n.M
	in := proto.DecideInput{
		Connect: req.Connect, Policy: req.Policy, AuthResult: m.authResult(req), PeerAddr: req.PeerAddr, MyAddr: m.Addr,
		ProtocolVersion: proto.ProtocolVersion(m.Cfg.MyName.Type, req.Connect.HostType, m.Cfg.ClusterProtocol, false),
		Replacing:       req.Replacing,
	}
	ex := m.Registry
	self := ex == n
	if self {
		in.Existing, ex = proto.Existing{Present: true, IsSelf: true}, nil
	} else if ex != nil {
		in.Existing = ex.snapshot()
	}
	d := proto.Decide(&in)
	m.Decisions = append(m.Decisions, d)
	n.Reached(proto.DecisionProbe(&in, d))
	if !n.w.Quiet {
		if n.w.Rules == nil {
			n.w.Rules = map[string]bool{}
		}
		n.w.Rules[d.Rule] = true
		n.logDecision(d, ex, &in.Existing, self)
	}
	switch d.Verdict {
	case proto.VerdictOpen:
		return n.acceptOpen(req, d)
	case proto.VerdictReplace:
		if ex.lossy() {
			n.w.Logf("%s: existing %s is lossy: stop it", n.Name, ex.Name)
			ex.stop()
			return n.acceptOpen(req, proto.Decision{Verdict: proto.VerdictOpen, ResetFromPeer: d.ResetFromPeer, Rule: d.Rule})
		}
		if ex.fixed != nil {
			ex.fixed.State, ex.fixed.Replacing = proto.StateNone, true // no connection to adopt the socket
			return d
		}
		ex.C.MarkReplacing()
		n.Handover = &Handover{Existing: ex, Sock: n.Sock, Connect: req.Connect, ResetFromPeer: d.ResetFromPeer,
			ResetExisting: d.ResetExisting}
	case proto.VerdictReply:
		if d.KeepaliveExisting && ex.fixed == nil {
			n.w.Post(func() {
				n.w.Logf("%s: keepalive (we won the race)", ex.Name)
				ex.C.SendKeepalive()
			})
		}
	}
	return d
}

func (n *Node) logDecision(d proto.Decision, ex *Node, existing *proto.Existing, self bool) {
	desc := d.Rule
	if self {
		desc += " (the registry holds this connection)"
	}
	if ex != nil {
		desc += fmt.Sprintf(" (existing %s: %v cs=%d pgs=%d)", ex.Name, existing.State, existing.ConnectSeq, existing.PeerGlobalSeq)
	}
	n.w.Logf("%s: decision %s", n.Name, desc)
}

// stop is msgr stopping a lossy registered session that a new connection replaces.
func (n *Node) stop() {
	if n.fixed != nil {
		n.fixed.State = proto.StateClosed
		return
	}
	n.C.Stop()
	n.Event(proto.EventReset)
}

func (n *Node) acceptOpen(req *proto.ConnectRequest, d proto.Decision) proto.Decision {
	p := req.Policy
	if p.Server && p.Lossy && !p.RegisterLossyClients {
		return d
	}
	if ex := n.M.Registry; ex != nil && ex != n && ex.state() != proto.StateClosed {
		n.w.Logf("%s: register: %s holds the address", n.Name, ex.Name)
		return proto.Decision{Verdict: proto.VerdictFault, Rule: "accept_conn: another connection holds the address"}
	}
	n.M.Registry = n
	return d
}

func (n *Node) Deliver(m *wire.Message, r *proto.Reservation) {
	if n.w.Watch != nil {
		n.w.Watch.Delivered(n, m)
	}
	h := &m.Header
	if !n.w.Quiet {
		n.w.Logf("%s: deliver seq=%d tid=%d type=%d len=%d+%d+%d", n.Name, h.Seq, h.Tid, h.Type, len(m.Front), len(m.Middle), len(m.Data))
	}
	n.Delivered = append(n.Delivered, m)
	n.M.Delivered = append(n.M.Delivered, m)
	if n.M.Hold {
		n.M.Held = append(n.M.Held, Held{Node: n, Seq: h.Seq, Res: *r})
		return
	}
	r.Release()
}

func (n *Node) DiscardIncoming() {
	if !n.w.Quiet {
		n.w.Logf("%s: discard incoming", n.Name)
	}
	n.M.Held = slices.DeleteFunc(n.M.Held, func(h Held) bool {
		if h.Node == n {
			h.Res.Release()
			return true
		}
		return false
	})
}

func (n *Node) Event(k proto.EventKind) {
	if n.w.Watch != nil {
		n.w.Watch.Event(n, k)
	}
	n.Events = append(n.Events, k)
	if !n.w.Quiet {
		n.w.Logf("%s: event %v", n.Name, k)
	}
}

func (n *Node) Faulted(s proto.State, err error) {
	if n.w.Watch != nil {
		n.w.Watch.Faulted(n, s, err)
	}
	n.w.Faults = append(n.w.Faults, Fault{Node: n, State: s, Err: err})
	if !n.w.Quiet {
		n.w.Logf("%s: fault in %v: %v", n.Name, s, err)
	}
}

// Reached counts a probe the connection (or its accept decision) reported in the world's
// Probes (proto.Reacher).
func (n *Node) Reached(p proto.Probe) { n.w.Probes[p]++ }

func (n *Node) StateChanged(from, to proto.State) {
	if n.w.Watch != nil {
		n.w.Watch.StateChanged(n, from, to)
	}
	n.w.States.Add(from)
	n.w.States.Add(to)
	if !n.w.Quiet {
		n.logState(from, to)
	}
}

// logState logs a transition, extending the open chain "x: state A -> B" when the same
// connection goes on from where it stopped and nothing was logged in between. A message read
// in one go (OPENED -> THROTTLE_* -> READ_* -> OPENED) is not shown.
func (n *Node) logState(from, to proto.State) {
	w := n.w
	if ch := &w.chain; ch.line == len(w.lines)-1 && ch.line >= 0 && ch.node == n && ch.to == from {
		if from == proto.StateOpened && to == proto.StateThrottleMessage {
			ch.receive = len(w.lines[ch.line])
		}
		w.lines[ch.line] += " -> " + to.String()
		ch.to = to
		switch {
		case !to.IsOpen():
			ch.receive = -1
		case to == proto.StateOpened && ch.receive >= 0:
			w.lines[ch.line] = w.lines[ch.line][:ch.receive]
			ch.receive = -1
			if strings.HasSuffix(w.lines[ch.line], ": state OPENED") {
				w.lines = w.lines[:ch.line]
				ch.line = -1
			}
		}
		return
	}
	w.Logf("%s: state %v", n.Name, from)
	w.chain = chain{line: len(w.lines) - 1, node: n, to: from, receive: -1}
	n.logState(from, to)
}

// defaultSockPeer is the TCP address an acceptor sees a scripted peer connect from.
var defaultSockPeer = wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.99:40000"), 0)
