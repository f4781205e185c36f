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
	InvLosslessLoss    = "lossless-loss"      // a lossless message never dispatched
	InvDuplicate       = "duplicate-delivery" // a message dispatched twice
	InvLossyOrder      = "lossy-order"        // a lossy stream dispatched out of send order
	InvUnknownMessage  = "unknown-message"    // a dispatched message nobody sent
	InvNoProgress      = "no-progress"        // the run did not finish within its bounds
	InvShutdownStalled = "shutdown-stalled"   // a messenger did not finish shutting down
)

// streamKey names the messages one messenger sends to another.
type streamKey struct{ from, to string }

func (k streamKey) String() string { return k.from + "->" + k.to }

type stream struct {
	lossless  bool
	sent      []uint64 // message ids in send order
	delivered int      // how many of sent were dispatched (lossless: a prefix)
	lastIndex int      // index in sent of the last dispatched message (lossy), -1 before any
}

// Checker verifies delivery invariants per stream: lossless streams dispatch every message
// exactly once in send order; lossy streams dispatch at most once, in send order.
type Checker struct {
	streams map[streamKey]*stream
	owner   map[uint64]streamKey // message id -> stream
	index   map[uint64]int       // message id -> position in its stream
	seen    map[uint64]bool
	viol    []Violation
	sent    int
	deliv   int
}

// NewChecker returns an empty checker.
func NewChecker() *Checker {
	return &Checker{
		streams: make(map[streamKey]*stream), owner: make(map[uint64]streamKey),
		index: make(map[uint64]int), seen: make(map[uint64]bool),
	}
}

// Sent records that message id was queued from one messenger to another.
func (k *Checker) Sent(from, to string, id uint64, lossless bool) {
	key := streamKey{from, to}
	s := k.streams[key]
	if s == nil {
		s = &stream{lossless: lossless, lastIndex: -1}
		k.streams[key] = s
	}
	k.owner[id] = key
	k.index[id] = len(s.sent)
	s.sent = append(s.sent, id)
	k.sent++
}

// Dispatched records that message id reached a dispatcher at virtual time now (ns).
func (k *Checker) Dispatched(id uint64, now int64) {
	key, ok := k.owner[id]
	if !ok {
		k.violate(InvUnknownMessage, now, "message id %d was never sent", id)
		return
	}
	if k.seen[id] {
		k.violate(InvDuplicate, now, "stream %v: message id %d dispatched twice", key, id)
		return
	}
	k.seen[id] = true
	k.deliv++
	s, i := k.streams[key], k.index[id]
	if s.lossless {
		if i != s.delivered {
			k.violate(InvLosslessOrder, now, "stream %v: got message #%d (id %d), expected #%d", key, i, id, s.delivered)
		}
		s.delivered = i + 1
		return
	}
	if i < s.lastIndex {
		k.violate(InvLossyOrder, now, "stream %v: got message #%d after #%d", key, i, s.lastIndex)
	}
	s.lastIndex = i
	s.delivered++
}

// Finish checks what must hold at the end of a run: every lossless message was dispatched.
func (k *Checker) Finish(now int64) {
	for _, key := range k.keys() {
		s := k.streams[key]
		if s.lossless && s.delivered < len(s.sent) {
			k.violate(InvLosslessLoss, now, "stream %v: %d of %d messages never dispatched (first missing #%d)",
				key, len(s.sent)-s.delivered, len(s.sent), s.delivered)
		}
	}
}

// Pending is the number of lossless messages not yet dispatched, plus lossy ones not yet
// dispatched (without faults, those arrive too).
func (k *Checker) Pending() int { return k.sent - k.deliv }

// Violate records a violation found elsewhere.
func (k *Checker) Violate(name string, now int64, format string, args ...any) {
	k.violate(name, now, format, args...)
}

func (k *Checker) violate(name string, now int64, format string, args ...any) {
	k.viol = append(k.viol, Violation{Name: name, Detail: fmt.Sprintf(format, args...), AtNs: now})
}

// Violations lists what was broken, in the order found.
func (k *Checker) Violations() []Violation { return k.viol }

// Counts are the number of messages sent and dispatched.
func (k *Checker) Counts() (sent, dispatched int) { return k.sent, k.deliv }

func (k *Checker) keys() []streamKey {
	keys := make([]streamKey, 0, len(k.streams))
	//lint:ordered the keys are sorted below
	for key := range k.streams {
		keys = append(keys, key)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}

// Summary renders one line per stream: sent, dispatched.
func (k *Checker) Summary() string {
	var b strings.Builder
	for _, key := range k.keys() {
		s := k.streams[key]
		kind := "lossy"
		if s.lossless {
			kind = "lossless"
		}
		fmt.Fprintf(&b, "  %-28s %-8s sent %5d  dispatched %5d\n", key, kind, len(s.sent), s.delivered)
	}
	return b.String()
}
