package proto_test

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/ddtest"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/proto/prototest"
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
			for _, p := range e.Problems {
				t.Errorf("%s: %s", f, p)
			}
			cov.States |= e.States
			for k := range e.replyTags { //lint:ordered (set union)
				cov.replyTags[k] = true
			}
			for k := range e.Rules { //lint:ordered (set union)
				cov.Rules[k] = true
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
	for _, s := range proto.AllStates() {
		if cov.States.Has(s) {
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
	for r := range cov.Rules { //lint:ordered (sorted below)
		rules = append(rules, r)
	}
	slices.Sort(rules)
	t.Logf("states reached (%d of %d): %s", len(states), len(proto.AllStates()), strings.Join(states, " "))
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
		if n.Started {
			d.Fatalf(t, "%s already started", n.Name)
		}
		e.Accept(n)
	case "connect-failed":
		n := e.arg0(t, d)
		var refused bool
		d.MaybeScanArgs(t, "refused", &refused)
		if !n.Dialing {
			d.Fatalf(t, "%s is not dialling", n.Name)
		}
		n.Dialing = false
		n.C.ConnectFailed(errors.New("connection refused"), refused)
		e.Drain()
	case "send":
		e.cmdSend(t, d)
	case "keepalive":
		e.arg0(t, d).C.SendKeepalive()
		e.Drain()
	case "stop":
		e.arg0(t, d).C.Stop()
		e.Drain()
	case "crash":
		n := e.arg0(t, d)
		n.Crashed = true
		e.Logf("%s: crashed (its socket stays half-open)", n.Name)
	case "flush":
		n := e.arg0(t, d)
		chunk, limit := chunkArgs(t, d)
		if k := e.Write(n, chunk, limit); k == 0 {
			e.Logf("%s: nothing to write", n.Name)
		}
	case "deliver":
		n := e.arg0(t, d)
		chunk, limit := chunkArgs(t, d)
		s, at := n.Sock, e.Lines()
		k, eof := e.Read(n, chunk, limit)
		switch {
		case s == nil:
			e.Logf("%s: no socket", n.Name)
		case k == 0 && eof:
		case k == 0:
			e.Logf("%s: nothing read (%d bytes in flight)", n.Name, len(s.Flight[1-n.Side]))
		default:
			e.InsertLine(at, fmt.Sprintf("%s: read %d bytes, %d left in flight", n.Name, k, len(s.Flight[1-n.Side])))
		}
	case "stabilize":
		if err := e.Stabilize(); err != nil {
			d.Fatalf(t, "%v", err)
		}
	case "cut":
		e.cmdCut(t, d)
	case "transport-error":
		n := e.arg0(t, d)
		if n.Sock == nil {
			d.Fatalf(t, "%s has no socket", n.Name)
		}
		e.CloseEnd(n)
		n.C.TransportError(prototest.ErrCut)
		e.Drain()
	case "drop":
		n := e.arg0(t, d)
		e.Logf("%s: %d bytes in flight toward it lost", n.Name, len(n.Sock.Flight[1-n.Side]))
		n.Sock.Flight[1-n.Side] = nil
	case "replace":
		e.cmdReplace(t, d)
	case "register":
		n := e.arg0(t, d)
		var ex string
		d.ScanArgs(t, "existing", &ex)
		n.M.Registry = nil
		if ex != "none" {
			n.M.Registry = e.mustNode(t, d, ex)
		}
	case "set":
		e.cmdSet(t, d, e.arg0(t, d).M)
	case "throttle":
		e.cmdThrottle(t, d)
	case "release":
		e.cmdRelease(t, d)
	case "tick":
		var adv time.Duration
		d.MaybeScanArgs(t, "advance", &adv)
		if err := e.Advance(adv); err != nil {
			d.Fatalf(t, "%v", err)
		}
		e.Logf("now %v", e.Now)
	case "raw":
		e.cmdRaw(t, d)
	case "posted":
		e.HoldPosts = d.HasArg("hold")
		if !e.HoldPosts {
			e.Logf("running %d posted", e.Posted())
			e.Drain()
		}
	case "state":
		for _, n := range e.nodesArg(t, d) {
			e.Logf("%s", n.StateLine())
		}
		e.flightLines()
	case "seqs":
		for _, n := range e.nodesArg(t, d) {
			e.Logf("%s", n.SeqsLine())
		}
	default:
		d.Fatalf(t, "unknown command")
	}
	return e.Output()
}

func (e *env) mustNode(t *testing.T, d *ddtest.TestData, name string) *prototest.Node {
	n := e.Node(name)
	if n == nil {
		d.Fatalf(t, "no connection named %q", name)
	}
	return n
}

// arg0 is the node named by the first bare argument.
func (e *env) arg0(t *testing.T, d *ddtest.TestData) *prototest.Node {
	if len(d.CmdArgs) == 0 || len(d.CmdArgs[0].Vals) > 0 {
		d.Fatalf(t, "the first argument must name a connection")
	}
	return e.mustNode(t, d, d.CmdArgs[0].Key)
}

// nodesArg are the nodes named by bare arguments, or all of them.
func (e *env) nodesArg(t *testing.T, d *ddtest.TestData) []*prototest.Node {
	var ns []*prototest.Node
	for _, a := range d.CmdArgs {
		if len(a.Vals) == 0 {
			ns = append(ns, e.mustNode(t, d, a.Key))
		}
	}
	if len(ns) == 0 {
		ns = e.Nodes
	}
	return ns
}

func chunkArgs(t *testing.T, d *ddtest.TestData) (chunk, limit int) {
	d.MaybeScanArgs(t, "chunk", &chunk)
	d.MaybeScanArgs(t, "bytes", &limit)
	return chunk, limit
}

func policyByName(name string, required uint64) (proto.Policy, bool) {
	switch name {
	case "lossless_peer":
		return proto.LosslessPeer(required), true
	case "lossless_peer_reuse":
		return proto.LosslessPeerReuse(required), true
	case "lossy_client":
		return proto.LossyClient(required), true
	case "lossless_client":
		return proto.LosslessClient(required), true
	case "stateless_server":
		return proto.StatelessServer(required), true
	case "stateless_registered_server":
		return proto.StatelessRegisteredServer(required), true
	case "stateful_server":
		return proto.StatefulServer(required), true
	case "default":
		p := proto.DefaultPolicy()
		p.FeaturesRequired = required
		return p, true
	}
	return proto.Policy{}, false
}

var msgrArgs = []string{"policy", "type", "features", "required", "my_nonce", "addr", "cluster", "auth",
	"authorizer", "crc_data", "crc_header", "gseq"}

func (e *env) cmdNew(t *testing.T, d *ddtest.TestData) {
	var name, role, shared string
	d.ScanArgs(t, "name", &name)
	d.ScanArgs(t, "role", &role)
	if e.Node(name) != nil {
		d.Fatalf(t, "%s exists", name)
	}
	var m *prototest.Msgr
	if d.MaybeScanArgs(t, "msgr", &shared) {
		for _, k := range msgrArgs {
			if d.HasArg(k) {
				d.Fatalf(t, "%s= is a messenger option: not allowed with msgr=", k)
			}
		}
		m = e.mustNode(t, d, shared).M
	} else {
		m = e.newMsgrArgs(t, d)
	}
	switch role {
	case "acceptor":
		e.NewAcceptor(name, m)
		e.Logf("%s: %v at %s, acceptor", name, m.Cfg.MyName, addrString(m.Addr))
	case "connector":
		target := e.peerMsgr(t, d, m)
		peer := target.Addr
		d.MaybeScanArgs(t, "peer_nonce", &peer.Nonce)
		e.Logf("%s: %v at %s, connector to %s", name, m.Cfg.MyName, addrString(m.Addr), addrString(peer))
		e.NewConnector(name, m, target, peer)
	default:
		d.Fatalf(t, "role must be connector or acceptor")
	}
}

func (e *env) newMsgrArgs(t *testing.T, d *ddtest.TestData) *prototest.Msgr {
	var pname string
	var required uint64
	d.ScanArgs(t, "policy", &pname)
	d.MaybeScanArgs(t, "required", &required)
	p, ok := policyByName(pname, required)
	if !ok {
		d.Fatalf(t, "unknown policy %q", pname)
	}
	d.MaybeScanArgs(t, "features", &p.FeaturesSupported)
	idx := len(e.Msgrs) + 1
	typ := wire.EntityOSD
	var ts string
	if d.MaybeScanArgs(t, "type", &ts) {
		if typ, ok = wire.ParseEntityType(ts); !ok {
			d.Fatalf(t, "unknown entity type %q", ts)
		}
	}
	addr := prototest.DefaultAddr(idx)
	var ap string
	if d.MaybeScanArgs(t, "addr", &ap) {
		addr.Addr = netip.MustParseAddrPort(ap)
	}
	d.MaybeScanArgs(t, "my_nonce", &addr.Nonce)
	cluster := uint32(10)
	d.MaybeScanArgs(t, "cluster", &cluster)
	m := e.NewMsgr(wire.NewName(typ, int64(idx)), addr, cluster, p)
	d.MaybeScanArgs(t, "crc_data", &m.Cfg.CRCData)
	d.MaybeScanArgs(t, "crc_header", &m.Cfg.CRCHeader)
	d.MaybeScanArgs(t, "authorizer", &m.Authorize)
	e.cmdSet(t, d, m)
	return m
}

// peerMsgr is the messenger a new connector dials: peer= or the only other messenger.
func (e *env) peerMsgr(t *testing.T, d *ddtest.TestData, m *prototest.Msgr) *prototest.Msgr {
	var peer string
	if d.MaybeScanArgs(t, "peer", &peer) {
		return e.mustNode(t, d, peer).M
	}
	var other *prototest.Msgr
	for _, o := range e.Msgrs {
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

func (e *env) cmdSet(t *testing.T, d *ddtest.TestData, m *prototest.Msgr) {
	d.MaybeScanArgs(t, "gseq", &m.GSeq)
	d.MaybeScanArgs(t, "hold", &m.Hold)
	var auth string
	if d.MaybeScanArgs(t, "auth", &auth) {
		switch auth {
		case "accept":
			m.Auth = 1
		case "reject":
			m.Auth = -1
		case "challenge":
			m.Auth = 0
		default:
			d.Fatalf(t, "auth must be accept, reject or challenge")
		}
	}
}

func (e *env) cmdConnected(t *testing.T, d *ddtest.TestData) {
	n := e.arg0(t, d)
	if !n.Dialing {
		d.Fatalf(t, "%s is not dialling", n.Name)
	}
	var to string
	if !d.MaybeScanArgs(t, "to", &to) {
		for _, o := range e.Nodes {
			if o.M == n.Target && !o.Started && o.C == nil {
				to = o.Name
				break
			}
		}
		if to == "" {
			d.Fatalf(t, "no fresh acceptor on the dialled messenger: say to=")
		}
	}
	if to == "-" {
		e.Connect(n, nil)
		return
	}
	a := e.Node(to)
	if a == nil {
		a = e.NewAcceptor(to, n.Target)
	}
	if a.Started {
		d.Fatalf(t, "%s already has a socket", to)
	}
	e.Connect(n, a)
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
		m := n.NewMessage(typ, prio, size, data)
		if !n.C.Send(m) {
			e.Logf("%s: send tid=%d dropped: connection %v", n.Name, m.Header.Tid, n.C.State())
			continue
		}
		tids = append(tids, fmt.Sprint(m.Header.Tid))
	}
	if len(tids) > 0 {
		e.Logf("%s: queued tid=%s", n.Name, strings.Join(tids, ","))
	}
	e.Drain()
}

func (e *env) cmdCut(t *testing.T, d *ddtest.TestData) {
	var socks []*prototest.Socket
	if len(d.CmdArgs) > 0 {
		n := e.arg0(t, d)
		if n.Sock == nil {
			d.Fatalf(t, "%s has no socket", n.Name)
		}
		socks = append(socks, n.Sock)
	} else {
		for _, n := range e.Nodes {
			if n.Sock != nil && !slices.Contains(socks, n.Sock) {
				socks = append(socks, n.Sock)
			}
		}
	}
	for _, s := range socks {
		e.Cut(s)
	}
}

func (e *env) cmdReplace(t *testing.T, d *ddtest.TestData) {
	if len(d.CmdArgs) == 0 {
		if !e.CarryOutAll() {
			e.Logf("no replace pending")
		}
		return
	}
	n := e.arg0(t, d)
	if n.Handover == nil {
		d.Fatalf(t, "no replace pending on %s", n.Name)
	}
	e.CarryOut(n)
}

func (e *env) cmdThrottle(t *testing.T, d *ddtest.TestData) {
	n := e.arg0(t, d)
	m := n.M
	d.MaybeScanArgs(t, "messages", &m.Th[0].Max)
	d.MaybeScanArgs(t, "bytes", &m.Th[1].Max)
	d.MaybeScanArgs(t, "dispatch", &m.Th[2].Max)
	d.MaybeScanArgs(t, "hold", &m.Hold)
	e.Logf("%s: throttles %v %v %v, %d held", n.Name, &m.Th[0], &m.Th[1], &m.Th[2], len(m.Held))
}

func (e *env) cmdRelease(t *testing.T, d *ddtest.TestData) {
	n := e.arg0(t, d)
	m := n.M
	k := len(m.Held)
	d.MaybeScanArgs(t, "n", &k)
	k = min(k, len(m.Held))
	for _, h := range m.Held[:k] {
		e.Logf("%s: release seq=%d (messages=%d bytes=%d dispatch=%d)", h.Node.Name, h.Seq, h.Res.Messages, h.Res.Bytes, h.Res.Dispatch)
		h.Res.Release()
	}
	m.Held = m.Held[k:]
	e.Logf("%s: throttles %v %v %v, %d held", n.Name, &m.Th[0], &m.Th[1], &m.Th[2], len(m.Held))
}

func (e *env) flightLines() {
	seen := map[*prototest.Socket]bool{}
	for _, n := range e.Nodes {
		s := n.Sock
		if s == nil || seen[s] {
			continue
		}
		seen[s] = true
		if k0, k1 := len(s.Flight[0]), len(s.Flight[1]); k0+k1 > 0 {
			e.Logf("%v in flight: %s→%s %d bytes, %s→%s %d bytes", s, s.EndName(0), s.EndName(1), k0,
				s.EndName(1), s.EndName(0), k1)
		}
	}
}
