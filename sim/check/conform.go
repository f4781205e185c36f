package check

import (
	"net/netip"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The protocol-conformance monitor: msgr1's handshake and session rules (msgr1-protocol.md
// §3, §6.3; this implementation's quirk fixes where it departs from Ceph), checked on the
// bytes the simulated wire carries. It is fed the elements a wire.Walker finds in each
// direction of each TCP connection (Written) and how far each reader has read (Read), and
// keeps what it needs of every session (a pair of messenger incarnations): the connect_seq
// and global_seq each side must send next, and the highest message seq each side has read.
// It never asks a messenger and never calls msgr/proto: the rules below are restated from the
// specification, so that code wrong the same way on both ends still fails them.

// Conformance invariant names.
const (
	InvGlobalSeq      = "global-seq"           // a connect's global_seq did not grow as required
	InvConnectSeq     = "connect-seq"          // a connect's connect_seq is not the session's
	InvOpenConnectSeq = "open-connect-seq"     // READY/SEQ did not carry the connect's connect_seq + 1
	InvWaitWinner     = "wait-winner"          // WAIT answered by the race's loser
	InvReadyOrSeq     = "ready-or-seq"         // READY vs SEQ not as the connect's features require
	InvReplaceRetry   = "replace-retry-global" // a lossless session reopened without RETRY_GLOBAL
	InvSeqExchange    = "seq-exchange"         // the SEQ exchange claimed more than was read
	InvMsgSeq         = "msg-seq"              // message seqs on a connection skipped or repeated
	InvAckRegress     = "ack-regress"          // an ACK went backwards
	InvEventOrder     = "event-order"          // a connection event after the connection's reset
	InvSpuriousReset  = "spurious-reset"       // a lossless session reset with no cause
)

func init() {
	for name, doc := range map[string]string{ //lint:ordered (each key set independently)
		InvGlobalSeq:      "a messenger incarnation's connects to one peer carry strictly growing global_seqs from one TCP connection to the next; on one connection a resent connect keeps its global_seq, except after RETRY_GLOBAL, when it exceeds the reply's (§3.1, §3.3)",
		InvConnectSeq:     "a connect carries the connector's session connect_seq: never raised by a fault while connecting (PR #25343): only a fault after the session opened or while accepting (a replace) raises it, by one each (§6.3 steps 6, 7, 8); after RETRY_SESSION exactly the reply's, after RESETSESSION 0; 0 (a new session) is always allowed; an acceptor that read a connect with connect_seq 0 (a peer's reset, rule 8e) may have reset its session and go below its old connect_seq",
		InvOpenConnectSeq: "a READY or SEQ reply carries the answered connect's connect_seq + 1 (§3.5 open(); the connector asserts it)",
		InvWaitWinner:     "only the race winner answers WAIT: an acceptor whose own address is below the connector's (§3.4; also for quirk Q11's WAIT)",
		InvReadyOrSeq:     "the opening reply is SEQ only to a connect that advertised RECONNECT_SEQ, and READY to such a connect only for a new session (connect_seq 0: a peer's hard reset, §3.5)",
		InvReplaceRetry:   "a lossless session reopened for a connect with connect_seq > 0 (a replace) opens only after a RETRY_GLOBAL on the same connection (§3.5)",
		InvSeqExchange:    "the in_seq a side sends in the SEQ exchange is at most the highest message seq it has read from that peer",
		InvMsgSeq:         "on one TCP connection each side's message seqs grow by exactly one, and the first after a SEQ exchange is the peer's in_seq + 1 (§3.5 discard_requeued_up_to), or, when the peer's in_seq is 0 (it kept no session state: a restart without resetcheck, quirk Q10's case), anything above it; after READY to a RECONNECT_SEQ connect (a peer's reset, rule 8e) the acceptor's first is 1 (its messages renumbered, quirk Q10)",
		InvAckRegress:     "on one TCP connection a side's ACKs never go below its previous ACK nor the in_seq it sent in the SEQ exchange",
		InvEventOrder:     "no connection event follows a connection's reset event (the connection is gone)",
		InvSpuriousReset:  "every reset of a lossless session (RESETSESSION, a reset or remote_reset event) has a cause: a crash or restart of either incarnation, a mark_down on either side, or a case msgr1 cannot avoid (half-open-accept, never-opened)",
	} {
		InvariantDoc[name] = doc
	}
	AllInvariants = append(AllInvariants, ConformanceInvariants...)
}

// ConformanceInvariants are the invariants the conformance monitor and the reset attribution
// check.
var ConformanceInvariants = []string{InvGlobalSeq, InvConnectSeq, InvOpenConnectSeq, InvWaitWinner,
	InvReadyOrSeq, InvReplaceRetry, InvSeqExchange, InvMsgSeq, InvAckRegress, InvEventOrder, InvSpuriousReset}

// endpoint is one messenger incarnation as the wire shows it: its host (a client announces no
// IP, or learns it later: the server's view of its socket names it), its nonce, and how many
// times a messenger with that nonce started before (a restarted monitor keeps its nonce).
type endpoint struct {
	ip    netip.Addr
	nonce uint32
	epoch uint32
}

// peerKey is a peer as a registry knows it: host and nonce, whatever its incarnation.
type peerKey struct {
	ip    netip.Addr
	nonce uint32
}

// epochID is what a restart is counted by: a bound messenger's host and nonce (two servers
// may draw one nonce: a fuzzer's input, a shrunk tape's zeros), and the nonce alone for a
// messenger that started without an IP (a client learns its IP from its first peer, so its
// announced address changes; a restarted monitor keeps its host and nonce).
type epochID struct {
	ip    netip.Addr // zero: not bound to an IP
	nonce uint32
}

// startedEpoch is the epochID a messenger that started with address my counts restarts by;
// it remembers bound messengers for epochOf.
func (s *Sessions) startedEpoch(my wire.EntityAddr) epochID {
	k := epochID{ip: my.Addr.Addr(), nonce: my.Nonce}
	if !k.ip.IsValid() || k.ip.IsUnspecified() {
		return epochID{nonce: my.Nonce}
	}
	s.bound[k] = true
	return k
}

// epochOf is how many times the messenger announcing address a had restarted before.
func (s *Sessions) epochOf(a wire.EntityAddr) uint32 {
	if k := (epochID{ip: a.Addr.Addr(), nonce: a.Nonce}); s.bound[k] {
		return s.epoch[k]
	}
	return s.epoch[epochID{nonce: a.Nonce}]
}

// sideKey names one end's view of a session: a messenger incarnation's session with the
// peer's address (its registry is keyed by address, so a peer that restarts with its nonce
// continues that view: its first connect then meets the old session).
type sideKey struct {
	me   endpoint
	peer peerKey
}

// side is what the monitor knows of one end of a session.
type side struct {
	cs       uint32 // the connect_seq it must send next (before the +1 of an opened session)
	opened   bool   // the session opened at this end since its last connect
	accepted bool   // this end read or answered a connect (as acceptor) since its last connect
	acceptCS uint32 // the highest connect_seq + 1 of the connects it read as acceptor since then
	bumps    uint32 // opens, and connects read as acceptor, since then: each allows one fault's +1
	// mayReset: it read a connect with connect_seq 0 as acceptor since its last connect. A
	// peer that restarted (rule 8e) or lost its session makes the acceptor reset its own
	// session and reopen it at connect_seq 1, so its next connect may be below cs (default
	// workload, seed 2044: 5 before the peer restarted, then 1, and 2 after a fault).
	mayReset bool
	// mayForget: as acceptor it answered SEQ to a reconnect (connect_seq > 0) and never read
	// the connector's in_seq. A connection that opened for a peer's reconnect with no session
	// of its own forgets that session when the exchange is cut, and connects next with
	// connect_seq 0 (quirk Q16), or 1 after a replace and a fault; the wire does not show
	// whether the session was its own, so any lower connect_seq is allowed then.
	mayForget bool
	gs        uint32 // the global_seq of its last connect to the peer
	gsSet     bool
	readMax   uint64 // the highest message seq it has read from the peer
	openConn  uint64 // the connection its session last opened on
}

// readMark is something a reader takes in once it has read up to end.
type readMark struct {
	end   uint64
	kind  uint8
	reply wire.ConnectReply
	seq   uint64
}

const (
	markReply   uint8 = iota + 1 // a connect reply (RETRY_SESSION, RESETSESSION)
	markOpen                     // the end of an opening reply (READY, or SEQ's in_seq)
	markMsg                      // a whole message
	markConnect                  // a connect message (the acceptor may open with its connect_seq + 1)
	markSeqIn                    // the connector's in_seq of a SEQ exchange
	markOpenTag                  // the opening reply itself (SEQ: the in_seq still to come)
)

// wconn is one TCP connection: dir 0 is the client's stream (c2s), dir 1 the server's.
type wconn struct {
	id         uint64
	addrs      [2]int // addresses walked per direction
	addr       [2]wire.EntityAddr
	seen       wire.EntityAddr // the client's socket address, as the server saw it
	end        [2]endpoint
	known      [2]bool
	side       [2]*side // the client's and the server's view of the session (nil until both addresses are known)
	connects   int
	connectEnd uint64 // where the last connect (and its authorizer) ends
	last       wire.Connect
	reply      wire.ConnectReply
	replied    bool
	retryGS    bool // a RETRY_GLOBAL was written on this connection
	opening    wire.ConnectReply
	seqSent    [2]uint64
	seqSet     [2]bool
	msgSeq     [2]uint64
	msgSet     [2]bool
	ack        [2]uint64
	ackSet     [2]bool
	marks      [2][]readMark // by the direction whose bytes are read
	lossyOpen  bool
}

// Sessions is the conformance monitor and the reset attribution of one run (attrib.go).
type Sessions struct {
	k     *Checker
	epoch map[epochID]uint32 // restarts before, by messenger (startedEpoch)
	bound map[epochID]bool   // messengers that started with an IP
	// conns are the connections seen, by id: simnet numbers a run's connections from 1 in
	// order, so most are in a slice (a map lookup at every read and written element was a
	// few percent of a run); ids from maxDenseConn on are in far.
	conns  []*wconn
	far    map[uint64]*wconn
	sides  map[sideKey]*side
	lic    map[noncePair]*license
	known  map[uint32][]noncePair
	causes map[string]int
	events map[EventConn]*eventState
	// halfOpen: per session, the connections on which an acceptor read a connect and may
	// have opened the session, while the connector has not opened it (attrib.go,
	// CauseHalfOpen).
	halfOpen map[noncePair][]halfConn
	// resetsTo: per messenger (to) and peer (from), the causes of the RESETSESSIONs written to
	// it and not yet followed by its remote_reset, oldest first (attrib.go, Reset).
	resetsTo map[dirPair][]string
	// resetcheck tells whether the messenger with a nonce has resetcheck in its policy for
	// peers of a type (SetResetcheck; nil: it may have).
	resetcheck func(nonce uint32, peer wire.EntityType) bool
	steps      map[EventConn]connSteps // accepted connections that opened no session yet (accept-dial)
	now        func() int64
	cov        Counter
	tally      tally // evaluations not yet given to cov (Checker.FlushCounts)
}

// NewSessions returns the monitor of a run whose violations go to k, stamped with now().
//
// A checker that was Reset hands the monitor of its previous run to this one: its maps,
// emptied (Causes is a new map: the previous run's result may hold the old one).
func NewSessions(k *Checker, now func() int64, cov Counter) *Sessions {
	if s := k.spare.sessions; s != nil {
		k.spare.sessions = nil
		clear(s.epoch)
		clear(s.bound)
		clear(s.conns)
		clear(s.far)
		clear(s.sides)
		clear(s.lic)
		clear(s.known)
		clear(s.events)
		clear(s.halfOpen)
		clear(s.resetsTo)
		clear(s.steps)
		*s = Sessions{k: k, now: now, cov: cov, epoch: s.epoch, bound: s.bound, conns: s.conns[:0], far: s.far, sides: s.sides,
			lic: s.lic, known: s.known, causes: map[string]int{}, events: s.events, halfOpen: s.halfOpen,
			resetsTo: s.resetsTo, steps: s.steps}
		k.sessions = s
		return s
	}
	s := &Sessions{k: k, now: now, cov: cov, epoch: map[epochID]uint32{}, bound: map[epochID]bool{}, far: map[uint64]*wconn{},
		sides: map[sideKey]*side{}, lic: map[noncePair]*license{}, known: map[uint32][]noncePair{},
		causes: map[string]int{}, events: map[EventConn]*eventState{}, halfOpen: map[noncePair][]halfConn{},
		resetsTo: map[dirPair][]string{}, steps: map[EventConn]connSteps{}}
	k.sessions = s
	return s
}

// maxDenseConn bounds the connection ids kept in Sessions.conns.
const maxDenseConn = 1 << 16

// conn returns the connection with id, or nil if not seen.
func (s *Sessions) conn(id uint64) *wconn {
	if id < uint64(len(s.conns)) {
		return s.conns[id]
	}
	if id < maxDenseConn {
		return nil
	}
	return s.far[id]
}

// setConn records the connection with id.
func (s *Sessions) setConn(id uint64, w *wconn) {
	if id >= maxDenseConn {
		s.far[id] = w
		return
	}
	if id >= uint64(cap(s.conns)) { // one allocation for a run's first connections
		s.conns = append(make([]*wconn, 0, max(16, 2*id)), s.conns...)
	}
	for id >= uint64(len(s.conns)) {
		s.conns = append(s.conns, nil)
	}
	s.conns[id] = w
}

func (s *Sessions) violate(name, format string, args ...any) {
	s.k.violate(name, s.now(), format, args...)
}

// count tallies one evaluation of a tallied invariant (Checker.FlushCounts gives them to cov).
func (s *Sessions) count(id tallyID) {
	if s.cov != nil {
		s.tally.add(id)
	}
}

func (s *Sessions) evaluated(name string) {
	if s.cov != nil {
		s.cov.Evaluated(name, 1)
	}
}

// Written takes an element walked on connection conn's stream in direction dir (0: the
// client's, 1: the server's).
func (s *Sessions) Written(conn uint64, dir int, e *wire.Element) {
	w := s.conn(conn)
	if w == nil {
		w = &wconn{id: conn}
		s.setConn(conn, w)
	}
	switch e.Kind {
	case wire.ElemAddr:
		s.addr(w, dir, e)
	case wire.ElemConnect:
		if w.side[0] != nil {
			w.connectEnd = e.End() + uint64(e.Connect.AuthorizerLen)
			s.connect(w, &e.Connect)
		}
	case wire.ElemReply:
		if w.side[0] != nil {
			s.replyWritten(w, e)
		}
	case wire.ElemSeq:
		if w.side[0] != nil {
			s.seqWritten(w, dir, e)
		}
	case wire.ElemHeader:
		if w.side[0] != nil {
			s.header(w, dir, e)
		}
	}
}

// addr notes a sender's own address (the first address of each direction).
func (s *Sessions) addr(w *wconn, dir int, e *wire.Element) {
	w.addrs[dir]++
	a, err := wire.DecodeLegacyAddr(e.Bytes)
	if err != nil {
		return
	}
	switch {
	case dir == 1 && w.addrs[dir] == 2:
		w.seen = a
		return
	case w.addrs[dir] != 1:
		return
	}
	w.addr[dir], w.known[dir] = a, true
	w.end[dir] = endpoint{ip: a.Addr.Addr(), nonce: a.Nonce, epoch: s.epochOf(a)}
	if w.known[0] && w.known[1] {
		w.end[0].ip = w.seen.Addr.Addr() // the client's host, whatever it announced
		w.side[0] = s.side(sideKey{w.end[0], peerKey{w.end[1].ip, w.end[1].nonce}})
		w.side[1] = s.side(sideKey{w.end[1], peerKey{w.end[0].ip, w.end[0].nonce}})
		s.knowPair(w.end[0].nonce, w.end[1].nonce)
	}
}

func (s *Sessions) side(k sideKey) *side {
	sd := s.sides[k]
	if sd == nil {
		sd = &side{}
		s.sides[k] = sd
	}
	return sd
}

// connect checks a connect message against the connector's session (§3.1, §3.3, §6.3).
func (s *Sessions) connect(w *wconn, c *wire.Connect) {
	me := w.side[0]
	s.evaluated(InvConnectSeq)
	s.evaluated(InvGlobalSeq)
	if w.connects == 0 {
		s.firstConnect(w, me, c)
	} else {
		s.retryConnect(w, c)
	}
	me.cs, me.opened, me.accepted, me.acceptCS, me.bumps = c.ConnectSeq, false, false, 0, 0
	me.mayReset, me.mayForget = false, false
	me.gs, me.gsSet = c.GlobalSeq, true
	w.marks[0] = append(w.marks[0], readMark{end: w.connectEnd, kind: markConnect, seq: uint64(c.ConnectSeq)})
	w.last = *c
	w.connects++
	w.replied = false
}

// firstConnect checks the first connect on a new connection: a reconnect of the session.
func (s *Sessions) firstConnect(w *wconn, me *side, c *wire.Connect) {
	if me.gsSet && c.GlobalSeq <= me.gs {
		s.violate(InvGlobalSeq, "conn %d: connect with global_seq %d after %d on an earlier connection to the same peer",
			w.id, c.GlobalSeq, me.gs)
	}
	cs := c.ConnectSeq
	ok := cs == 0 || ((cs >= me.cs || me.mayReset || me.mayForget) && cs <= max(me.cs, me.acceptCS)+me.bumps)
	if !ok {
		how := "the session neither opened nor accepted since its connect_seq " + itoa(uint64(me.cs))
		if me.bumps > 0 {
			how = "its connect_seq was " + itoa(uint64(me.cs)) + ", and it opened or accepted only " + itoa(uint64(me.bumps)) + " times since"
		}
		s.violate(InvConnectSeq, "conn %d: %v reconnected to %v with connect_seq %d, but %s",
			w.id, w.addr[0], w.addr[1], c.ConnectSeq, how)
	}
}

// retryConnect checks a connect resent on the same connection after a reply (§3.1).
func (s *Sessions) retryConnect(w *wconn, c *wire.Connect) {
	r, l := &w.reply, &w.last
	if !w.replied {
		return
	}
	wantCS, wantGS := l.ConnectSeq, l.GlobalSeq
	switch r.Tag {
	case wire.TagRetryGlobal:
		if c.GlobalSeq <= r.GlobalSeq {
			s.violate(InvGlobalSeq, "conn %d: connect after RETRY_GLOBAL(%d) carries global_seq %d", w.id, r.GlobalSeq, c.GlobalSeq)
		}
		wantGS = c.GlobalSeq
	case wire.TagRetrySession:
		wantCS = r.ConnectSeq
	case wire.TagResetSession:
		wantCS = 0
	}
	if c.GlobalSeq != wantGS {
		s.violate(InvGlobalSeq, "conn %d: connect after %v changed global_seq %d to %d", w.id, r.Tag, l.GlobalSeq, c.GlobalSeq)
	}
	if c.ConnectSeq != wantCS {
		s.violate(InvConnectSeq, "conn %d: connect after %v carries connect_seq %d, want %d", w.id, r.Tag, c.ConnectSeq, wantCS)
	}
}

// replyWritten checks a connect reply against the connect it answers (§3.2, §3.4, §3.5).
func (s *Sessions) replyWritten(w *wconn, e *wire.Element) {
	r := &e.Reply
	w.reply, w.replied = *r, true
	w.side[1].accepted = true
	// The connector acts on a reply only once its authorizer (cephx's challenge or proof) is
	// in too: a reply read up to its 26th byte and cut there changed nothing.
	end := e.End() + uint64(r.AuthorizerLen)
	switch r.Tag {
	case wire.TagReady, wire.TagSeq:
		s.opened(w, r, end)
	case wire.TagRetryGlobal:
		w.retryGS = true
	case wire.TagRetrySession:
		w.marks[1] = append(w.marks[1], readMark{end: end, kind: markReply, reply: *r})
	case wire.TagResetSession:
		w.marks[1] = append(w.marks[1], readMark{end: end, kind: markReply, reply: *r})
		s.resetSessionWritten(w)
	case wire.TagWait:
		s.evaluated(InvWaitWinner)
		if wire.Compare(w.addr[0], w.addr[1]) <= 0 {
			s.violate(InvWaitWinner, "conn %d: %v answered WAIT to %v, whose address is not above its own",
				w.id, w.addr[1], w.addr[0])
		}
	}
	if r.Tag != wire.TagReady && r.Tag != wire.TagSeq {
		s.heard(w, false) // answered without opening
	}
}

// opened checks and records an opening reply (READY or SEQ) written by the acceptor.
func (s *Sessions) opened(w *wconn, r *wire.ConnectReply, end uint64) {
	l := &w.last
	s.evaluated(InvOpenConnectSeq)
	s.evaluated(InvReadyOrSeq)
	if r.ConnectSeq != l.ConnectSeq+1 {
		s.violate(InvOpenConnectSeq, "conn %d: %v with connect_seq %d to a connect with %d", w.id, r.Tag, r.ConnectSeq, l.ConnectSeq)
	}
	rs := l.Features&wire.FeatureReconnectSeq != 0
	if r.Tag == wire.TagSeq && !rs {
		s.violate(InvReadyOrSeq, "conn %d: SEQ to a connect without RECONNECT_SEQ", w.id)
	}
	if r.Tag == wire.TagReady && rs && l.ConnectSeq != 0 {
		s.violate(InvReadyOrSeq, "conn %d: READY to a RECONNECT_SEQ connect with connect_seq %d (not a new session)", w.id, l.ConnectSeq)
	}
	w.lossyOpen = r.Flags&wire.ConnectLossy != 0
	if !w.lossyOpen && l.ConnectSeq > 0 {
		s.evaluated(InvReplaceRetry)
		if !w.retryGS {
			s.violate(InvReplaceRetry, "conn %d: %v reopened a lossless session (connect_seq %d) with no RETRY_GLOBAL first",
				w.id, r.Tag, l.ConnectSeq)
		}
	}
	acc := w.side[1]
	acc.cs, acc.opened, acc.openConn = r.ConnectSeq, true, w.id
	acc.bumps++
	acc.mayForget = acc.mayForget || r.Tag == wire.TagSeq && l.ConnectSeq > 0
	w.opening = *r
	if r.Tag == wire.TagReady {
		w.marks[1] = append(w.marks[1], readMark{end: end, kind: markOpen, reply: *r})
	} else {
		w.marks[1] = append(w.marks[1], readMark{end: end, kind: markOpenTag})
	}
}

// seqWritten checks the SEQ exchange's in_seq and ACKs written by direction dir.
func (s *Sessions) seqWritten(w *wconn, dir int, e *wire.Element) {
	v := leUint64(e.Bytes)
	me := w.side[dir]
	switch e.Frame {
	case wire.FrameSeq:
		s.count(tallySeqExchange)
		if v > me.readMax {
			s.violate(InvSeqExchange, "conn %d: %s sent in_seq %d in the SEQ exchange, but read messages only up to seq %d",
				w.id, dirName(dir), v, me.readMax)
		}
		w.seqSent[dir], w.seqSet[dir] = v, true
		if dir == 1 {
			w.marks[1] = append(w.marks[1], readMark{end: e.End(), kind: markOpen, reply: w.opening})
		} else {
			w.marks[0] = append(w.marks[0], readMark{end: e.End(), kind: markSeqIn})
		}
	case wire.FrameAck:
		s.count(tallyAckRegress)
		if (w.ackSet[dir] && v < w.ack[dir]) || (w.seqSet[dir] && v < w.seqSent[dir]) {
			s.violate(InvAckRegress, "conn %d: %s sent ACK %d after ACK %d / in_seq %d", w.id, dirName(dir), v, w.ack[dir], w.seqSent[dir])
		}
		w.ack[dir], w.ackSet[dir] = v, true
	}
}

// header checks a message's seq and notes it for the reader.
func (s *Sessions) header(w *wconn, dir int, e *wire.Element) {
	seq := e.Header.Seq
	s.count(tallyMsgSeq)
	switch {
	case w.msgSet[dir] && seq != w.msgSeq[dir]+1:
		s.violate(InvMsgSeq, "conn %d: %s sent message seq %d after %d", w.id, dirName(dir), seq, w.msgSeq[dir])
	case !w.msgSet[dir] && w.seqSet[1-dir] && seq != w.seqSent[1-dir]+1 && (seq <= w.seqSent[1-dir] || w.seqSent[1-dir] != 0):
		s.violate(InvMsgSeq, "conn %d: %s's first message after the SEQ exchange has seq %d, the peer had read up to %d",
			w.id, dirName(dir), seq, w.seqSent[1-dir])
	case !w.msgSet[dir] && dir == 1 && w.restartOpen() && seq != 1:
		s.violate(InvMsgSeq, "conn %d: the server's first message after READY to a RECONNECT_SEQ connect (a restarted peer's new session) has seq %d, not 1",
			w.id, seq)
	}
	w.msgSeq[dir], w.msgSet[dir] = seq, true
	w.marks[dir] = append(w.marks[dir], readMark{end: e.Msg.End, kind: markMsg, seq: seq})
}

// restartOpen reports whether the session on w opened with READY to a connect that
// advertised RECONNECT_SEQ: a new session for a peer that reset (connect_seq 0, rule 8e; a
// new session for an unknown peer is answered SEQ), where the acceptor numbers its messages
// from 1 again and the peer expects exactly that (quirk Q10: Ceph keeps out_seq when
// messages were requeued; this implementation renumbers them).
func (w *wconn) restartOpen() bool {
	return w.opening.Tag == wire.TagReady && w.last.Features&wire.FeatureReconnectSeq != 0
}

// Read takes that the reader of connection conn's stream in direction dir (0: the client's,
// read by the server) has read it up to offset to.
func (s *Sessions) Read(conn uint64, dir int, to uint64) {
	w := s.conn(conn)
	if w == nil || w.side[0] == nil || len(w.marks[dir]) == 0 {
		return
	}
	reader := w.side[1-dir]
	i := 0
	for ; i < len(w.marks[dir]) && w.marks[dir][i].end <= to; i++ {
		m := &w.marks[dir][i]
		switch m.kind {
		case markMsg:
			reader.readMax = max(reader.readMax, m.seq)
		case markConnect:
			// The acceptor may open the session with connect_seq + 1 even when its reply
			// never reaches the wire, and fault while accepting (§6.3 step 8).
			reader.accepted, reader.acceptCS = true, max(reader.acceptCS, uint32(m.seq)+1)
			reader.bumps++
			reader.mayReset = reader.mayReset || m.seq == 0
			s.mayOpen(w)
		case markSeqIn:
			reader.mayForget = false
		case markOpenTag:
			s.told(w)
		case markOpen:
			reader.cs, reader.opened, reader.openConn = m.reply.ConnectSeq, true, w.id
			s.heard(w, true)
			reader.bumps++
		case markReply:
			if m.reply.Tag == wire.TagRetrySession {
				reader.cs = m.reply.ConnectSeq
			} else {
				reader.cs, reader.opened = 0, false
			}
		}
	}
	if i > 0 { // (most reads reach no new mark: no copy)
		w.marks[dir] = append(w.marks[dir][:0], w.marks[dir][i:]...)
	}
}

// halfConn is a connection of a session on which the acceptor (nonce opener) read a
// connect and may have opened the session while the connector has not opened it; told: the
// connector read the acceptor's opening reply (SEQ, its in_seq not yet), so it knows that the
// acceptor opened the session from its connect.
type halfConn struct {
	conn   uint64
	opener uint32
	told   bool
}

// half returns the half-open entry of connection w, or nil.
func (s *Sessions) half(w *wconn) *halfConn {
	hs := s.halfOpen[makeNoncePair(w.end[0].nonce, w.end[1].nonce)]
	for i := range hs {
		if hs[i].conn == w.id {
			return &hs[i]
		}
	}
	return nil
}

// mayOpen notes that the acceptor on w read a connect: it may open the session unheard.
func (s *Sessions) mayOpen(w *wconn) {
	if s.half(w) == nil {
		p := makeNoncePair(w.end[0].nonce, w.end[1].nonce)
		s.halfOpen[p] = append(s.halfOpen[p], halfConn{conn: w.id, opener: w.end[1].nonce})
	}
}

// told notes that the connector on w read the acceptor's opening reply (not yet all of it).
func (s *Sessions) told(w *wconn) {
	if h := s.half(w); h != nil {
		h.told = true
	}
}

// heard notes that the connector on w heard how its connect was answered: answered without
// opening, its entry goes; when the session opened at both ends, every connect read before on
// the session's connections is answered, and all its entries go.
func (s *Sessions) heard(w *wconn, opened bool) {
	p := makeNoncePair(w.end[0].nonce, w.end[1].nonce)
	hs := s.halfOpen[p]
	if opened {
		s.halfOpen[p] = hs[:0]
		return
	}
	for i := range hs {
		if hs[i].conn == w.id {
			s.halfOpen[p] = append(hs[:i], hs[i+1:]...)
			return
		}
	}
}

func dirName(dir int) string {
	if dir == 0 {
		return "the client"
	}
	return "the server"
}

func leUint64(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; v > 0; v /= 10 {
		i--
		b[i] = byte('0' + v%10)
	}
	return string(b[i:])
}
