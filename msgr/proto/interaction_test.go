package proto

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/ddtest"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// TestInteraction runs the golden transcripts in testdata/*.txt (etcd raft's interaction tests,
// for msgr1): each file is one behaviour, driven step by step with the commands below, and the
// expected output is everything the connections wrote (decoded as frames) and every Host
// callback (deliveries, events, faults, decisions, state changes). Regenerate with
//
//	go test ./msgr/proto -run TestInteraction -rewrite
//
// and review the diff. Commands, with an example line each:
//
//	new name=b role=acceptor policy=stateful_server
//	    A messenger (osd.N at 10.0.0.N:6800, nonce N, N = creation order) and an acceptor
//	    connection on it, started when a socket reaches it. Messenger options: type=osd,
//	    features=0x… (supported), required=0x…, my_nonce=N, addr=IP:PORT, cluster=10,
//	    auth=accept|reject|challenge, authorizer=false (send none), crc_data=false,
//	    crc_header=false, gseq=N (global_seq counter). Policies: lossless_peer, lossy_client,
//	    stateless_server, stateful_server, lossless_client, lossless_peer_reuse, default,
//	    stateless_registered_server.
//	new name=a role=connector policy=lossless_client peer=b peer_nonce=9
//	    A messenger and a connection dialling peer's messenger (default: the only other one;
//	    peer_nonce changes the nonce dialled). It starts at once and asks for a socket.
//	new name=b2 role=acceptor msgr=b
//	    Another connection on b's messenger (msgr= takes no messenger options).
//	connected a to=b2
//	    a's dial succeeds: a socket between a and acceptor b2 (created on the dialled messenger
//	    if it does not exist yet; default: a's first peer; to=- is a scripted peer).
//	accept b
//	    b accepts a socket from a scripted peer (only raw bytes come from it).
//	connect-failed a refused=true
//	send a n=3 prio=196 size=100 data=5000 type=2
//	    Queue n messages (tid 1, 2, … per connection; front "<name><tid>" or size bytes).
//	keepalive a
//	stop a
//	    mark_down: Conn.Stop (no event).
//	crash a
//	    a's process is gone: it never reads, writes or ticks again, and its socket stays
//	    half-open (no FIN), as after a power loss.
//	flush a chunk=1 bytes=10
//	    Write a's output into flight (in writes of chunk bytes, at most bytes in all).
//	deliver b chunk=7 bytes=100
//	    Feed the bytes in flight toward b (then EOF, once drained, if the peer closed its end).
//	stabilize
//	    Write, read and carry out replaces until nothing moves (timers are not run).
//	cut a
//	    The socket of a (default: every socket) fails: bytes in flight are lost and both ends
//	    get a transport error.
//	transport-error a
//	    Only a's transport fails; its peer reads EOF after what is in flight.
//	drop b
//	    Lose the bytes in flight toward b.
//	replace b2
//	    Carry out the lossless replace decided on b2 (default: every pending one) as msgr does:
//	    TakeInput, SessionReset if the decision says so, Adopt on the existing session.
//	    (MarkReplacing already ran inside the accept decision, as in msgr.)
//	register b existing=a2
//	    What b's messenger registry holds for the peer (none: nothing).
//	set b gseq=100 auth=reject hold=true
//	throttle b messages=1 bytes=100 dispatch=1000 hold=true
//	    Limit b's messenger throttles (0: unlimited); hold: deliveries keep their units until
//	    `release`. Prints the throttles.
//	release b n=1
//	posted hold
//	    Work a connection posts to another one (the keepalive a race winner's existing
//	    connection gets, msgr runs it on that connection's center) waits until `posted run`.
//	tick advance=200ms
//	    Advance the clock, running every timer that falls due, in order.
//	raw b msg seq=3 corrupt=header_crc
//	    Inject bytes toward b: hex=…, banner [text=…], addr [nonce=N], greeting, connect …,
//	    reply tag=SEQ …, inseq n=N, msg …, ack seq=N, keepalive, keepalive2, keepalive2_ack,
//	    close, tag n=N (see interaction_raw_test.go).
//	state a b
//	seqs a b
func TestInteraction(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	cov := newEnv()
	ran := 0
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			ran++
			e := newEnv()
			ddtest.RunTest(t, f, e.handle)
			for _, p := range e.problems {
				t.Errorf("%s: %s", f, p)
			}
			for k := range e.states { //lint:ordered (set union)
				cov.states[k] = true
			}
			for k := range e.replyTags { //lint:ordered (set union)
				cov.replyTags[k] = true
			}
			for k := range e.rules { //lint:ordered (set union)
				cov.rules[k] = true
			}
		})
	}
	t.Run("coverage", func(t *testing.T) {
		if ran != len(files) {
			t.Skipf("only %d of %d transcripts ran", ran, len(files))
		}
		checkCoverage(t, cov)
	})
}

