package proto

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The environment of the interaction transcripts (and of the rapid state-machine test): named
// connections on scripted messengers, explicit sockets with an in-flight byte buffer per
// direction, and a virtual clock. Everything the cores do is recorded as text lines.

// env is one transcript's world.
type env struct {
	now       time.Duration
	msgrs     []*tmsgr
	nodes     []*node // in creation order (the order of every sweep)
	sockets   int     // sockets created so far (for ids)
	all       []*socket
	posted    []func()
	holdPosts bool // posted work waits for `posted run`
	lines     []string
	quiet     bool // record nothing (rapid)
	chain     struct {
		line    int // index in lines of the open state chain, -1 if none
		node    *node
		to      State
		receive int // length of the line where a message read began, -1 if none
	}
	// coverage
	states    map[State]bool
	replyTags map[wire.Tag]bool
	rules     map[string]bool
	problems  []string // invariant violations found by the environment itself (throttle underflow)
	faults    []faultRecord
}

type faultRecord struct {
	node  *node
	state State
	err   error
}

func newEnv() *env {
	e := &env{states: map[State]bool{}, replyTags: map[wire.Tag]bool{}, rules: map[string]bool{}}
	e.chain.line = -1
	return e
}

func (e *env) logf(format string, args ...any) {
	if e.quiet {
		return
	}
	e.lines = append(e.lines, fmt.Sprintf(format, args...))
	e.chain.line = -1
}

// output returns and forgets what was recorded.
func (e *env) output() string {
	s := strings.Join(e.lines, "\n")
	e.lines = e.lines[:0]
	e.chain.line = -1
	return s
}

func (e *env) node(name string) *node {
	for _, n := range e.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// post queues f to run after the current step (msgr posts work to another connection's
// center instead of calling into it from a callback).
func (e *env) post(f func()) { e.posted = append(e.posted, f) }

func (e *env) drain() bool {
	if e.holdPosts {
		return false
	}
	ran := false
	for len(e.posted) > 0 {
		f := e.posted[0]
		e.posted = e.posted[1:]
		f()
		ran = true
	}
	return ran
}

// tmsgr is a messenger as the transcripts see it: an identity, one policy, throttles, a
// global_seq counter, an auth verdict and a one-slot registry (transcripts talk to one peer).
type tmsgr struct {
	idx       int
	addr      wire.EntityAddr
	cfg       Config
	policy    Policy
	th        [3]*tthrottle // messages, bytes, dispatch
	gseq      uint32
	auth      int   // AuthResult for the accept decision: 1 accept, -1 reject, 0 challenge
	registry  *node // the session registered for the peer's address
	rand      *detrand.Rand
	hold      bool // deliveries keep their throttle units until `release`
	held      []held
	authorize bool            // connectors send an auth-none authorizer
	delivered []*wire.Message // by any of its connections, in order
}

type held struct {
	n   *node
	seq uint64
	res Reservation
}

func (m *tmsgr) throttles() Throttles {
	return Throttles{Messages: m.th[0], Bytes: m.th[1], Dispatch: m.th[2]}
}

// tthrottle is Ceph's non-blocking throttle (see msgr.Throttle), counting in the open.
type tthrottle struct {
	e        *env
	name     string
	max, cur int64
}

func (t *tthrottle) TryGet(n int64) bool {
	if t.max != 0 && ((n <= t.max && t.cur+n > t.max) || (n >= t.max && t.cur > t.max)) {
		return false
	}
	t.cur += n
	return true
}

func (t *tthrottle) Put(n int64) {
	t.cur -= n
	if t.cur < 0 {
		t.e.problems = append(t.e.problems, fmt.Sprintf("throttle %s released below zero (%d)", t.name, t.cur))
		t.e.logf("!! throttle %s released below zero (%d)", t.name, t.cur)
	}
}

func (t *tthrottle) String() string {
	if t.max == 0 {
		return fmt.Sprintf("%s=%d", t.name, t.cur)
	}
	return fmt.Sprintf("%s=%d/%d", t.name, t.cur, t.max)
}

// node is one named connection and the Host it talks to.
type node struct {
	e         *env
	name      string
	m         *tmsgr
	c         *Conn
	sock      *socket // the socket it holds, nil if none
	side      int     // its end of sock: 0 the dialer, 1 the acceptor
	target    *tmsgr  // connector: the messenger it dials
	dialing   bool    // asked for a socket that is not there yet
	started   bool
	crashed   bool      // its process is gone: it never reads, writes or ticks again
	handover  *handover // a lossless replace decided on this (new) connection, not carried out
	tid       uint64
	delivered []*wire.Message
	events    []EventKind
}

type handover struct {
	existing      *node
	sock          *socket // the socket the decision was made on
	connect       wire.Connect
	resetFromPeer bool
	resetExisting bool
}

// socket is one TCP connection. ends[i] is nil for a scripted peer (raw injection only).
type socket struct {
	id     int
	ends   [2]*node
	open   [2]bool   // the end has not been closed by its owner
	eof    [2]bool   // end i was told about the peer closing
	flight [2][]byte // flight[i]: written by end i, not yet read by end 1-i
	wrote  [2][]byte // wrote[i]: everything end i wrote or had injected (fuzz seeds)
	conv   conv
	dec    [2]*streamDec
}

func (s *socket) endName(i int) string {
	if s.ends[i] == nil {
		return "peer"
	}
	return s.ends[i].name
}

func (s *socket) String() string {
	return fmt.Sprintf("socket %d (%s↔%s)", s.id, s.endName(0), s.endName(1))
}

// newMsgr creates a messenger with the given identity and policy.
func (e *env) newMsgr(name wire.EntityName, addr wire.EntityAddr, cluster uint32, p Policy) *tmsgr {
	m := &tmsgr{idx: len(e.msgrs) + 1, addr: addr, policy: p, auth: 1, authorize: true}
	m.cfg = Config{MyName: name, ClusterProtocol: cluster, CRCHeader: true, CRCData: true}
	m.rand = detrand.NewSeeded(uint64(m.idx))
	for i, th := range []string{"messages", "bytes", "dispatch"} {
		m.th[i] = &tthrottle{e: e, name: th}
	}
	e.msgrs = append(e.msgrs, m)
	return m
}

// defaultAddr is messenger i's address: 10.0.0.i:6800 with nonce i.
func defaultAddr(i int) wire.EntityAddr {
	return wire.LegacyAddr(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 6800), uint32(i))
}

