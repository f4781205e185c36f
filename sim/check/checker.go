package check

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/msgrsim/msgrsim/msgr"
)

// Violation is a broken invariant: its name, for grouping failures, and what happened.
type Violation struct {
	Name   string `json:"name"`
	Detail string `json:"detail"`
	AtNs   int64  `json:"at_ns"`
}

func (v Violation) String() string { return v.Name + ": " + v.Detail }

// Invariant names.
const (
	InvLosslessOrder   = "lossless-order"     // a lossless stream dispatched out of send order
	InvLosslessLoss    = "lossless-loss"      // a lossless message lost without a reset to account for it
	InvDuplicate       = "duplicate-delivery" // a message dispatched twice to one incarnation
	InvLossyOrder      = "lossy-order"        // a lossy stream dispatched out of send order
	InvUnknownMessage  = "unknown-message"    // a dispatched message nobody sent
	InvCorruptDelivery = "corrupt-delivery"   // a message dispatched with content that differs from what was sent
	InvNoProgress      = "no-progress"        // the safety phase did not finish within its bounds
	InvLiveness        = "liveness-timeout"   // after healing, lossless messages were still undelivered
	InvShutdownStalled = "shutdown-stalled"   // a messenger did not finish shutting down
	InvLossyAck        = "lossy-ack"          // an ACK frame on a lossy session (Ceph PR #13700)
	InvAckUnreceived   = "ack-unreceived"     // an acknowledgement covered a message the peer never read
	InvThrottleNeg     = "throttle-negative"  // a throttle released more than it held
	InvThrottleLeak    = "throttle-leak"      // throttle units still held once a messenger shut down
	InvQueueLeftover   = "queue-leftover"     // a shut-down messenger's dispatch queue is not empty
	InvRegistryClosed  = "registry-closed"    // a closed connection is still registered for its address
	InvRegistryDup     = "registry-duplicate" // two live connections registered for one address
	InvPanic           = "panic"              // the code under test panicked
	InvSyntheticFIFO   = "synthetic-fifo"     // SyntheticWorkload: a PONG overtook an earlier PING's (Ceph's conn_sent check)
	InvSyntheticData   = "synthetic-payload"  // SyntheticWorkload: a PONG's payload differs from its PING's
	InvSyntheticPath   = "synthetic-dispatch" // SyntheticWorkload: a message took the normal dispatch path (Ceph aborts)

	// OutcomeBudget is not an invariant but how a run past its budget (steps, wall time) ends:
	// it is reported like a violation, so that sweeps count it and tapes replay it.
	OutcomeBudget = "budget-exceeded"
)

// InvariantDoc explains what each invariant requires, for reports and replays.
var InvariantDoc = map[string]string{
	InvLosslessOrder:   "a lossless session dispatches each sender's messages in the order they were sent",
	InvLosslessLoss:    "every message sent on a lossless session is dispatched, unless the sender heard of a session reset (reset or remote_reset) attributed to a cause (spurious-reset) after sending it, a crash took either end, or the messenger reported dropping it",
	InvDuplicate:       "no message is dispatched twice to one incarnation of a receiver, except as redelivery-after-mark-down (the sender never heard it acknowledged, the receiver marked its lossless session without resetcheck down after the previous dispatch: msgr1 resends it to the next session)",
	InvLossyOrder:      "a lossy session dispatches at most once, in send order",
	InvUnknownMessage:  "every dispatched message was sent by someone",
	InvCorruptDelivery: "a dispatched message carries exactly the bytes that were sent: corruption must be caught by a crc and end the connection",
	InvNoProgress:      "the safety phase issues every send within its bounds of virtual time and steps",
	InvLiveness:        "once every fault is healed, every queued lossless message arrives and every session settles within the liveness bound",
	InvShutdownStalled: "every messenger finishes shutting down",
	InvLossyAck:        "a lossy session never carries an ACK frame (Ceph PR #13700)",
	InvAckUnreceived:   "an acknowledgement (an ACK frame, or the in_seq of a SEQ exchange) never covers a message the peer has not read",
	InvThrottleNeg:     "no throttle (dispatch, or a policy's messages and bytes) ever holds fewer than zero units",
	InvThrottleLeak:    "once a messenger has shut down, every one of its throttles is back to zero",
	InvQueueLeftover:   "once a messenger has shut down, its dispatch queue is empty",
	InvRegistryClosed:  "no closed connection stays registered for its peer's address",
	InvRegistryDup:     "no two live connections of a messenger are registered for one address",
	InvPanic:           "the code under test never panics",
	InvSyntheticFIFO:   "SyntheticWorkload: on each connection, PONGs come back in the order their PINGs went out (Ceph's conn_sent check)",
	InvSyntheticData:   "SyntheticWorkload: a PONG carries exactly its PING's payload (Ceph's contents_equal check)",
	InvSyntheticPath:   "SyntheticWorkload: every message is fast-dispatched (Ceph's ms_dispatch aborts)",
	OutcomeBudget:      "not an invariant: the run went past its budget of steps (-max-steps, deterministic) or wall time (-max-wall, not deterministic) and was stopped there, unfinished",
}