// unreachable lists states and reply tags no transcript can reach, with the reason. Empty:
// every state and every reply tag is reached.
var unreachable = map[string]string{}

func checkCoverage(t *testing.T, cov *env) {
	var states, tags, missing []string
	for _, s := range AllStates() {
		if cov.states[s] {
			states = append(states, s.String())
		} else if why, ok := unreachable[s.String()]; ok {
			t.Logf("state %v not reached: %s", s, why)
		} else {
			missing = append(missing, "state "+s.String())
		}
	}
	for tag := wire.Tag(0); tag < 255; tag++ {
		if !tag.IsReply() {
			continue
		}
		if cov.replyTags[tag] {
			tags = append(tags, tag.String())
		} else if why, ok := unreachable[tag.String()]; ok {
			t.Logf("reply tag %v not reached: %s", tag, why)
		} else {
			missing = append(missing, "reply tag "+tag.String())
		}
	}
	var rules []string
	for r := range cov.rules { //lint:ordered (sorted below)
		rules = append(rules, r)
	}
	slices.Sort(rules)
	t.Logf("states reached (%d of %d): %s", len(states), len(AllStates()), strings.Join(states, " "))
	t.Logf("reply tags reached (%d): %s", len(tags), strings.Join(tags, " "))
	t.Logf("decision rules reached (%d):\n\t%s", len(rules), strings.Join(rules, "\n\t"))
	if len(missing) > 0 {
		t.Errorf("never reached by any transcript: %s", strings.Join(missing, ", "))
	}
}

// handle runs one transcript command.
func (e *env) handle(t *testing.T, d *ddtest.TestData) string {
	switch d.Cmd {
	case "new":
		e.cmdNew(t, d)
	case "connected":
		e.cmdConnected(t, d)
	case "accept":
		n := e.arg0(t, d)
		if n.started {
			d.Fatalf(t, "%s already started", n.name)
		}
		e.accept(n)
	case "connect-failed":
		n := e.arg0(t, d)
		var refused bool
		d.MaybeScanArgs(t, "refused", &refused)
		if !n.dialing {
			d.Fatalf(t, "%s is not dialling", n.name)
		}
		n.dialing = false
		n.c.ConnectFailed(errors.New("connection refused"), refused)
		e.drain()
	case "send":
		e.cmdSend(t, d)
	case "keepalive":
		e.arg0(t, d).c.SendKeepalive()
		e.drain()
	case "stop":
		e.arg0(t, d).c.Stop()
		e.drain()
	case "crash":
		n := e.arg0(t, d)
		n.crashed = true
		e.logf("%s: crashed (its socket stays half-open)", n.name)
	case "flush":
		n := e.arg0(t, d)
		chunk, limit := chunkArgs(t, d)
		if k := e.write(n, chunk, limit); k == 0 {
			e.logf("%s: nothing to write", n.name)
		}
	case "deliver":
		n := e.arg0(t, d)
		chunk, limit := chunkArgs(t, d)
		s, at := n.sock, len(e.lines)
		k, eof := e.read(n, chunk, limit)
		switch {
		case s == nil:
			e.logf("%s: no socket", n.name)
		case k == 0 && eof:
		case k == 0:
			e.logf("%s: nothing read (%d bytes in flight)", n.name, len(s.flight[1-n.side]))
		default:
			e.lines = slices.Insert(e.lines, at, fmt.Sprintf("%s: read %d bytes, %d left in flight", n.name, k, len(s.flight[1-n.side])))
			e.chain.line = -1
		}
	case "stabilize":
		if err := e.stabilize(); err != nil {
			d.Fatalf(t, "%v", err)
		}
	case "cut":
		e.cmdCut(t, d)
	case "transport-error":
		n := e.arg0(t, d)
		if n.sock == nil {
			d.Fatalf(t, "%s has no socket", n.name)
		}
		e.closeEnd(n)
		n.c.TransportError(errCut)
		e.drain()
	case "drop":
		n := e.arg0(t, d)
		e.logf("%s: %d bytes in flight toward it lost", n.name, len(n.sock.flight[1-n.side]))
		n.sock.flight[1-n.side] = nil
	case "replace":
		e.cmdReplace(t, d)
	case "register":
		n := e.arg0(t, d)
		var ex string
		d.ScanArgs(t, "existing", &ex)
		n.m.registry = nil
		if ex != "none" {
			n.m.registry = e.mustNode(t, d, ex)
		}
	case "set":
		e.cmdSet(t, d, e.arg0(t, d).m)
	case "throttle":
		e.cmdThrottle(t, d)
	case "release":
		e.cmdRelease(t, d)
	case "tick":
		var adv time.Duration
		d.MaybeScanArgs(t, "advance", &adv)
		if err := e.advance(adv); err != nil {
			d.Fatalf(t, "%v", err)
		}
		e.logf("now %v", e.now)
	case "raw":
		e.cmdRaw(t, d)
	case "posted":
		e.holdPosts = d.HasArg("hold")
		if !e.holdPosts {
			e.logf("running %d posted", len(e.posted))
			e.drain()
		}
	case "state":
		for _, n := range e.nodesArg(t, d) {
			e.logf("%s", n.stateLine())
		}
		e.flightLines()
	case "seqs":
		for _, n := range e.nodesArg(t, d) {
			e.logf("%s", n.seqsLine())
		}
	default:
		d.Fatalf(t, "unknown command")
	}
	return e.output()
}