func (e *env) addNode(name string, m *tmsgr) *node {
	n := &node{e: e, name: name, m: m}
	e.nodes = append(e.nodes, n)
	return n
}

// newConnector creates a connection from m to target's address (nonce overridable) and
// starts it; msgr registers an outgoing connection under the peer's address.
func (e *env) newConnector(name string, m, target *tmsgr, peer wire.EntityAddr) *node {
	n := e.addNode(name, m)
	n.target = target
	n.c = NewConnector(m.cfg, n, peer, target.cfg.MyName.Type, m.policy, m.throttles())
	if m.registry == nil {
		m.registry = n
	}
	n.started = true
	n.c.Start()
	return n
}

// newAcceptor creates a connection for a socket m will accept (started when connected).
func (e *env) newAcceptor(name string, m *tmsgr) *node {
	return e.addNode(name, m)
}

// connect gives dialer d a socket to acceptor a (nil: a scripted peer) and starts both.
func (e *env) connect(d, a *node) *socket {
	s := e.newSocket(d, a)
	d.dialing = false
	if a != nil {
		sockPeer := wire.LegacyAddr(netip.AddrPortFrom(d.m.addr.Addr.Addr(), uint16(40000+s.id)), 0)
		a.c = NewAcceptor(a.m.cfg, a, sockPeer)
		a.started = true
		a.c.Start()
	}
	d.c.Connected()
	e.drain()
	return s
}

// accept gives acceptor a a socket from a scripted peer and starts it.
func (e *env) accept(a *node) *socket {
	s := e.newSocket(nil, a)
	sockPeer := wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.99:40000"), 0)
	a.c = NewAcceptor(a.m.cfg, a, sockPeer)
	a.started = true
	a.c.Start()
	e.drain()
	return s
}

func (e *env) newSocket(d, a *node) *socket {
	e.sockets++
	s := &socket{id: e.sockets, ends: [2]*node{d, a}, open: [2]bool{true, true}}
	e.all = append(e.all, s)
	s.dec[0] = newStreamDec(true, &s.conv)
	s.dec[1] = newStreamDec(false, &s.conv)
	for i, n := range s.ends {
		if n != nil {
			n.sock, n.side = s, i
		}
	}
	e.logf("%v connected", s)
	return s
}