// AllInvariants lists every invariant name.
var AllInvariants = []string{InvLosslessOrder, InvLosslessLoss, InvDuplicate, InvLossyOrder, InvUnknownMessage,
	InvCorruptDelivery, InvNoProgress, InvLiveness, InvShutdownStalled, InvLossyAck, InvAckUnreceived,
	InvThrottleNeg, InvThrottleLeak, InvQueueLeftover, InvRegistryClosed, InvRegistryDup, InvPanic,
	InvSyntheticFIFO, InvSyntheticData, InvSyntheticPath}

// streamKey names the messages one node sends to another (across incarnations).
type streamKey struct{ from, to string }

func (k streamKey) String() string { return k.from + "->" + k.to }

// orderKey is what dispatch order is checked per: a stream, the sender's connection (the
// session object; 0 when the caller does not distinguish connections) and the priority.
type orderKey struct {
	stream streamKey
	conn   uint64
	prio   uint16
}

// connKey names one connection of a sender node.
type connKey struct {
	node string
	conn uint64
}

type stream struct {
	lossless  bool
	sent      []uint64 // message ids in send order
	forgiven  int      // sent[:forgiven] may be lost: a reset was reported after them
	abandoned int      // sent[:abandoned] were held by a sender that crashed (InvMessageFate)
	delivered int
	// visibleAt[i] is when a later message was dispatched while sent[i] was not: the moment a
	// loss of sent[i] became visible (0: not yet). scanned is how far that was looked at.
	visibleAt []int64
	scanned   int
}

type msgInfo struct {
	order    orderKey    // its stream, the sender's connection and priority
	s        *stream     // k.streams[key]
	ord      *orderState // k.orders[order]
	index    int         // position in the stream
	oindex   int         // position in its order key's sequence
	dropped  bool        // the messenger reported dropping it, or it went into an orphaned session
	received bool        // the receiving messenger read it in order (its ACK may cover it)
	reported bool        // the messenger reported dropping it (never queued: it must never arrive)
	got      bool        // dispatched to some receiver incarnation
	acked    bool        // the sender forgot it: its peer acknowledged it
	// ackMarks is 1 + the mark-downs of the receiver incarnation that first dispatched it
	// (seenRcv) with the sender when the sender heard the acknowledgement (0: acknowledged
	// before any dispatch). An acknowledgement heard after a mark-down that followed that
	// dispatch may be the next session's, of the copy the sender sent again (cluster seed
	// 5636), and does not rule out CaseRedelivery.
	ackMarks int
	// flushed: read before its receiver marked the session down and not dispatched then
	// (DiscardedOnMarkDown); a dispatch after it is the mark-down's flush of held messages.
	flushed bool
	// The first receiver incarnation it was dispatched to and 1 + marks[rcv, sender] at its
	// last dispatch there (Checker.seen's entry, kept here: a message is dispatched to one
	// receiver incarnation but for restarts; seen holds the others).
	seenRcv string
	seenAt  int
	// For the recorder (Histories): a lossless message not yet on a session, and the name
	// of the session it went to.
	pending bool
	session string
	// fates are the messenger's reports of what became of it (fateAcked, …: InvMessageFate);
	// twice is set by a second report.
	fates uint8
	twice bool
}

// CaseRedelivery is the one duplicate dispatch the checker excuses, msgr1's own behaviour
// after a one-sided mark_down of a lossless peer session (quirk Q10 in docs/protocol.md): the
// receiver R dispatched a message from S but S never read R's acknowledgement; R then marked
// its session with S down and reconnected with connect_seq 0; S, whose policy has no
// resetcheck (lossless_peer, lossless_peer_reuse), takes that for a peer restart (rule 8e),
// keeps its queue and sends the unacknowledged message again to R's new session, and R
// dispatches it a second time. Ceph's OSDs deduplicate such messages by tid. Excused only when
// (a) S never heard the message acknowledged, (b) R marked its session with S down (MarkedDown)
// after the previous dispatch, and (c) that session's policy has no resetcheck: with
// resetcheck (stateful_server, lossless_client) S answers RESETSESSION and discards its queue.
const CaseRedelivery = "redelivery-after-mark-down"

// markKey names a receiver incarnation's sessions with one sender node.
type markKey struct{ rcv, from string }

type seenKey struct {
	rcv string
	id  uint64
}

// orderState is what dispatch order is checked with, per order key: the messages sent with
// it so far, and each receiver incarnation's last dispatched index (oindex).
type orderState struct {
	n    int
	last []rcvLast // in the order the receivers first dispatched (a few)
	buf  [2]rcvLast
}

type rcvLast struct {
	rcv  string
	last int
}

// lastOf is rcv's last dispatched index, if it dispatched any (receivers pass the same name
// string every time, so the compare is mostly a pointer compare).
func (o *orderState) lastOf(rcv string) (*rcvLast, bool) {
	for i := range o.last {
		if o.last[i].rcv == rcv {
			return &o.last[i], true
		}
	}
	return nil, false
}

// maxViolationsPerName bounds the violations kept per invariant (a broken build at scale would
// otherwise report thousands of the same).
const maxViolationsPerName = 20