func (e *env) mustNode(t *testing.T, d *ddtest.TestData, name string) *node {
	n := e.node(name)
	if n == nil {
		d.Fatalf(t, "no connection named %q", name)
	}
	return n
}

// arg0 is the node named by the first bare argument.
func (e *env) arg0(t *testing.T, d *ddtest.TestData) *node {
	if len(d.CmdArgs) == 0 || len(d.CmdArgs[0].Vals) > 0 {
		d.Fatalf(t, "the first argument must name a connection")
	}
	return e.mustNode(t, d, d.CmdArgs[0].Key)
}

// nodesArg are the nodes named by bare arguments, or all of them.
func (e *env) nodesArg(t *testing.T, d *ddtest.TestData) []*node {
	var ns []*node
	for _, a := range d.CmdArgs {
		if len(a.Vals) == 0 {
			ns = append(ns, e.mustNode(t, d, a.Key))
		}
	}
	if len(ns) == 0 {
		ns = e.nodes
	}
	return ns
}

func chunkArgs(t *testing.T, d *ddtest.TestData) (chunk, limit int) {
	d.MaybeScanArgs(t, "chunk", &chunk)
	d.MaybeScanArgs(t, "bytes", &limit)
	return chunk, limit
}

func policyByName(name string, required uint64) (Policy, bool) {
	switch name {
	case "lossless_peer":
		return LosslessPeer(required), true
	case "lossless_peer_reuse":
		return LosslessPeerReuse(required), true
	case "lossy_client":
		return LossyClient(required), true
	case "lossless_client":
		return LosslessClient(required), true
	case "stateless_server":
		return StatelessServer(required), true
	case "stateless_registered_server":
		return StatelessRegisteredServer(required), true
	case "stateful_server":
		return StatefulServer(required), true
	case "default":
		p := DefaultPolicy()
		p.FeaturesRequired = required
		return p, true
	}
	return Policy{}, false
}

var msgrArgs = []string{"policy", "type", "features", "required", "my_nonce", "addr", "cluster", "auth",
	"authorizer", "crc_data", "crc_header", "gseq"}

func (e *env) cmdNew(t *testing.T, d *ddtest.TestData) {
	var name, role, shared string
	d.ScanArgs(t, "name", &name)
	d.ScanArgs(t, "role", &role)
	if e.node(name) != nil {
		d.Fatalf(t, "%s exists", name)
	}
	var m *tmsgr
	if d.MaybeScanArgs(t, "msgr", &shared) {
		for _, k := range msgrArgs {
			if d.HasArg(k) {
				d.Fatalf(t, "%s= is a messenger option: not allowed with msgr=", k)
			}
		}
		m = e.mustNode(t, d, shared).m
	} else {
		m = e.newMsgrArgs(t, d)
	}
	switch role {
	case "acceptor":
		e.newAcceptor(name, m)
		e.logf("%s: %v at %s, acceptor", name, m.cfg.MyName, addrString(m.addr))
	case "connector":
		target := e.peerMsgr(t, d, m)
		peer := target.addr
		d.MaybeScanArgs(t, "peer_nonce", &peer.Nonce)
		e.logf("%s: %v at %s, connector to %s", name, m.cfg.MyName, addrString(m.addr), addrString(peer))
		e.newConnector(name, m, target, peer)
	default:
		d.Fatalf(t, "role must be connector or acceptor")
	}
}