// write moves up to limit bytes (all if limit <= 0) of n's output into flight, in writes of
// at most chunk bytes (unbounded if chunk <= 0), and renders the frames. It returns the
// number of bytes written.
func (e *env) write(n *node, chunk, limit int) int {
	if n.c == nil || n.sock == nil || n.crashed {
		return 0
	}
	s, total := n.sock, 0
	for limit <= 0 || total < limit {
		iov := n.c.Output()
		if len(iov) == 0 {
			break
		}
		want := chunk
		if want <= 0 {
			want = 1 << 30
		}
		if limit > 0 {
			want = min(want, limit-total)
		}
		var p []byte
		for _, v := range iov {
			p = append(p, v[:min(len(v), want-len(p))]...)
			if len(p) == want {
				break
			}
		}
		n.c.Wrote(len(p))
		total += len(p)
		if s.open[1-n.side] {
			s.flight[n.side] = append(s.flight[n.side], p...)
		}
		e.render(s, n.side, p, false)
	}
	if total > 0 && !s.open[1-n.side] {
		e.logf("%s→%s: %d bytes lost (%s closed its end)", n.name, s.endName(1-n.side), total, s.endName(1-n.side))
	}
	e.drain()
	return total
}

// inject puts raw bytes in flight toward n, as if its peer had written them.
func (e *env) inject(n *node, p []byte) {
	s := n.sock
	s.flight[1-n.side] = append(s.flight[1-n.side], p...)
	e.render(s, 1-n.side, p, true)
}

// read feeds up to limit bytes (all if limit <= 0) in flight toward n, in reads of at most
// chunk bytes, then reports EOF when the peer closed its end and nothing is left. It returns
// the bytes consumed and whether EOF was reported.
func (e *env) read(n *node, chunk, limit int) (int, bool) {
	s := n.sock
	if n.c == nil || s == nil || n.crashed {
		return 0, false
	}
	src, total := &s.flight[1-n.side], 0
	for len(*src) > 0 && (limit <= 0 || total < limit) {
		k := len(*src)
		if chunk > 0 {
			k = min(k, chunk)
		}
		if limit > 0 {
			k = min(k, limit-total)
		}
		took := n.c.Feed((*src)[:k])
		total += took
		if n.sock != s {
			break // closed (what was in flight toward n went with it) or handed over
		}
		*src = (*src)[took:]
		if took < k {
			break
		}
	}
	eof := len(*src) == 0 && !s.open[1-n.side] && !s.eof[n.side] && n.sock == s && (limit <= 0 || total < limit)
	if eof {
		s.eof[n.side] = true
		e.logf("%s: read EOF on socket %d", n.name, s.id)
		n.c.TransportError(io.EOF)
	}
	e.drain()
	return total, eof
}

// closeEnd closes n's end of its socket (without telling the core).
func (e *env) closeEnd(n *node) {
	if s := n.sock; s != nil {
		s.open[n.side] = false
		s.flight[1-n.side] = nil // unread input is gone with the socket
		n.sock = nil
	}
}

// cut fails socket s under both ends: bytes in flight are lost and each end still holding it
// gets a transport error.
func (e *env) cut(s *socket) {
	lost := len(s.flight[0]) + len(s.flight[1])
	e.logf("cut %v: %d bytes in flight lost", s, lost)
	s.flight = [2][]byte{}
	for i, n := range s.ends {
		s.open[i] = false
		if n != nil && n.sock == s {
			n.sock = nil
			n.c.TransportError(errCut)
			e.drain()
		}
	}
}

// carryOut performs the lossless replace decided on n (msgr's carryOutHandover and adopt):
// the existing session takes n's socket and unconsumed input.
//
// If the socket failed after the decision (cut, transport error), msgr still hands it over
// and the existing session learns of the failure from it: here it gets a transport error
// right after adopting it.
func (e *env) carryOut(n *node) {
	h := n.handover
	n.handover = nil
	ex, s := h.existing, h.sock
	dead := n.sock != s
	leftover := n.c.TakeInput()
	e.logf("%s: hand socket %d over to %s (%d bytes of input)", n.name, s.id, ex.name, len(leftover))
	n.sock = nil
	if ex.c.State() == StateClosed {
		e.logf("%s: closed meanwhile: socket %d closed", ex.name, s.id)
		s.open[n.side] = false
		return
	}
	if h.resetExisting {
		ex.c.SessionReset()
	}
	if ex.sock != nil {
		e.logf("%s: old socket %d closed", ex.name, ex.sock.id)
		e.closeEnd(ex)
	}
	ex.dialing = false
	if !dead {
		s.ends[n.side] = ex
		ex.sock, ex.side = s, n.side
	}
	ex.c.Adopt(h.connect, h.resetFromPeer, leftover)
	e.drain()
	if dead {
		e.logf("%s: socket %d had failed", ex.name, s.id)
		ex.c.TransportError(errCut)
		e.drain()
	}
}