// Checker verifies delivery per stream (sender node → receiver node):
//   - nothing is dispatched twice to one incarnation of a receiver;
//   - dispatch follows send order per (stream, sender connection, priority), lossless and lossy
//     alike;
//   - every lossless message is dispatched, unless the loss is accounted to a reset the sender
//     heard of (reset or remote reset), a crash of either end, a session its peer discarded
//     (Orphan), or a drop the messenger reported — and then only messages sent before that;
//   - an acknowledgement never covers a message the receiver has not read (Acked).
type Checker struct {
	streams  map[streamKey]*stream
	msgs     msgIndex
	seen     map[seenKey]int // receiver incarnation, id → 1 + marks[rcv, sender] at its last dispatch
	marks    map[markKey]int // mark-downs without resetcheck by a receiver incarnation of its sessions with a sender
	excused  map[string]int  // duplicates excused, by case (CaseRedelivery)
	orders   map[orderKey]*orderState
	orphans  map[connKey]bool
	byConn   map[connKey]*connIDs // ids sent on each sender connection not yet forgiven (SentOn)
	keys     []streamKey          // creation order, for deterministic reports
	viol     []Violation
	violN    map[string]int
	sent     int
	deliv    int
	received int
	acked    int
	rec      *Histories          // records lossless streams for the FIFO model (nil: none)
	infos    []msgInfo           // a block msgInfos are taken from (one allocation per block)
	tampered map[uint64][]string // the fronts the tamper fault gave each message id
	tamperN  int
	sessions *Sessions                  // the session monitor made for this checker (NewSessions), if any
	lastRead map[*msgr.Connection]int64 // when each connection last read something (ReadOn)
	// last is what SentOn found last: order keys, their streams and order states, replaced
	// round robin (lastNext).
	last     [4]lastOrder
	lastNext int
	// The blocks records are taken from, kept for reuse by Reset: every block of message
	// records, streams, order states and id lists allocated, and how many the run has taken.
	spare spareBlocks
}

// lastOrder is an order key SentOn looked up, its stream and its order state.
type lastOrder struct {
	order orderKey
	s     *stream
	ord   *orderState
	ids   *connIDs // byConn's list of the order key's sender connection, once looked up
}

// connIDs are the ids sent on a sender connection and not yet forgiven.
type connIDs struct{ ids []uint64 }

// spareBlocks are a Checker's blocks of records, in the order they were allocated; a
// Checker after Reset takes them again (cleared) before allocating.
type spareBlocks struct {
	infos            [][]msgInfo
	streams          []*streamBlock
	orders           [][]orderState
	ids              [][]uint64
	rec              *Histories // the previous run's recorder (Record reuses its maps)
	sessions         *Sessions  // the previous run's session monitor (NewSessions reuses its maps)
	nInfos, nStreams int
	nOrders, nIDs    int
	ords             []orderState // the block order states are taken from
}

// NewChecker returns an empty checker.
func NewChecker() *Checker {
	return &Checker{streams: make(map[streamKey]*stream),
		seen: make(map[seenKey]int), marks: make(map[markKey]int), excused: make(map[string]int), orders: make(map[orderKey]*orderState),
		orphans: make(map[connKey]bool), byConn: make(map[connKey]*connIDs), violN: make(map[string]int)}
}

// streamCap is the capacity a stream's and a connection's lists of message ids start with
// (a run sends tens of messages per stream: growing from 1 would take several allocations).
const streamCap = 64

// streamBlock is a stream allocated with room for its first streamCap messages (one
// allocation instead of three).
type streamBlock struct {
	stream
	sent      [streamCap]uint64
	visibleAt [streamCap]int64
}

// msgIndex finds a message's record by id. A run numbers its messages 1, 2, 3, ... (dense),
// so ids up to a bound past the highest seen live in a slice indexed by id, others in a map.
type msgIndex struct {
	dense  []*msgInfo
	sparse map[uint64]*msgInfo
}

// maxDenseGap bounds how far past the slice's end an id may be to extend it.
const maxDenseGap = 4096

func (x *msgIndex) put(id uint64, info *msgInfo) {
	if id < uint64(len(x.dense))+maxDenseGap {
		if x.dense == nil {
			x.dense = make([]*msgInfo, 0, 512)
		}
		for uint64(len(x.dense)) <= id {
			x.dense = append(x.dense, nil)
		}
		x.dense[id] = info
		return
	}
	if x.sparse == nil {
		x.sparse = make(map[uint64]*msgInfo)
	}
	x.sparse[id] = info
}

func (x *msgIndex) get(id uint64) (*msgInfo, bool) {
	if id < uint64(len(x.dense)) {
		if info := x.dense[id]; info != nil {
			return info, true
		}
	}
	info, ok := x.sparse[id]
	return info, ok
}

// of is the record of message id (nil if none).
func (x *msgIndex) of(id uint64) *msgInfo {
	info, _ := x.get(id)
	return info
}