func (e *env) newMsgrArgs(t *testing.T, d *ddtest.TestData) *tmsgr {
	var pname string
	var required uint64
	d.ScanArgs(t, "policy", &pname)
	d.MaybeScanArgs(t, "required", &required)
	p, ok := policyByName(pname, required)
	if !ok {
		d.Fatalf(t, "unknown policy %q", pname)
	}
	d.MaybeScanArgs(t, "features", &p.FeaturesSupported)
	idx := len(e.msgrs) + 1
	typ := wire.EntityOSD
	var ts string
	if d.MaybeScanArgs(t, "type", &ts) {
		if typ, ok = wire.ParseEntityType(ts); !ok {
			d.Fatalf(t, "unknown entity type %q", ts)
		}
	}
	addr := defaultAddr(idx)
	var ap string
	if d.MaybeScanArgs(t, "addr", &ap) {
		addr.Addr = netip.MustParseAddrPort(ap)
	}
	d.MaybeScanArgs(t, "my_nonce", &addr.Nonce)
	cluster := uint32(10)
	d.MaybeScanArgs(t, "cluster", &cluster)
	m := e.newMsgr(wire.NewName(typ, int64(idx)), addr, cluster, p)
	d.MaybeScanArgs(t, "crc_data", &m.cfg.CRCData)
	d.MaybeScanArgs(t, "crc_header", &m.cfg.CRCHeader)
	d.MaybeScanArgs(t, "authorizer", &m.authorize)
	e.cmdSet(t, d, m)
	return m
}

// peerMsgr is the messenger a new connector dials: peer= or the only other messenger.
func (e *env) peerMsgr(t *testing.T, d *ddtest.TestData, m *tmsgr) *tmsgr {
	var peer string
	if d.MaybeScanArgs(t, "peer", &peer) {
		return e.mustNode(t, d, peer).m
	}
	var other *tmsgr
	for _, o := range e.msgrs {
		if o != m {
			if other != nil {
				d.Fatalf(t, "several messengers: say peer=")
			}
			other = o
		}
	}
	if other == nil {
		d.Fatalf(t, "no messenger to connect to")
	}
	return other
}

func (e *env) cmdSet(t *testing.T, d *ddtest.TestData, m *tmsgr) {
	d.MaybeScanArgs(t, "gseq", &m.gseq)
	d.MaybeScanArgs(t, "hold", &m.hold)
	var auth string
	if d.MaybeScanArgs(t, "auth", &auth) {
		switch auth {
		case "accept":
			m.auth = 1
		case "reject":
			m.auth = -1
		case "challenge":
			m.auth = 0
		default:
			d.Fatalf(t, "auth must be accept, reject or challenge")
		}
	}
}

func (e *env) cmdConnected(t *testing.T, d *ddtest.TestData) {
	n := e.arg0(t, d)
	if !n.dialing {
		d.Fatalf(t, "%s is not dialling", n.name)
	}
	var to string
	if !d.MaybeScanArgs(t, "to", &to) {
		for _, o := range e.nodes {
			if o.m == n.target && !o.started && o.c == nil {
				to = o.name
				break
			}
		}
		if to == "" {
			d.Fatalf(t, "no fresh acceptor on the dialled messenger: say to=")
		}
	}
	if to == "-" {
		e.connect(n, nil)
		return
	}
	a := e.node(to)
	if a == nil {
		a = e.newAcceptor(to, n.target)
	}
	if a.started {
		d.Fatalf(t, "%s already has a socket", to)
	}
	e.connect(n, a)
}

func (e *env) cmdSend(t *testing.T, d *ddtest.TestData) {
	n := e.arg0(t, d)
	count, size, data := 1, -1, 0
	prio, typ := wire.PrioDefault, wire.MsgPing
	d.MaybeScanArgs(t, "n", &count)
	d.MaybeScanArgs(t, "size", &size)
	d.MaybeScanArgs(t, "data", &data)
	d.MaybeScanArgs(t, "prio", &prio)
	d.MaybeScanArgs(t, "type", &typ)
	var tids []string
	for range count {
		m := n.newMessage(typ, prio, size, data)
		if !n.c.Send(m) {
			e.logf("%s: send tid=%d dropped: connection %v", n.name, m.Header.Tid, n.c.State())
			continue
		}
		tids = append(tids, fmt.Sprint(m.Header.Tid))
	}
	if len(tids) > 0 {
		e.logf("%s: queued tid=%s", n.name, strings.Join(tids, ","))
	}
	e.drain()
}

