package sim

import (
	"fmt"
	"strings"
	"time"
)

// Trace folds every simulation event into a running 64-bit FNV-1a hash, and optionally keeps
// a readable log of them.
type Trace struct {
	hash   uint64
	events uint64
	keep   bool
	lines  []string
	marks  []Mark

	checkpoints    []uint64 // the hash after every checkpointEvery events
	recFrom, recTo uint64   // events with index in [recFrom, recTo) are rendered into recorded
	recorded       []string
	perturbAt      uint64 // test hook: fold an extra word in at this event (0: never)
	perturbWith    uint64
}

// checkpointEvery is how often the running hash is saved, so two runs that diverge can be
// compared window by window (see CheckDeterminism).
const checkpointEvery = 1024

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// NewTrace returns an empty trace; with keep set it records readable lines too.
func NewTrace(keep bool) *Trace { return &Trace{hash: fnvOffset, keep: keep} }

// Add folds one event, given as numbers, into the hash.
func (t *Trace) Add(words ...uint64) {
	if t.perturbAt != 0 && t.events == t.perturbAt && len(words) > 1 {
		words[1] ^= t.perturbWith // test hook: a nondeterministic event
	}
	h := t.hash
	for _, w := range words {
		for i := 0; i < 8; i++ {
			h ^= w & 0xff
			h *= fnvPrime
			w >>= 8
		}
	}
	t.hash = h
	if t.events >= t.recFrom && t.events < t.recTo {
		t.recorded = append(t.recorded, describeEvent(t.events, words))
	}
	t.events++
	if t.events%checkpointEvery == 0 {
		t.checkpoints = append(t.checkpoints, t.hash)
	}
}

// describeEvent renders one traced event for a divergence report.
func describeEvent(i uint64, words []uint64) string {
	kinds := map[uint64]string{1: "center-step", 2: "net-transfer", 3: "advance-clock", 4: "job", 5: "msgr-event"}
	var b strings.Builder
	fmt.Fprintf(&b, "#%d", i)
	for j, w := range words {
		if j == 0 {
			if k, ok := kinds[w]; ok {
				fmt.Fprintf(&b, " %s", k)
				continue
			}
		}
		fmt.Fprintf(&b, " %d", w)
	}
	return b.String()
}

// AddString folds a string into the hash.
func (t *Trace) AddString(s string) {
	h := t.hash
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	t.hash = h
}

// Logf records a readable line (when keeping lines) stamped with virtual time.
func (t *Trace) Logf(now time.Duration, format string, args ...any) {
	if !t.keep {
		return
	}
	t.lines = append(t.lines, fmt.Sprintf("%12.6fs  ", now.Seconds())+fmt.Sprintf(format, args...))
}

// Mark is one happening of a run placed on its timeline (kept with the readable trace).
type Mark struct {
	At   time.Duration `json:"at_ns"`
	Kind string        `json:"kind"` // send, dispatch, fault, event, decision, inject, heal, up, violation
	Node string        `json:"node"` // where it happened ("" for the network)
	Peer string        `json:"peer,omitempty"`
	ID   uint64        `json:"id,omitempty"`   // message id (send, dispatch)
	Conn uint64        `json:"conn,omitempty"` // connection id on Node
	Text string        `json:"text"`
}

// AddMark records m when keeping lines.
func (t *Trace) AddMark(m Mark) {
	if t.keep {
		t.marks = append(t.marks, m)
	}
}

// Marks are the recorded timeline marks, in order.
func (t *Trace) Marks() []Mark { return t.marks }

// Hash is the running hash.
func (t *Trace) Hash() uint64 { return t.hash }

// Events is the number of events folded in.
func (t *Trace) Events() uint64 { return t.events }

// Lines are the recorded readable lines.
func (t *Trace) Lines() []string { return t.lines }

// String renders the recorded lines.
func (t *Trace) String() string { return strings.Join(t.lines, "\n") }