// Reset empties k for a new run, as NewChecker would make it, keeping its maps and blocks
// of records for reuse (a simulator runs hundreds of short runs per second, and each
// allocated its checker's records anew). Nothing taken from k before (Violations, Excused,
// ViolationCounts, the Histories of Record) may be used after it, except that the slices and
// maps those returned are not reused: they stay as they were.
func (k *Checker) Reset() {
	sp := k.spare
	sp.trim()
	// The blocks of message records and order states, and the id index, are not cleared:
	// every record and state is written whole when taken (a composite literal appended), and
	// the index only reads the entries this run appended, so nothing of an earlier run can be
	// read; what their stale pointers keep alive is the kept blocks themselves and a few
	// names. (Clearing them stored every pointer again through a bulk write barrier: 1.6% of
	// a FuzzSim execution.) The small pointer-free ones are cleared.
	for _, b := range sp.streams[:sp.nStreams] {
		*b = streamBlock{}
	}
	for _, b := range sp.ids[:sp.nIDs] {
		clear(b[:cap(b)])
	}
	if cap(k.msgs.dense) > maxSpareDense {
		k.msgs.dense = nil
	}
	clear(k.keys)
	sp.nInfos, sp.nStreams, sp.nOrders, sp.nIDs, sp.ords = 0, 0, 0, 0, nil
	if k.rec != nil {
		sp.rec = k.rec
	}
	if k.sessions != nil {
		sp.sessions = k.sessions
	}
	streams, seen, marks, orders, orphans, byConn := k.streams, k.seen, k.marks, k.orders, k.orphans, k.byConn
	lastRead := k.lastRead
	clear(lastRead)
	clear(streams)
	clear(seen)
	clear(marks)
	clear(orders)
	clear(orphans)
	clear(byConn)
	*k = Checker{streams: streams, seen: seen, marks: marks, excused: make(map[string]int), orders: orders,
		orphans: orphans, byConn: byConn, violN: make(map[string]int), keys: k.keys[:0], lastRead: lastRead,
		msgs: msgIndex{dense: k.msgs.dense[:0]}, spare: sp}
}

// Bounds of what a Checker keeps for reuse across Reset: a long run's thousands of records
// are left to the garbage collector rather than kept alive for the short runs after it.
const (
	maxSpareInfos   = 4096 // message records
	maxSpareStreams = 64
	maxSpareOrders  = 16 // blocks of 16 order states
	maxSpareIDs     = 64
	maxSpareDense   = 1 << 16
)

// trim drops the blocks past the bounds (those taken by the run, nInfos etc., past them too).
func (sp *spareBlocks) trim() {
	n, keep := 0, 0
	for keep < len(sp.infos) && n+cap(sp.infos[keep]) <= maxSpareInfos {
		n += cap(sp.infos[keep])
		keep++
	}
	clear(sp.infos[keep:])
	sp.infos, sp.nInfos = sp.infos[:keep], min(sp.nInfos, keep)
	if len(sp.streams) > maxSpareStreams {
		clear(sp.streams[maxSpareStreams:])
		sp.streams, sp.nStreams = sp.streams[:maxSpareStreams], min(sp.nStreams, maxSpareStreams)
	}
	if len(sp.orders) > maxSpareOrders {
		clear(sp.orders[maxSpareOrders:])
		sp.orders, sp.nOrders = sp.orders[:maxSpareOrders], min(sp.nOrders, maxSpareOrders)
	}
	if len(sp.ids) > maxSpareIDs {
		clear(sp.ids[maxSpareIDs:])
		sp.ids, sp.nIDs = sp.ids[:maxSpareIDs], min(sp.nIDs, maxSpareIDs)
	}
}

// infoBlock is a block for the next message records: a spare one, or a new one of n.
func (k *Checker) infoBlock(n int) []msgInfo {
	sp := &k.spare
	if sp.nInfos < len(sp.infos) {
		b := sp.infos[sp.nInfos]
		sp.nInfos++
		return b[:0]
	}
	b := make([]msgInfo, 0, n)
	sp.infos = append(sp.infos, b)
	sp.nInfos++
	return b
}

// newStream is a stream with room for its first streamCap messages: a spare block or a new one.
func (k *Checker) newStream() *streamBlock {
	sp := &k.spare
	if sp.nStreams < len(sp.streams) {
		sp.nStreams++
		return sp.streams[sp.nStreams-1]
	}
	b := &streamBlock{}
	sp.streams = append(sp.streams, b)
	sp.nStreams++
	return b
}

// newOrder is an empty order state, from a block.
func (k *Checker) newOrder() *orderState {
	sp := &k.spare
	if len(sp.ords) == cap(sp.ords) {
		if sp.nOrders < len(sp.orders) {
			sp.ords = sp.orders[sp.nOrders][:0]
		} else {
			sp.ords = make([]orderState, 0, 16)
			sp.orders = append(sp.orders, sp.ords)
		}
		sp.nOrders++
	}
	sp.ords = append(sp.ords, orderState{})
	o := &sp.ords[len(sp.ords)-1]
	o.last = o.buf[:0]
	return o
}

// newIDs is an empty list of message ids with room for streamCap: a spare one or a new one.
func (k *Checker) newIDs() []uint64 {
	sp := &k.spare
	if sp.nIDs < len(sp.ids) {
		sp.nIDs++
		return sp.ids[sp.nIDs-1][:0]
	}
	b := make([]uint64, 0, streamCap)
	sp.ids = append(sp.ids, b)
	sp.nIDs++
	return b
}

func (k *Checker) stream(key streamKey, lossless bool) *stream {
	s := k.streams[key]
	if s == nil {
		b := k.newStream()
		b.stream = stream{lossless: lossless}
		s = &b.stream
		s.sent, s.visibleAt = b.sent[:0], b.visibleAt[:0]
		k.streams[key] = s
		k.keys = append(k.keys, key)
	}
	return s
}

// Sent records that message id was queued from one node to another.
func (k *Checker) Sent(from, to string, id uint64, lossless bool) {
	k.SentOn(from, to, 0, 0, id, lossless)
}

// SessionID names a sender's connection across its restarts, for SentOn: connection ids
// start again at 1 in every incarnation of a messenger, and a message of an earlier
// incarnation's session is not ordered with the messages of a later one (the receiver may
// still dispatch it after them: a connection of its own, with its own dispatch delays).
func SessionID(incarnation int, conn uint64) uint64 { return uint64(incarnation)<<40 | conn }