// newMessage makes the node's next message: front "<name><tid>" (or size bytes), data bytes.
func (n *node) newMessage(typ, prio uint16, size, data int) *wire.Message {
	n.tid++
	front := []byte(fmt.Sprintf("%s%d", n.name, n.tid))
	if size >= 0 {
		front = bytes.Repeat([]byte{byte(n.tid)}, size)
	}
	m := wire.NewMessage(typ, front)
	m.Header.Tid, m.Header.Priority = n.tid, prio
	if data > 0 {
		m.Data = bytes.Repeat([]byte{byte(n.tid) + 1}, data)
	}
	return m
}

func (e *env) cmdCut(t *testing.T, d *ddtest.TestData) {
	var socks []*socket
	if len(d.CmdArgs) > 0 {
		n := e.arg0(t, d)
		if n.sock == nil {
			d.Fatalf(t, "%s has no socket", n.name)
		}
		socks = append(socks, n.sock)
	} else {
		for _, n := range e.nodes {
			if n.sock != nil && !slices.Contains(socks, n.sock) {
				socks = append(socks, n.sock)
			}
		}
	}
	for _, s := range socks {
		e.cut(s)
	}
}

func (e *env) cmdReplace(t *testing.T, d *ddtest.TestData) {
	if len(d.CmdArgs) == 0 {
		if !e.carryOutAll() {
			e.logf("no replace pending")
		}
		return
	}
	n := e.arg0(t, d)
	if n.handover == nil {
		d.Fatalf(t, "no replace pending on %s", n.name)
	}
	e.carryOut(n)
}

func (e *env) cmdThrottle(t *testing.T, d *ddtest.TestData) {
	n := e.arg0(t, d)
	m := n.m
	d.MaybeScanArgs(t, "messages", &m.th[0].max)
	d.MaybeScanArgs(t, "bytes", &m.th[1].max)
	d.MaybeScanArgs(t, "dispatch", &m.th[2].max)
	d.MaybeScanArgs(t, "hold", &m.hold)
	e.logf("%s: throttles %v %v %v, %d held", n.name, m.th[0], m.th[1], m.th[2], len(m.held))
}

func (e *env) cmdRelease(t *testing.T, d *ddtest.TestData) {
	n := e.arg0(t, d)
	m := n.m
	k := len(m.held)
	d.MaybeScanArgs(t, "n", &k)
	k = min(k, len(m.held))
	for _, h := range m.held[:k] {
		e.logf("%s: release seq=%d (messages=%d bytes=%d dispatch=%d)", h.n.name, h.seq, h.res.Messages, h.res.Bytes, h.res.Dispatch)
		h.res.Release()
	}
	m.held = m.held[k:]
	e.logf("%s: throttles %v %v %v, %d held", n.name, m.th[0], m.th[1], m.th[2], len(m.held))
}

func (n *node) stateLine() string {
	if n.c == nil {
		return n.name + ": not started"
	}
	s := fmt.Sprintf("%s: %v", n.name, n.c.State())
	if n.crashed {
		s += " crashed"
	}
	if n.c.IsConnector() {
		s += " connector"
	} else {
		s += " acceptor"
	}
	if n.sock != nil {
		s += fmt.Sprintf(" socket=%d", n.sock.id)
	}
	if n.dialing {
		s += " dialing"
	}
	if at, ok := n.c.NextDeadline(); ok {
		s += fmt.Sprintf(" timer=+%v", at-n.e.now)
	}
	if n.handover != nil {
		s += " replace→" + n.handover.existing.name
	}
	return s
}

func (n *node) seqsLine() string {
	c := n.c
	if c == nil {
		return n.name + ": not started"
	}
	out, in, cs, pgs := c.Seqs()
	s := fmt.Sprintf("%s: out_seq=%d in_seq=%d cs=%d pgs=%d gseq=%d queued=%d sent=%d", n.name, out, in, cs, pgs,
		c.globalSeq, c.queue.len(), c.sent.len())
	if c.Policy().Lossy {
		s += " lossy"
	}
	if ka := c.LastKeepaliveAck(); ka != (wire.Timespec{}) {
		s += fmt.Sprintf(" keepalive_ack=%d.%09d", ka.Sec, ka.Nsec)
	}
	return s + fmt.Sprintf(" delivered=%d", len(n.delivered))
}

func (e *env) flightLines() {
	seen := map[*socket]bool{}
	for _, n := range e.nodes {
		s := n.sock
		if s == nil || seen[s] {
			continue
		}
		seen[s] = true
		if k0, k1 := len(s.flight[0]), len(s.flight[1]); k0+k1 > 0 {
			e.logf("%v in flight: %s→%s %d bytes, %s→%s %d bytes", s, s.endName(0), s.endName(1), k0,
				s.endName(1), s.endName(0), k1)
		}
	}
}
