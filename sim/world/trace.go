package world

import (
	"fmt"
	"strings"
	"time"
)

// Trace folds every simulation event into a running 64-bit hash (see fold), and optionally keeps
// a readable log of them.
type Trace struct {
	hash   uint64
	events uint64
	keep   bool
	lines  []string
	marks  []Mark

	checkpoints    []uint64 // the hash after every CheckpointEvery events
	recFrom, recTo uint64   // events with index in [recFrom, recTo) are rendered into recorded
	recorded       []string
	perturbAt      uint64 // test hook: fold an extra word in at this event (0: never)
	slowAdds       bool   // perturbAt != 0 || recFrom < recTo (kept: every event asks)
	perturbWith    uint64
}

// CheckpointEvery is how often the running hash is saved, so two runs that diverge can be
// compared window by window (the simulator's determinism self-check).
const CheckpointEvery = 1024

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// NewTrace returns an empty trace; with keep set it records readable lines too.
func NewTrace(keep bool) *Trace { return &Trace{hash: fnvOffset, keep: keep} }

// Tag says what a traced event is: it is the event's first word in the hash.
type Tag uint64

// Trace tags. The numbers are folded into every trace hash: never renumber them.
const (
	TagCenterStep   Tag = 1 // a center stepped: virtual time, the center's index
	TagNetTransfer  Tag = 2 // the network moved bytes: virtual time, kind, connection, bytes
	TagAdvanceClock Tag = 3 // nothing could happen: virtual time advanced to the next event
	TagJob          Tag = 4 // a scheduled job ran: virtual time, its sequence number
	TagMsgrEvent    Tag = 5 // a messenger traced an event: node, incarnation, kind, conn, from, to, seq
)

var tagNames = map[Tag]string{TagCenterStep: "center-step", TagNetTransfer: "net-transfer",
	TagAdvanceClock: "advance-clock", TagJob: "job", TagMsgrEvent: "msgr-event"}

func (g Tag) String() string {
	if n, ok := tagNames[g]; ok {
		return n
	}
	return fmt.Sprintf("tag(%d)", uint64(g))
}

// AddSeed folds the run's seed into the hash: the first event of every trace.
func (t *Trace) AddSeed(seed uint64) {
	t.hash = fold(t.hash, seed)
	if t.recording() {
		t.recorded = append(t.recorded, fmt.Sprintf("#%d seed %d", t.events, seed))
	}
	t.count()
}

// Add folds one event, its tag and then its words, into the hash.
func (t *Trace) Add(tag Tag, words ...uint64) {
	if t.slow() {
		t.addSlow(tag, words)
		return
	}
	h := fold(t.hash, uint64(tag))
	if len(words) == 7 { // a harness event: straight through, no loop
		w := words[:7:7]
		h = fold(fold(fold(fold(fold(fold(fold(h, w[0]), w[1]), w[2]), w[3]), w[4]), w[5]), w[6])
	} else {
		for _, w := range words {
			h = fold(h, w)
		}
	}
	t.hash = h
	t.count()
}

// Add7 is Add with seven words (a messenger trace event of the harness, about nine per
// simulated message): the words in registers, no slice built at every call.
func (t *Trace) Add7(tag Tag, a, b, c, d, e, f, g uint64) {
	if t.slow() {
		t.addSlow(tag, []uint64{a, b, c, d, e, f, g})
		return
	}
	h := fold(t.hash, uint64(tag))
	t.hash = fold(fold(fold(fold(fold(fold(fold(h, a), b), c), d), e), f), g)
	t.count()
}

// slow reports whether an event must take addSlow: a perturbation is set or a window is
// being recorded (the fast paths fold the same words into the same hash, and nothing else).
func (t *Trace) slow() bool { return t.slowAdds }

// setSlow brings slowAdds up to date after Record or Perturb.
func (t *Trace) setSlow() { t.slowAdds = t.perturbAt != 0 || t.recFrom < t.recTo }

func (t *Trace) addSlow(tag Tag, words []uint64) {
	if t.perturbAt != 0 && t.events == t.perturbAt && len(words) > 0 {
		words[0] ^= t.perturbWith // test hook: a nondeterministic event
	}
	h := fold(t.hash, uint64(tag))
	for _, w := range words {
		h = fold(h, w)
	}
	t.hash = h
	if t.recording() {
		t.recorded = append(t.recorded, describeEvent(t.events, tag, words))
	}
	t.count()
}

// add1, add2 and add4 are Add with that many words, for the world's own events: no slice,
// no loop.
func (t *Trace) add1(tag Tag, a uint64) {
	if t.slow() {
		t.addSlow(tag, []uint64{a})
		return
	}
	t.hash = fold(fold(t.hash, uint64(tag)), a)
	t.count()
}

func (t *Trace) add2(tag Tag, a, b uint64) {
	if t.slow() {
		t.addSlow(tag, []uint64{a, b})
		return
	}
	t.hash = fold(fold(fold(t.hash, uint64(tag)), a), b)
	t.count()
}

func (t *Trace) add4(tag Tag, a, b, c, d uint64) {
	if t.slow() {
		t.addSlow(tag, []uint64{a, b, c, d})
		return
	}
	t.hash = fold(fold(fold(fold(fold(t.hash, uint64(tag)), a), b), c), d)
	t.count()
}

// fold folds one word into the hash: FNV-style, a word at a time (xor, multiply by the
// 64-bit FNV prime), then the high half folded into the low half so that every bit of the
// word reaches every bit of the hash. Each of the three steps is a bijection of h, so two
// traces that differ in one word always end with different hashes.
func fold(h, w uint64) uint64 {
	h = (h ^ w) * fnvPrime
	return h ^ h>>32
}

// recording reports whether the event being added is inside the window Record renders.
func (t *Trace) recording() bool { return t.events >= t.recFrom && t.events < t.recTo }

// count counts an event folded in; every CheckpointEvery events the running hash is saved.
func (t *Trace) count() {
	t.events++
	if t.events%CheckpointEvery == 0 {
		t.checkpoints = append(t.checkpoints, t.hash)
	}
}

// describeEvent renders one traced event for a divergence report.
func describeEvent(i uint64, tag Tag, words []uint64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %v", i, tag)
	for _, w := range words {
		fmt.Fprintf(&b, " %d", w)
	}
	return b.String()
}

// Record renders the events with index in [from, to) (see Recorded), for a divergence report.
func (t *Trace) Record(from, to uint64) {
	t.recFrom, t.recTo = from, to
	t.setSlow()
}

// Recorded are the events rendered by Record, in order.
func (t *Trace) Recorded() []string { return t.recorded }

// Checkpoints are the running hash after every CheckpointEvery events.
func (t *Trace) Checkpoints() []uint64 { return t.checkpoints }

// Perturb is a test hook: it makes the event with index at (not 0) differ, by folding its
// first word after the tag xor with, as a nondeterministic run would.
func (t *Trace) Perturb(at, with uint64) {
	t.perturbAt, t.perturbWith = at, with
	t.setSlow()
}

// Keeping reports whether the trace keeps readable lines and marks: callers skip building
// them otherwise.
func (t *Trace) Keeping() bool { return t.keep }

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
	Kind string        `json:"kind"` // send, dispatch, lost (never dispatched), fault, event, decision, inject, heal, up, violation
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
