package protofuzz

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/msgrsim/msgrsim/internal/fuzzing"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The accept decision table under fuzzing (FuzzDecide in msgr/proto/fuzz_test.go,
// FuzzDecideGo in gofuzz.go). The input drives a small model of one messenger's registry for one peer
// address: connect messages arrive on sockets (the same socket again after a reply), the
// registered session changes state between them as the fuzzer likes, and every decision is
// carried out as msgr does. Each decision is checked against the rows of the table, stated
// as properties of its outcome rather than re-derived by the same code path:
//
//   - a reply carries a reply tag the table can produce (never READY or SEQ: those only come
//     from opening), the other verdicts carry no tag;
//   - the precondition rows (protocol version, required features, authorizer) win in Ceph's
//     order, and nothing opens or replaces unless they all pass;
//   - RETRY_GLOBAL carries the existing session's peer_global_seq, and answers exactly the
//     connects that are stale (global_seq below it) or race a replace in progress;
//   - RETRY_SESSION carries existing connect_seq + 1 and answers only connects that are not
//     ahead of the existing session; RESETSESSION exactly the reconnects (connect_seq > 0)
//     to a session that never opened (connect_seq 0) with resetcheck, from a legacy peer
//     (quirk Q14), or unless the session's own connect, unanswered, may have opened it (Q17);
//   - WAIT only when the existing session is itself in a handshake (a connection race: not
//     open, in standby or closed), is not a server, and the peer's address is above ours —
//     with a keepalive for it; a drop only between identical addresses;
//   - a replace resets a lossy existing session, marks a peer restart exactly when the peer
//     comes back with connect_seq 0 to a session that had one, and never lets a peer with a
//     stale connect_seq take a session over;
//
// and the registry stays consistent after the decision is carried out: never two live
// sessions for the address, and a lossless replace is always completed by the client's retry
// (its next connect opens the session that adopted the socket).

const maxDecideSteps = 32

// decideModel is the registry for one peer address and the connection asking.
type decideModel struct {
	in        *fuzzing.Input
	policy    proto.Policy
	myAddr    wire.EntityAddr
	peerAddr  wire.EntityAddr
	protoVer  uint32
	reg       proto.Existing // the registered session ({} when none), IsSelf when it holds the asking socket
	regOther  bool           // the registered session is another connection than the one asking
	replacing bool           // the asking socket was adopted in a replace
}

// CheckDecide runs one input of FuzzDecide and returns the first property it broke.
func CheckDecide(data []byte) error {
	m := &decideModel{in: fuzzing.NewInput(data), protoVer: 10}
	m.setWorld()
	for step := 0; step < maxDecideSteps && m.in.Len() > 0; step++ {
		if err := m.step(); err != nil {
			return fmt.Errorf("step %d: %w", step, err)
		}
	}
	return nil
}

// setWorld draws the policy and the two addresses (their order decides races).
func (m *decideModel) setWorld() {
	b := m.in.Byte()
	m.policy = proto.Policy{Lossy: b&1 != 0, Server: b&2 != 0, Standby: b&4 != 0, Resetcheck: b&8 != 0,
		RegisterLossyClients: b&16 != 0, FeaturesSupported: wire.FeaturesAll}
	if b&32 != 0 {
		m.policy.FeaturesRequired = wire.FeatureMsgAuth
	}
	ip := netip.MustParseAddrPort("10.0.0.1:6800")
	m.myAddr = wire.LegacyAddr(ip, uint32(m.in.Byte()))
	m.peerAddr = wire.LegacyAddr(ip, uint32(m.in.Byte()))
	if m.in.Bool() {
		m.peerAddr = wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.2:6800"), m.peerAddr.Nonce)
	}
}

// u32 draws a sequence number: mostly small (so that they collide), sometimes any value.
func (m *decideModel) u32() uint32 {
	b := m.in.Byte()
	if b&0x80 == 0 {
		return uint32(b & 7)
	}
	var w [4]byte
	for i := range w {
		w[i] = m.in.Byte()
	}
	return binary.LittleEndian.Uint32(w[:])
}

