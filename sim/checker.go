package sim

import (
	"fmt"
	"sort"
	"strings"
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
)

// InvariantDoc explains what each invariant requires, for reports and replays.
var InvariantDoc = map[string]string{
	InvLosslessOrder:   "a lossless session dispatches each sender's messages in the order they were sent",
	InvLosslessLoss:    "every message sent on a lossless session is dispatched, unless the sender heard of a session reset (reset or remote_reset) after sending it, a crash took either end, or the messenger reported dropping it",
	InvDuplicate:       "no message is dispatched twice to one incarnation of a receiver",
	InvLossyOrder:      "a lossy session dispatches at most once, in send order",
	InvUnknownMessage:  "every dispatched message was sent by someone",
	InvCorruptDelivery: "a dispatched message carries exactly the bytes that were sent: corruption must be caught by a crc and end the connection",
	InvNoProgress:      "the safety phase issues every send within its bounds of virtual time and steps",
	InvLiveness:        "once every fault is healed, every queued lossless message arrives and every session settles within the liveness bound",
	InvShutdownStalled: "every messenger finishes shutting down",
	InvLossyAck:        "a lossy session never carries an ACK frame (Ceph PR #13700)",
}

// AllInvariants lists every invariant name.
var AllInvariants = []string{InvLosslessOrder, InvLosslessLoss, InvDuplicate, InvLossyOrder, InvUnknownMessage,
	InvCorruptDelivery, InvNoProgress, InvLiveness, InvShutdownStalled, InvLossyAck}

// streamKey names the messages one node sends to another (across incarnations).
type streamKey struct{ from, to string }

func (k streamKey) String() string { return k.from + "->" + k.to }

type stream struct {
	lossless  bool
	sent      []uint64       // message ids in send order
	forgiven  int            // sent[:forgiven] may be lost: a reset was reported after them
	lastIndex map[string]int // receiver incarnation -> index of the last message dispatched
	delivered int
	// visibleAt[i] is when a later message was dispatched while sent[i] was not: the moment a
	// loss of sent[i] became visible (0: not yet). scanned is how far that was looked at.
	visibleAt []int64
	scanned   int
}

type msgInfo struct {
	key     streamKey
	index   int
	dropped bool // the messenger reported dropping it
}

// Checker verifies delivery per stream (sender node → receiver node):
//   - nothing is dispatched twice to one incarnation of a receiver;
//   - dispatch follows send order (lossless and lossy alike);
//   - every lossless message is dispatched, unless the loss is accounted to a reset the sender
//     heard of (reset or remote reset), a crash of either end, or a drop the messenger
//     reported — and then only messages sent before that.
type Checker struct {
	streams map[streamKey]*stream
	msgs    map[uint64]*msgInfo
	seen    map[string]bool // receiver incarnation + id
	keys    []streamKey     // creation order, for deterministic reports
	viol    []Violation
	sent    int
	deliv   int
	rec     *recorder // records lossless streams for the FIFO model (nil: none)
}

// NewChecker returns an empty checker.
func NewChecker() *Checker {
	return &Checker{streams: make(map[streamKey]*stream), msgs: make(map[uint64]*msgInfo), seen: make(map[string]bool)}
}

func (k *Checker) stream(key streamKey, lossless bool) *stream {
	s := k.streams[key]
	if s == nil {
		s = &stream{lossless: lossless, lastIndex: map[string]int{}}
		k.streams[key] = s
		k.keys = append(k.keys, key)
	}
	return s
}

// Sent records that message id was queued from one node to another.
func (k *Checker) Sent(from, to string, id uint64, lossless bool) {
	key := streamKey{from, to}
	s := k.stream(key, lossless)
	k.msgs[id] = &msgInfo{key: key, index: len(s.sent)}
	s.sent = append(s.sent, id)
	s.visibleAt = append(s.visibleAt, 0)
	k.sent++
	k.rec.sent(key, id, lossless)
}