// carryOutAll performs every pending replace, in node order.
func (e *env) carryOutAll() bool {
	did := false
	for _, n := range e.nodes {
		if n.handover != nil {
			e.carryOut(n)
			did = true
		}
	}
	return did
}

// stabilize moves bytes both ways until nothing moves: every node writes, then every node
// reads (with EOFs), then pending replaces are carried out.
func (e *env) stabilize() error {
	for range 10000 {
		moved := false
		for _, n := range e.nodes {
			moved = e.write(n, 0, 0) > 0 || moved
		}
		for _, n := range e.nodes {
			k, eof := e.read(n, 0, 0)
			moved = k > 0 || eof || moved
		}
		moved = e.carryOutAll() || moved
		moved = e.drain() || moved
		if !moved {
			return nil
		}
	}
	return errors.New("stabilize: still moving after 10000 rounds")
}

// nextDue returns the node with the earliest deadline at or before limit.
func (e *env) nextDue(limit time.Duration) (*node, time.Duration) {
	var best *node
	var at time.Duration
	for _, n := range e.nodes {
		if n.c == nil || n.crashed {
			continue
		}
		if d, ok := n.c.NextDeadline(); ok && d <= limit && (best == nil || d < at) {
			best, at = n, d
		}
	}
	return best, at
}

// advance moves the clock by d, running every timer that falls due on the way, in order.
func (e *env) advance(d time.Duration) error {
	target := e.now + d
	for range 100000 {
		n, at := e.nextDue(target)
		if n == nil {
			e.now = target
			return nil
		}
		e.now = max(e.now, at)
		e.logf("@%v %s: timer", e.now, n.name)
		n.c.Tick()
		e.drain()
	}
	return errors.New("advance: timers keep firing")
}

// The Host of every node.

func (n *node) Now() time.Duration      { return n.e.now }
func (n *node) Wall() time.Time         { return time.Unix(1700000000, 0).Add(n.e.now) }
func (n *node) Rand() *detrand.Rand     { return n.m.rand }
func (n *node) MyAddr() wire.EntityAddr { return n.m.addr }

func (n *node) StartConnect() {
	if n.sock != nil {
		n.e.logf("%s: close socket %d", n.name, n.sock.id)
		n.e.closeEnd(n)
	}
	n.dialing = true
	if n.target == nil { // an accepted session reconnecting: it dials the address it learned
		for _, m := range n.e.msgrs {
			if m.addr == n.c.PeerAddr() {
				n.target = m
			}
		}
	}
	n.e.logf("%s: dial %s", n.name, addrString(n.c.PeerAddr()))
}

func (n *node) CloseTransport() {
	switch {
	case n.sock != nil:
		n.e.logf("%s: close socket %d", n.name, n.sock.id)
		n.e.closeEnd(n)
	case n.dialing:
		n.e.logf("%s: cancel dial", n.name)
		n.dialing = false
	}
}

func (n *node) Authorizer(wire.EntityType) (uint32, []byte) {
	if !n.m.authorize {
		return wire.AuthUnknown, nil
	}
	a := wire.AuthNoneAuthorizer{Name: wire.AuthEntityName{Type: uint32(n.m.cfg.MyName.Type), ID: n.name}, GlobalID: 7}
	return wire.AuthNone, a.AppendEncoded(nil)
}

func (n *node) LearnAddr(wire.EntityAddr) wire.EntityAddr { return n.m.addr }

func (n *node) GlobalSeq(atLeast uint32) uint32 {
	n.m.gseq = max(n.m.gseq, atLeast) + 1
	return n.m.gseq
}

func (n *node) PolicyFor(wire.EntityType) (Policy, Throttles) { return n.m.policy, n.m.throttles() }