// decideStates are the states a registered session can be seen in: connecting, open (idle or
// reading a message), standby, closed but not yet unregistered, opened by an accept and
// waiting for the client's in_seq, or adopting a socket in a replace (NONE, ACCEPTING: only
// with Replacing set).
var decideStates = []proto.State{proto.StateOpened, proto.StateStandby, proto.StateStartConnect, proto.StateConnecting,
	proto.StateConnectingWaitBannerAndIdentify, proto.StateConnectingSendConnectMsg, proto.StateReadMessageFront,
	proto.StateThrottleBytes, proto.StateClosed, proto.StateAcceptingHandledConnectMsg, proto.StateNone, proto.StateAccepting}

// mutate lets the registered session (another connection) change between two connects: it
// faults, reconnects, closes, is replaced by something else, or a new one appears.
func (m *decideModel) mutate() {
	op := m.in.Byte()
	if op&1 == 0 {
		return
	}
	if !m.reg.Present || op&2 != 0 {
		m.reg = proto.Existing{Present: true, ConnectSeq: m.u32(), PeerGlobalSeq: m.u32()}
		m.regOther = true
	}
	if m.regOther {
		m.reg.State = decideStates[int(op>>2)%len(decideStates)]
		m.reg.Lossy, m.reg.Server = op&64 != 0, op&128 != 0
		m.reg.Replacing = m.reg.State == proto.StateNone || m.reg.State == proto.StateAccepting
		m.reg.Msgr2 = op == 0xff
		m.reg.ConnectUnheard = m.in.Byte()&1 != 0 // it wrote a connect and read no reply since
	}
}

// connect draws the next connect message of the client on the current socket.
func (m *decideModel) connect() (wire.Connect, int) {
	b := m.in.Byte()
	c := wire.Connect{Features: wire.FeaturesAll, HostType: wire.EntityOSD, ProtocolVersion: m.protoVer,
		GlobalSeq: m.u32(), ConnectSeq: m.u32()}
	if b&1 != 0 {
		c.Features &^= wire.FeatureMsgAuth
	}
	if b&0x0e == 0x0e {
		c.ProtocolVersion = wire.ProtoOSDClient
	}
	auth := 1
	switch b >> 5 {
	case 1:
		auth = -1
	case 2:
		auth = 0
	}
	return c, auth
}

func (m *decideModel) step() error {
	m.mutate()
	c, auth := m.connect()
	return m.decideAndCarryOut(c, auth)
}

func (m *decideModel) input(c wire.Connect, auth int) proto.DecideInput {
	in := proto.DecideInput{Connect: c, Policy: m.policy, ProtocolVersion: m.protoVer, AuthResult: auth,
		PeerAddr: m.peerAddr, MyAddr: m.myAddr, Replacing: m.replacing, Existing: m.reg}
	if m.reg.Present && !m.regOther {
		in.Existing = proto.Existing{Present: true, IsSelf: true}
	}
	return in
}

// decideAndCarryOut decides one connect, checks the decision and applies it to the model.
func (m *decideModel) decideAndCarryOut(c wire.Connect, auth int) error {
	in := m.input(c, auth)
	d := proto.Decide(&in)
	if err := checkDecision(&in, d); err != nil {
		return fmt.Errorf("%w\ninput %+v\ndecision %+v", err, in, d)
	}
	return m.carryOut(&in, d)
}

// carryOut applies a decision the way msgr does and checks the registry afterwards.
func (m *decideModel) carryOut(in *proto.DecideInput, d proto.Decision) error {
	switch d.Verdict {
	case proto.VerdictReply:
		return nil // the client answers on the same socket
	case proto.VerdictFault:
		m.newSocket()
		return nil
	case proto.VerdictOpen:
		return m.open(in)
	}
	if in.Existing.Lossy {
		m.reg.State = proto.StateClosed // msgr stops it; the asking connection opens instead
		return m.open(in)
	}
	return m.adopt(in)
}