// SentOn records that message id was queued from one node to another on the sender's
// connection conn at priority prio: dispatch order is checked per (stream, conn, prio).
func (k *Checker) SentOn(from, to string, conn uint64, prio uint16, id uint64, lossless bool) {
	key := streamKey{from, to}
	ok := orderKey{stream: key, conn: conn, prio: prio}
	// Sends come in runs on a few streams, connections and priorities: the last ones found
	// are compared before the maps (node names are mostly the same strings: pointer compares).
	var l *lastOrder
	for i := range k.last {
		if x := &k.last[i]; x.s != nil && x.order == ok {
			l = x
			break
		}
	}
	if l == nil {
		s, ord := k.stream(key, lossless), k.orders[ok]
		if ord == nil {
			ord = k.newOrder()
			k.orders[ok] = ord
		}
		l = &k.last[k.lastNext]
		*l = lastOrder{order: ok, s: s, ord: ord}
		k.lastNext = (k.lastNext + 1) % len(k.last)
	}
	s, ord := l.s, l.ord
	if len(k.infos) == cap(k.infos) {
		// Blocks double from 16 up to 256 records: a short run (a fuzzed input sends a few
		// dozen messages) does not allocate and clear hundreds.
		k.infos = k.infoBlock(min(256, max(16, 2*cap(k.infos))))
	}
	k.infos = append(k.infos, msgInfo{order: ok, s: s, ord: ord, index: len(s.sent), oindex: ord.n})
	info := &k.infos[len(k.infos)-1]
	ck := connKey{from, conn}
	info.dropped = len(k.orphans) > 0 && k.orphans[ck] // (most runs orphan nothing: no hash)
	if conn != 0 && !info.dropped {
		ids := l.ids
		if ids == nil {
			if ids = k.byConn[ck]; ids == nil {
				ids = &connIDs{ids: k.newIDs()}
				k.byConn[ck] = ids
			}
			l.ids = ids
		}
		ids.ids = append(ids.ids, id)
	}
	ord.n++
	k.msgs.put(id, info)
	s.sent = append(s.sent, id)
	s.visibleAt = append(s.visibleAt, 0)
	k.sent++
	k.rec.sent(info, lossless)
}

// Received records that receiver incarnation rcv read message id in order (before dispatch):
// from now on an acknowledgement may cover it.
func (k *Checker) Received(rcv string, id uint64) {
	if info, ok := k.msgs.get(id); ok && !info.received {
		info.received = true
		k.received++
	}
}

// Acked records that the sender forgot message id because its peer acknowledged it; the peer
// must have read it.
func (k *Checker) Acked(id uint64, now int64) {
	info, ok := k.msgs.get(id)
	if !ok {
		return
	}
	k.acked++
	k.reportFate(info, fateAcked)
	info.acked = true
	if info.seenAt != 0 {
		info.ackMarks = 1 + k.markCount(markKey{info.seenRcv, info.order.stream.from})
	}
	k.rec.count(tallyAckUnreceived)
	if !info.received {
		k.violate(InvAckUnreceived, now, "stream %v: message #%d (id %d) acknowledged but never read by the peer",
			info.order.stream, info.index, id)
	}
}

// Dispatched records that message id reached a dispatcher of receiver incarnation rcv at
// virtual time now (ns); intact reports whether its content is what was sent.
func (k *Checker) Dispatched(rcv string, id uint64, intact bool, now int64) {
	info, ok := k.msgs.get(id)
	k.rec.lookedUp()
	if !ok {
		k.violate(InvUnknownMessage, now, "%s got message id %d that was never sent", rcv, id)
		return
	}
	mk := markKey{rcv, info.order.stream.from}
	prev := k.seenOf(info, rcv, id)
	if prev != 0 && k.markCount(mk) > prev-1 && k.unheard(info, rcv, prev) {
		// Excused (CaseRedelivery), and not a dispatch of the session's FIFO history: the
		// receiver's session that dequeued it is gone (see MarkedDown).
		k.rec.count(tallyDuplicate)
		if !intact {
			k.violate(InvCorruptDelivery, now, "stream %v: message id %d dispatched to %s with corrupted content", info.order.stream, id, rcv)
		}
		k.excused[CaseRedelivery]++
		k.setSeen(info, rcv, id, 1+k.markCount(mk))
		return
	}
	k.rec.dispatched(info, id, rcv, info.s.lossless)
	if !intact {
		k.violate(InvCorruptDelivery, now, "stream %v: message id %d dispatched to %s with corrupted content", info.order.stream, id, rcv)
	}
	k.rec.count(tallyDropDelivered)
	if info.reported {
		k.violate(InvDropDelivered, now, "stream %v: message #%d (id %d) dispatched to %s after the messenger reported dropping it",
			info.order.stream, info.index, id, rcv)
	}
	if prev != 0 {
		k.violate(InvDuplicate, now, "stream %v: message #%d (id %d) dispatched twice to %s", info.order.stream, info.index, id, rcv)
		return
	}
	seen := 1 + k.markCount(mk)
	if info.flushed && seen > 1 {
		// Read before the mark-down and dispatched by its flush (a stopping session
		// dispatches its held messages, as Ceph's does): a dispatch before the mark-down,
		// so the sender's resend to the next session is CaseRedelivery.
		seen--
	}
	k.setSeen(info, rcv, id, seen)
	info.got = true
	k.deliv++
	s := info.s
	s.delivered++
	if l, ok := info.ord.lastOf(rcv); ok {
		if info.oindex < l.last {
			name := InvLossyOrder
			if s.lossless {
				name = InvLosslessOrder
			}
			k.violate(name, now, "stream %v (conn %d, priority %d): %s got message #%d after #%d",
				info.order.stream, info.order.conn, info.order.prio, rcv, info.oindex, l.last)
		}
		l.last = max(l.last, info.oindex)
	} else {
		info.ord.last = append(info.ord.last, rcvLast{rcv, info.oindex})
	}
	if s.lossless {
		for ; s.scanned < info.index; s.scanned++ {
			if !k.msgs.of(s.sent[s.scanned]).got {
				s.visibleAt[s.scanned] = now
			}
		}
	}
}