// Dispatched records that message id reached a dispatcher of receiver incarnation rcv at
// virtual time now (ns); intact reports whether its content is what was sent.
func (k *Checker) Dispatched(rcv string, id uint64, intact bool, now int64) {
	info, ok := k.msgs[id]
	k.rec.lookedUp()
	if ok {
		k.rec.dispatched(info.key, id, rcv, k.streams[info.key].lossless)
	}
	if !ok {
		k.violate(InvUnknownMessage, now, "%s got message id %d that was never sent", rcv, id)
		return
	}
	if !intact {
		k.violate(InvCorruptDelivery, now, "stream %v: message id %d dispatched to %s with corrupted content", info.key, id, rcv)
	}
	seenKey := fmt.Sprintf("%s/%d", rcv, id)
	if k.seen[seenKey] {
		k.violate(InvDuplicate, now, "stream %v: message #%d (id %d) dispatched twice to %s", info.key, info.index, id, rcv)
		return
	}
	k.seen[seenKey] = true
	k.deliv++
	s := k.streams[info.key]
	s.delivered++
	if last, ok := s.lastIndex[rcv]; ok && info.index < last {
		name := InvLossyOrder
		if s.lossless {
			name = InvLosslessOrder
		}
		k.violate(name, now, "stream %v: %s got message #%d after #%d", info.key, rcv, info.index, last)
	}
	s.lastIndex[rcv] = max(s.lastIndex[rcv], info.index)
	if s.lossless {
		for ; s.scanned < info.index; s.scanned++ {
			if !k.delivered(s.sent[s.scanned]) {
				s.visibleAt[s.scanned] = now
			}
		}
	}
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
	if info, ok := k.msgs[id]; ok {
		info.dropped = true
		k.rec.dropped(info.key, id, k.streams[info.key].lossless)
	}
}

// PendingLossless counts lossless messages neither dispatched nor accounted for.
func (k *Checker) PendingLossless() int {
	n := 0
	for _, key := range k.keys {
		s := k.streams[key]
		if s.lossless {
			n += len(k.missing(s))
		}
	}
	return n
}

// missing lists the indices of s's messages that must still be dispatched.
func (k *Checker) missing(s *stream) []int {
	var idx []int
	for i := s.forgiven; i < len(s.sent); i++ {
		id := s.sent[i]
		if !k.delivered(id) && !k.msgs[id].dropped {
			idx = append(idx, i)
		}
	}
	return idx
}

func (k *Checker) delivered(id uint64) bool {
	info := k.msgs[id]
	for _, rcv := range k.incarnations(info.key) {
		if k.seen[fmt.Sprintf("%s/%d", rcv, id)] {
			return true
		}
	}
	return false
}

// incarnations lists the receiver incarnations that got something on the stream.
func (k *Checker) incarnations(key streamKey) []string {
	s := k.streams[key]
	out := make([]string, 0, len(s.lastIndex))
	//lint:ordered sorted below
	for r := range s.lastIndex {
		out = append(out, r)
	}
	sort.Strings(out)
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
	k.viol = append(k.viol, Violation{Name: name, Detail: fmt.Sprintf(format, args...), AtNs: now})
}

// Violations lists what was broken, by the virtual time it happened (then in the order found).
func (k *Checker) Violations() []Violation {
	sort.SliceStable(k.viol, func(i, j int) bool { return k.viol[i].AtNs < k.viol[j].AtNs })
	return k.viol
}

// Counts are the number of messages sent and dispatched.
func (k *Checker) Counts() (sent, dispatched int) { return k.sent, k.deliv }

// Summary renders one line per stream: sent, dispatched, forgiven.
func (k *Checker) Summary() string {
	keys := append([]streamKey(nil), k.keys...)
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	var b strings.Builder
	for _, key := range keys {
		s := k.streams[key]
		kind := "lossy"
		if s.lossless {
			kind = "lossless"
		}
		fmt.Fprintf(&b, "  %-28s %-8s sent %5d  dispatched %5d", key, kind, len(s.sent), s.delivered)
		if s.forgiven > 0 {
			fmt.Fprintf(&b, "  (first %d covered by resets)", s.forgiven)
		}
		b.WriteString("\n")
	}
	return b.String()
}