// open registers the asking connection's new session (unless the policy keeps stateless
// sessions out of the registry).
func (m *decideModel) open(in *proto.DecideInput) error {
	p := in.Policy
	if p.Server && p.Lossy && !p.RegisterLossyClients {
		m.newSocket()
		return nil
	}
	if m.regOther && isLive(&m.reg) {
		return fmt.Errorf("two live sessions for %v: opened one while %+v is registered", m.peerAddr, m.reg)
	}
	m.reg = proto.Existing{Present: true, State: proto.StateOpened, ConnectSeq: in.Connect.ConnectSeq + 1,
		PeerGlobalSeq: in.Connect.GlobalSeq}
	m.regOther = false
	m.newSocket()
	return nil
}

// adopt is a lossless replace: the existing session takes the socket over and answers
// RETRY_GLOBAL with its peer_global_seq; the client's retry must open it.
func (m *decideModel) adopt(in *proto.DecideInput) error {
	pgs := in.Existing.PeerGlobalSeq
	m.regOther, m.replacing = false, true
	m.reg = proto.Existing{Present: true, Replacing: true, State: proto.StateAccepting, ConnectSeq: in.Existing.ConnectSeq, PeerGlobalSeq: pgs}
	retry := in.Connect
	retry.GlobalSeq = max(retry.GlobalSeq, pgs) + 1
	if retry.GlobalSeq == 0 {
		return nil // the client's global_seq wrapped: out of scope
	}
	rin := m.input(retry, in.AuthResult)
	d := proto.Decide(&rin)
	if d.Verdict != proto.VerdictOpen {
		return fmt.Errorf("a lossless replace was not completed: the client's retry %+v got %+v", retry, d)
	}
	return m.open(&rin)
}

// newSocket: the next connect comes from a new connection of the client.
func (m *decideModel) newSocket() {
	m.replacing = false
	if m.reg.Present && !m.regOther {
		m.regOther = true // the session stays registered; the next socket is another connection
	}
}

// isLive reports whether a registered session would count as a session for its address.
func isLive(ex *proto.Existing) bool {
	return ex.Present && !ex.IsSelf && !ex.Msgr2 && ex.State != proto.StateClosed
}

// replyTags are the tags a non-open decision can carry.
var replyTags = map[wire.Tag]bool{wire.TagBadProtoVer: true, wire.TagFeatures: true, wire.TagBadAuthorizer: true,
	wire.TagChallengeAuthorizer: true, wire.TagResetSession: true, wire.TagRetryGlobal: true,
	wire.TagRetrySession: true, wire.TagWait: true}

// checkDecision checks one decision against the rows of the table.
func checkDecision(in *proto.DecideInput, d proto.Decision) error {
	for _, check := range []func(*proto.DecideInput, proto.Decision) error{checkShape, checkPreconditions, checkAgainstExisting} {
		if err := check(in, d); err != nil {
			return err
		}
	}
	return nil
}

// checkShape: a verdict, a rule, reply tags only on replies, flags only where they mean
// something.
func checkShape(in *proto.DecideInput, d proto.Decision) error {
	switch {
	case d.Verdict < proto.VerdictReply || d.Verdict > proto.VerdictFault:
		return fmt.Errorf("verdict %d", d.Verdict)
	case d.Rule == "":
		return fmt.Errorf("no rule")
	case d.Verdict == proto.VerdictReply && !replyTags[d.Tag]:
		return fmt.Errorf("reply with tag %v", d.Tag)
	case d.Verdict != proto.VerdictReply && d.Tag != 0:
		return fmt.Errorf("%v with tag %v", d.Verdict, d.Tag)
	case (d.ResetExisting || d.ResetFromPeer) && d.Verdict != proto.VerdictReplace:
		return fmt.Errorf("reset flags on %v", d.Verdict)
	case d.KeepaliveExisting != (d.Tag == wire.TagWait):
		return fmt.Errorf("keepalive %v with tag %v", d.KeepaliveExisting, d.Tag)
	case d.Tag == wire.TagResetSession && in.Connect.ConnectSeq == 0:
		return fmt.Errorf("RESETSESSION to a connect with connect_seq 0")
	}
	return nil
}