// seenOf is seen[rcv, id]: 0 if rcv never had message id dispatched, else 1 + the
// mark-downs of its sessions with the sender at the last dispatch.
func (k *Checker) seenOf(info *msgInfo, rcv string, id uint64) int {
	if info.seenAt != 0 && info.seenRcv == rcv {
		return info.seenAt
	}
	if info.seenAt == 0 || len(k.seen) == 0 {
		return 0 // the first receiver's entry is in info; the others' in k.seen
	}
	return k.seen[seenKey{rcv, id}]
}

// setSeen sets seen[rcv, id] to v (> 0).
func (k *Checker) setSeen(info *msgInfo, rcv string, id uint64, v int) {
	if info.seenAt == 0 || info.seenRcv == rcv {
		info.seenRcv, info.seenAt = rcv, v
		return
	}
	k.seen[seenKey{rcv, id}] = v
}

// Forgive accounts the loss of every message sent so far from → to to a reported reset.
func (k *Checker) Forgive(from, to string) {
	if s := k.streams[streamKey{from, to}]; s != nil {
		s.forgiven = len(s.sent)
		k.rec.forgive(streamKey{from, to}, s.lossless)
	}
}

// ForgiveNode forgives every stream from and to a node (it crashed).
func (k *Checker) ForgiveNode(node string) {
	for _, key := range k.keys {
		if key.from == node || key.to == node {
			k.streams[key].forgiven = len(k.streams[key].sent)
			k.rec.forgive(key, k.streams[key].lossless)
		}
	}
}

// Dropped records that the messenger reported dropping message id (sent on a closing
// connection): its loss is accounted for.
func (k *Checker) Dropped(id uint64) {
	if info, ok := k.msgs.get(id); ok {
		k.reportFate(info, fateDropped)
		info.dropped = true
		info.reported = true
		k.rec.dropped(info, id, info.s.lossless)
	}
}

// SentToGone accounts the loss of message id, just sent (SentOn) on a connection whose peer is
// an incarnation that has stopped (shut down or crashed): nothing of it is left to read the
// message, and a lossless session keeps it queued, reconnecting to the address it knows, until
// the sender marks the session down (cluster seed 7805: an OSD replied on a session its peer's
// previous incarnation had opened before the OSD knew that peer from a map, so no map change
// ever marked it down). The peer's crash or shutdown accounts only for what was sent before it
// (ForgiveNode). The message may still arrive if an incarnation with the same address, nonce
// included, takes the session over.
func (k *Checker) SentToGone(id uint64) {
	if info, ok := k.msgs.get(id); ok && !info.dropped {
		info.dropped = true
		k.rec.dropped(info, id, info.s.lossless)
	}
}

// ForgiveConn accounts the loss of every message node sent so far on its connection conn to a
// reset of that connection's session (reset or remote reset reported on it): finer than
// Forgive, which covers every connection of the stream.
func (k *Checker) ForgiveConn(node string, conn uint64) {
	ck := connKey{node, conn}
	ids := k.byConn[ck]
	if ids == nil {
		return
	}
	for _, id := range ids.ids {
		info := k.msgs.of(id)
		info.dropped = true
		k.rec.dropped(info, id, info.s.lossless)
	}
	delete(k.byConn, ck)
	for i := range k.last {
		if k.last[i].ids == ids {
			k.last[i].ids = nil // the next send on the connection starts a new list
		}
	}
}

// MarkedDown records that receiver incarnation rcv marked down its session(s) with the sender
// node from; resetcheck is the session's policy's. Without resetcheck the sender may send the
// messages it still holds again to rcv's next session, and rcv dispatch them a second time:
// a duplicate the checker excuses as CaseRedelivery (see there). An excused duplicate is not a
// dispatch of the FIFO history (fifo-linearizability): the receiver's session that dequeued the
// message is gone, and the first dispatch is the one the history keeps.
func (k *Checker) MarkedDown(rcv, from string, resetcheck bool) {
	if !resetcheck {
		k.marks[markKey{rcv, from}]++
	}
}