// AcceptConnect is msgr's acceptConnect: registry lookup, Decide, and the side effects on the
// existing session (lossy: stopped and replaced by an open; lossless: marked replacing, the
// handover carried out by `replace` or `stabilize`).
func (n *node) AcceptConnect(req *ConnectRequest) Decision {
	m := n.m
	in := DecideInput{
		Connect: req.Connect, Policy: req.Policy, AuthResult: m.auth, PeerAddr: req.PeerAddr, MyAddr: m.addr,
		ProtocolVersion: ProtocolVersion(m.cfg.MyName.Type, req.Connect.HostType, m.cfg.ClusterProtocol, false),
		Replacing:       req.Replacing,
	}
	ex := m.registry
	desc := ""
	if ex == n {
		in.Existing = Existing{Present: true, IsSelf: true}
		ex, desc = nil, " (the registry holds this connection)"
	} else if ex != nil {
		in.Existing = ex.c.Snapshot()
	}
	d := Decide(&in)
	n.e.rules[d.Rule] = true
	desc = d.Rule + desc
	if ex != nil {
		desc += fmt.Sprintf(" (existing %s: %v cs=%d pgs=%d)", ex.name, in.Existing.State, in.Existing.ConnectSeq, in.Existing.PeerGlobalSeq)
	}
	n.e.logf("%s: decision %s", n.name, desc)
	switch d.Verdict {
	case VerdictOpen:
		return n.acceptOpen(req, d)
	case VerdictReplace:
		if ex.c.Policy().Lossy {
			n.e.logf("%s: existing %s is lossy: stop it", n.name, ex.name)
			ex.c.Stop()
			ex.Event(EventReset)
			return n.acceptOpen(req, Decision{Verdict: VerdictOpen, ResetFromPeer: d.ResetFromPeer, Rule: d.Rule})
		}
		ex.c.MarkReplacing()
		n.handover = &handover{existing: ex, sock: n.sock, connect: req.Connect, resetFromPeer: d.ResetFromPeer,
			resetExisting: d.ResetExisting}
	case VerdictReply:
		if d.KeepaliveExisting {
			n.e.post(func() {
				n.e.logf("%s: keepalive (we won the race)", ex.name)
				ex.c.SendKeepalive()
			})
		}
	}
	return d
}

func (n *node) acceptOpen(req *ConnectRequest, d Decision) Decision {
	p := req.Policy
	if p.Server && p.Lossy && !p.RegisterLossyClients {
		return d
	}
	if ex := n.m.registry; ex != nil && ex != n && ex.c.State() != StateClosed {
		n.e.logf("%s: register: %s holds the address", n.name, ex.name)
		return Decision{Verdict: VerdictFault, Rule: "accept_conn: another connection holds the address"}
	}
	n.m.registry = n
	return d
}

func (n *node) Deliver(m *wire.Message, r Reservation) {
	h := &m.Header
	n.e.logf("%s: deliver seq=%d tid=%d type=%d len=%d+%d+%d", n.name, h.Seq, h.Tid, h.Type, len(m.Front), len(m.Middle), len(m.Data))
	n.delivered = append(n.delivered, m)
	n.m.delivered = append(n.m.delivered, m)
	if n.m.hold {
		n.m.held = append(n.m.held, held{n: n, seq: h.Seq, res: r})
		return
	}
	r.Release()
}

func (n *node) DiscardIncoming() {
	n.e.logf("%s: discard incoming", n.name)
	n.m.held = slices.DeleteFunc(n.m.held, func(h held) bool {
		if h.n == n {
			h.res.Release()
			return true
		}
		return false
	})
}

func (n *node) Event(k EventKind) {
	n.events = append(n.events, k)
	n.e.logf("%s: event %v", n.name, k)
}

func (n *node) Faulted(s State, err error) {
	n.e.faults = append(n.e.faults, faultRecord{node: n, state: s, err: err})
	n.e.logf("%s: fault in %v: %v", n.name, s, err)
}

func (n *node) StateChanged(from, to State) {
	e := n.e
	e.states[from], e.states[to] = true, true
	if e.quiet {
		return
	}
	if ch := &e.chain; ch.line == len(e.lines)-1 && ch.line >= 0 && ch.node == n && ch.to == from {
		if from == StateOpened && to == StateThrottleMessage {
			ch.receive = len(e.lines[ch.line])
		}
		e.lines[ch.line] += " -> " + to.String()
		ch.to = to
		switch {
		case !to.open():
			ch.receive = -1
		case to == StateOpened && ch.receive >= 0:
			// A message read in one go: OPENED -> THROTTLE_* -> READ_* -> OPENED is not shown.
			e.lines[ch.line] = e.lines[ch.line][:ch.receive]
			ch.receive = -1
			if strings.HasSuffix(e.lines[ch.line], ": state OPENED") {
				e.lines = e.lines[:ch.line]
				ch.line = -1
			}
		}
		return
	}
	e.logf("%s: state %v", n.name, from)
	e.chain.line, e.chain.node, e.chain.to, e.chain.receive = len(e.lines)-1, n, from, -1
	n.StateChanged(from, to)
}

func addrString(a wire.EntityAddr) string {
	if !a.Addr.IsValid() {
		return fmt.Sprintf("-/%d", a.Nonce)
	}
	return fmt.Sprintf("%v/%d", a.Addr, a.Nonce)
}