// precondition is the tag of the first precondition row the input fails (0: none).
func precondition(in *proto.DecideInput) wire.Tag {
	switch {
	case in.Connect.ProtocolVersion != in.ProtocolVersion:
		return wire.TagBadProtoVer
	case in.Policy.FeaturesRequired&^in.Connect.Features != 0:
		return wire.TagFeatures
	case in.AuthResult < 0:
		return wire.TagBadAuthorizer
	case in.AuthResult == 0:
		return wire.TagChallengeAuthorizer
	}
	return 0
}

func checkPreconditions(in *proto.DecideInput, d proto.Decision) error {
	want := precondition(in)
	got := wire.Tag(0)
	switch d.Tag {
	case wire.TagBadProtoVer, wire.TagFeatures, wire.TagBadAuthorizer, wire.TagChallengeAuthorizer:
		got = d.Tag
	}
	if got != want {
		return fmt.Errorf("precondition answer %v, the first failing precondition is %v", got, want)
	}
	return nil
}

// checkAgainstExisting checks the rows that look at the registered session.
func checkAgainstExisting(in *proto.DecideInput, d proto.Decision) error {
	if precondition(in) != 0 {
		return nil
	}
	p, c, ex := &in.Policy, &in.Connect, &in.Existing
	if p.Server && p.Lossy && !p.RegisterLossyClients {
		if d.Verdict != proto.VerdictOpen {
			return fmt.Errorf("stateless server answered %v", d.Verdict)
		}
		return nil
	}
	if !isLive(ex) {
		resetWanted := c.ConnectSeq > 0 && !in.Replacing
		if d.Verdict != proto.VerdictOpen && !(resetWanted && d.Tag == wire.TagResetSession) {
			return fmt.Errorf("no live session: %v %v (want open, or RESETSESSION when connect_seq > 0)", d.Verdict, d.Tag)
		}
		if resetWanted != (d.Tag == wire.TagResetSession) {
			return fmt.Errorf("no live session, connect_seq %d, replacing %v: %v %v", c.ConnectSeq, in.Replacing, d.Verdict, d.Tag)
		}
		return nil
	}
	if d.Verdict == proto.VerdictOpen {
		return fmt.Errorf("opened beside a live session")
	}
	stale := ex.Replacing || c.GlobalSeq < ex.PeerGlobalSeq
	if stale != (d.Tag == wire.TagRetryGlobal) {
		return fmt.Errorf("stale %v (replacing %v, global_seq %d vs %d) but %v %v", stale, ex.Replacing,
			c.GlobalSeq, ex.PeerGlobalSeq, d.Verdict, d.Tag)
	}
	if stale {
		if d.GlobalSeq != ex.PeerGlobalSeq {
			return fmt.Errorf("RETRY_GLOBAL with %d, the existing peer_global_seq is %d", d.GlobalSeq, ex.PeerGlobalSeq)
		}
		return nil
	}
	return checkFreshAgainstLive(in, d)
}

// checkFreshAgainstLive: a connect with a fresh global_seq meets a live session.
func checkFreshAgainstLive(in *proto.DecideInput, d proto.Decision) error {
	c, ex := &in.Connect, &in.Existing
	restart := c.ConnectSeq == 0 && ex.ConnectSeq > 0 && !ex.Lossy
	if d.Verdict == proto.VerdictReplace {
		switch {
		case ex.Lossy && !d.ResetExisting:
			return fmt.Errorf("replaced a lossy session without resetting it")
		case d.ResetFromPeer != restart:
			return fmt.Errorf("peer restart flagged %v, connect_seq %d vs existing %d", d.ResetFromPeer, c.ConnectSeq, ex.ConnectSeq)
		case restart && d.ResetExisting != in.Policy.Resetcheck:
			return fmt.Errorf("peer restart resets the existing session %v with resetcheck %v", d.ResetExisting, in.Policy.Resetcheck)
		case c.ConnectSeq < ex.ConnectSeq && !restart && !ex.Lossy:
			return fmt.Errorf("a stale connect_seq %d took over a session at %d", c.ConnectSeq, ex.ConnectSeq)
		}
	} else if ex.Lossy || restart {
		return fmt.Errorf("%v %v: a lossy session or a restarted peer is replaced", d.Verdict, d.Tag)
	}
	if ex.Lossy || restart {
		return nil // replaced whatever the connect_seqs say
	}
	return checkSessionReplies(in, d)
}