// DiscardedOnMarkDown accounts the loss of the messages from → to that to's messenger read
// but had not dispatched when to marked its session with from down: a mark_down discards
// the connection's dispatch queue (Ceph's discard_queue) after their acknowledgement may have
// gone out, so from may never send them again. Only messages read (Received) and not yet
// dispatched are excused; one still in flight must arrive or be accounted otherwise. Call it
// right after the messenger's MarkDown returned. Found by cluster seed 1195. A message held
// back by delay injection is not discarded but dispatched by the stopping session's flush,
// after the mark-down: that dispatch counts as one before it, so the sender's resend is
// CaseRedelivery (cluster seed 3837).
func (k *Checker) DiscardedOnMarkDown(from, to string) {
	s := k.streams[streamKey{from, to}]
	if s == nil {
		return
	}
	for i := s.forgiven; i < len(s.sent); i++ {
		id := s.sent[i]
		if info := k.msgs.of(id); info.received && !info.got && !info.dropped {
			info.dropped, info.flushed = true, true
			k.rec.dropped(info, id, s.lossless)
		}
	}
}

// unheard reports whether the sender may have sent message info again to receiver rcv,
// whose previous dispatch of it was at seen count prev (seenOf): the sender never heard it
// acknowledged, or heard it only after rcv marked its session down since that dispatch (the
// acknowledgement of the copy sent again, read and acknowledged by rcv's next session before
// dispatching it: cluster seed 5636, its dispatch held back by delay injection). An
// acknowledgement heard before that mark-down made the sender forget the message, and a
// second dispatch is a duplicate.
func (k *Checker) unheard(info *msgInfo, rcv string, prev int) bool {
	if !info.acked {
		return true
	}
	return info.ackMarks != 0 && info.seenRcv == rcv && info.ackMarks-1 > prev-1
}

// markCount is k.marks[mk], without hashing the key when nothing was marked down (most
// runs): it is read at every dispatch.
func (k *Checker) markCount(mk markKey) int {
	if len(k.marks) == 0 {
		return 0
	}
	return k.marks[mk]
}

// Excused counts the duplicate dispatches excused, by case (CaseRedelivery).
func (k *Checker) Excused() map[string]int { return k.excused }

// Orphan marks a sender's connection as a session its peer discarded (the peer marked its
// side down): messages sent on it from now on may be lost, until Unorphan.
func (k *Checker) Orphan(node string, conn uint64) { k.orphans[connKey{node, conn}] = true }

// Unorphan ends Orphan: the connection has a session with the peer again (or was reset).
func (k *Checker) Unorphan(node string, conn uint64) { delete(k.orphans, connKey{node, conn}) }

// PendingLossless counts lossless messages neither dispatched nor accounted for.
func (k *Checker) PendingLossless() int {
	n := 0
	for _, key := range k.keys {
		s := k.streams[key]
		if s.lossless {
			n += k.countMissing(s)
		}
	}
	return n
}

// countMissing is len(k.missing(s)), without the list (liveness conditions ask often).
func (k *Checker) countMissing(s *stream) int {
	n := 0
	for i := s.forgiven; i < len(s.sent); i++ {
		if info := k.msgs.of(s.sent[i]); !info.got && !info.dropped {
			n++
		}
	}
	return n
}

// missing lists the indices of s's messages that must still be dispatched.
func (k *Checker) missing(s *stream) []int {
	var idx []int
	for i := s.forgiven; i < len(s.sent); i++ {
		info := k.msgs.of(s.sent[i])
		if !info.got && !info.dropped {
			idx = append(idx, i)
		}
	}
	return idx
}

// accountedLosses counts s's messages never dispatched whose loss is accounted for.
func (k *Checker) accountedLosses(s *stream) int {
	n := 0
	for i, id := range s.sent {
		info := k.msgs.of(id)
		if !info.got && (i < s.forgiven || info.dropped) {
			n++
		}
	}
	return n
}

// Missing describes a lossless message neither dispatched nor accounted for.
type Missing struct {
	From, To string
	Conn     uint64 // the sender's connection (0 when not distinguished)
	Prio     uint16
	ID       uint64
	Index    int  // position in its stream
	Received bool // the receiver read it (but did not dispatch it)
}

// MissingLossless lists up to n lossless messages neither dispatched nor accounted for, in
// stream order: for diagnosing a drain or liveness failure.
func (k *Checker) MissingLossless(n int) []Missing {
	var out []Missing
	for _, key := range k.keys {
		s := k.streams[key]
		if !s.lossless {
			continue
		}
		for _, i := range k.missing(s) {
			if len(out) == n {
				return out
			}
			info := k.msgs.of(s.sent[i])
			out = append(out, Missing{From: key.from, To: key.to, Conn: info.order.conn, Prio: info.order.prio,
				ID: s.sent[i], Index: i, Received: info.received})
		}
	}
	return out
}

// Undispatched is a message never dispatched to any receiver, and whether its loss is
// accounted for (lossy messages always are).
type Undispatched struct {
	ID        uint64
	From, To  string
	Lossless  bool
	Accounted bool
	Why       string // how the loss is accounted for, or why it is not
}

// Undispatched lists every message never dispatched, stream by stream in the order the
// streams began, each stream in send order: for drawing a run's timeline.
func (k *Checker) Undispatched() []Undispatched {
	var out []Undispatched
	for _, key := range k.keys {
		s := k.streams[key]
		for i, id := range s.sent {
			info := k.msgs.of(id)
			if info.got {
				continue
			}
			u := Undispatched{ID: id, From: key.from, To: key.to, Lossless: s.lossless, Accounted: true}
			switch {
			case !s.lossless:
				u.Why = "lossy: may be lost"
			case info.dropped:
				u.Why = "the messenger dropped it, its session was reset or discarded, or the receiver read it and then marked the session down"
			case i < s.forgiven:
				u.Why = "a reset or a crash was reported after it was sent"
			default:
				u.Accounted, u.Why = false, "no reset, crash or drop was reported"
			}
			out = append(out, u)
		}
	}
	return out
}

// Finish checks what must hold at the end of a run: every lossless message was dispatched or
// its loss accounted for.
func (k *Checker) Finish(now int64) {
	k.rec.finish(k.losslessStreams())
	for _, key := range k.keys {
		s := k.streams[key]
		if !s.lossless {
			continue
		}
		if miss := k.missing(s); len(miss) > 0 {
			// Dated when the first lost message was passed over by a later one, if it was.
			at := now
			if v := s.visibleAt[miss[0]]; v != 0 {
				at = v
			}
			k.violate(InvLosslessLoss, at, "stream %v: %d of %d messages never dispatched and no reset reported (first #%d)",
				key, len(miss), len(s.sent), miss[0])
		}
	}
}

func (k *Checker) losslessStreams() int {
	n := 0
	for _, key := range k.keys {
		if k.streams[key].lossless {
			n++
		}
	}
	return n
}

// Violate records a violation found elsewhere.
func (k *Checker) Violate(name string, now int64, format string, args ...any) {
	k.violate(name, now, format, args...)
}

func (k *Checker) violate(name string, now int64, format string, args ...any) {
	k.violN[name]++
	if k.violN[name] > maxViolationsPerName {
		return
	}
	k.viol = append(k.viol, Violation{Name: name, Detail: fmt.Sprintf(format, args...), AtNs: now})
}

// Failed reports whether any invariant was violated.
func (k *Checker) Failed() bool { return len(k.viol) > 0 }

// ViolationCounts is how many times each invariant was violated (all of them, including those
// beyond the ones kept in Violations).
func (k *Checker) ViolationCounts() map[string]int { return k.violN }

// Violations lists what was broken, by the virtual time it happened (then in the order found).
func (k *Checker) Violations() []Violation {
	sort.SliceStable(k.viol, func(i, j int) bool { return k.viol[i].AtNs < k.viol[j].AtNs })
	return k.viol
}

// Counts are the number of messages sent and dispatched.
func (k *Checker) Counts() (sent, dispatched int) { return k.sent, k.deliv }

// LosslessCounts are the lossless messages sent, and how many of them were never dispatched
// with their loss accounted for (resets, crashes, drops).
func (k *Checker) LosslessCounts() (sent, lostAccounted int) {
	for _, key := range k.keys {
		s := k.streams[key]
		if s.lossless {
			sent += len(s.sent)
			lostAccounted += k.accountedLosses(s)
		}
	}
	return sent, lostAccounted
}

// AckCounts are the number of messages read by receivers and acknowledged to senders.
func (k *Checker) AckCounts() (received, acked int) { return k.received, k.acked }

// Summary renders one line per stream: sent, dispatched, forgiven. Every run renders it
// (Result.Summary), so it is built without fmt: the lines are what
// "  %-28s %-8s sent %5d  dispatched %5d" and "  (%d lost, accounted to resets, crashes or
// drops)" print, sorted by the stream's name (from->to).
func (k *Checker) Summary() string {
	keys := slices.Clone(k.keys)
	slices.SortFunc(keys, compareNames)
	var b []byte
	for _, key := range keys {
		s := k.streams[key]
		kind := "lossy"
		if s.lossless {
			kind = "lossless"
		}
		b = append(b, "  "...)
		b = appendPadded(b, 28, key.from, "->", key.to)
		b = append(b, ' ')
		b = appendPadded(b, 8, kind)
		b = append(b, " sent "...)
		b = appendRight(b, 5, len(s.sent))
		b = append(b, "  dispatched "...)
		b = appendRight(b, 5, s.delivered)
		if lost := k.accountedLosses(s); lost > 0 {
			b = append(b, "  ("...)
			b = strconv.AppendInt(b, int64(lost), 10)
			b = append(b, " lost, accounted to resets, crashes or drops)"...)
		}
		b = append(b, '\n')
	}
	return string(b)
}

// compareNames orders streams by name, from->to, as the strings would sort (without building
// them).
func compareNames(a, b streamKey) int {
	as, bs := [3]string{a.from, "->", a.to}, [3]string{b.from, "->", b.to}
	i, j := 0, 0 // piece, offset in it
	k, l := 0, 0
	for {
		for i < 3 && j == len(as[i]) {
			i, j = i+1, 0
		}
		for k < 3 && l == len(bs[k]) {
			k, l = k+1, 0
		}
		switch {
		case i == 3 && k == 3:
			return 0
		case i == 3:
			return -1
		case k == 3:
			return 1
		}
		if x, y := as[i][j], bs[k][l]; x != y {
			return int(x) - int(y)
		}
		j, l = j+1, l+1
	}
}

// appendPadded appends the pieces and pads them with spaces to width runes (fmt's %-Ns).
func appendPadded(b []byte, width int, pieces ...string) []byte {
	n := 0
	for _, p := range pieces {
		b = append(b, p...)
		n += utf8.RuneCountInString(p)
	}
	for ; n < width; n++ {
		b = append(b, ' ')
	}
	return b
}

// appendRight appends v right-aligned in width (fmt's %Nd).
func appendRight(b []byte, width, v int) []byte {
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], int64(v), 10)
	for n := len(d); n < width; n++ {
		b = append(b, ' ')
	}
	return append(b, d...)
}