// checkSessionReplies checks RETRY_SESSION, WAIT, RESETSESSION and drops against a live
// session, and what each connect_seq relation may get.
func checkSessionReplies(in *proto.DecideInput, d proto.Decision) error {
	c, ex := &in.Connect, &in.Existing
	cmp := wire.Compare(in.PeerAddr, in.MyAddr)
	switch {
	case d.Tag == wire.TagRetrySession && (d.ConnectSeq != ex.ConnectSeq+1 || c.ConnectSeq > ex.ConnectSeq):
		return fmt.Errorf("RETRY_SESSION with %d to connect_seq %d, existing %d", d.ConnectSeq, c.ConnectSeq, ex.ConnectSeq)
	case d.Tag == wire.TagWait && (!inHandshake(ex.State) || ex.Server || cmp <= 0 || c.ConnectSeq > ex.ConnectSeq):
		return fmt.Errorf("WAIT: existing %v server %v, address order %d, connect_seq %d vs %d", ex.State, ex.Server, cmp,
			c.ConnectSeq, ex.ConnectSeq)
	case d.Verdict == proto.VerdictFault && (cmp != 0 || c.ConnectSeq != ex.ConnectSeq):
		return fmt.Errorf("dropped with address order %d, connect_seq %d vs %d", cmp, c.ConnectSeq, ex.ConnectSeq)
	case (d.Tag == wire.TagResetSession) != neverOpenedReset(in):
		return fmt.Errorf("%v %v to connect_seq %d, existing %d, resetcheck %v, legacy %v, our connect unheard %v (want RESETSESSION: %v)",
			d.Verdict, d.Tag, c.ConnectSeq, ex.ConnectSeq, in.Policy.Resetcheck, c.Features&wire.FeatureReconnectSeq == 0,
			ex.ConnectUnheard, neverOpenedReset(in))
	case c.ConnectSeq > ex.ConnectSeq && d.Verdict != proto.VerdictReplace && d.Tag != wire.TagResetSession:
		return fmt.Errorf("a reconnect (connect_seq %d > %d) got %v %v", c.ConnectSeq, ex.ConnectSeq, d.Verdict, d.Tag)
	}
	if c.ConnectSeq == ex.ConnectSeq && inHandshake(ex.State) {
		return checkRace(in, d, cmp)
	}
	return nil
}

// neverOpenedReset reports whether a fresh connect to a live lossless session must get
// RESETSESSION: a reconnect (connect_seq > 0) to a session that never opened (connect_seq 0),
// with resetcheck (Ceph's rule 8h), from a legacy peer without RECONNECT_SEQ (quirk Q14), or
// when the session has no connect of its own that the peer may have opened it from (quirk
// Q17). Every other reconnect replaces.
func neverOpenedReset(in *proto.DecideInput) bool {
	c, ex := &in.Connect, &in.Existing
	if c.ConnectSeq == 0 || ex.ConnectSeq != 0 {
		return false
	}
	return in.Policy.Resetcheck || c.Features&wire.FeatureReconnectSeq == 0 || !ex.ConnectUnheard
}

// inHandshake reports whether a live session is in a handshake (on either side).
func inHandshake(s proto.State) bool {
	return !s.IsOpen() && s != proto.StateStandby && s != proto.StateClosed
}

// checkRace: equal connect_seqs while the existing session is not open is a connection race;
// the lower address's connection wins, and a server always lets the incoming one win.
func checkRace(in *proto.DecideInput, d proto.Decision, cmp int) error {
	want := "WAIT"
	switch {
	case cmp < 0 || in.Existing.Server:
		want = "replace"
	case cmp == 0:
		want = "drop"
	}
	got := map[bool]string{true: "WAIT"}[d.Tag == wire.TagWait]
	switch d.Verdict {
	case proto.VerdictReplace:
		got = "replace"
	case proto.VerdictFault:
		got = "drop"
	}
	if got != want {
		return fmt.Errorf("connection race (address order %d, existing server %v): got %v %v, want %s", cmp,
			in.Existing.Server, d.Verdict, d.Tag, want)
	}
	return nil
}
