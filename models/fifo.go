package models

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// FIFOKind is what a FIFO history event does to a stream's queue.
type FIFOKind uint8

// FIFO events.
const (
	// FIFOSend: a message was queued on the session (enqueue).
	FIFOSend FIFOKind = iota + 1
	// FIFODeliver: a receiver incarnation dispatched a message (dequeue).
	FIFODeliver
	// FIFOForgive: a reset was reported (or an end crashed): every message sent so far may
	// be lost.
	FIFOForgive
	// FIFODrop: the messenger reported dropping one message: it may be lost.
	FIFODrop
	// FIFODrain: the run is over: every message still queued must be one that may be lost.
	FIFODrain
)

func (k FIFOKind) String() string {
	switch k {
	case FIFOSend:
		return "send"
	case FIFODeliver:
		return "deliver"
	case FIFOForgive:
		return "forgive"
	case FIFODrop:
		return "drop"
	case FIFODrain:
		return "drain"
	}
	return fmt.Sprintf("fifo-kind(%d)", uint8(k))
}

// FIFOInput is one event of a stream's history.
type FIFOInput struct {
	Kind     FIFOKind
	Stream   string // sender → receiver, e.g. "osd.0->osd.1"
	ID       uint64 // the message (send, deliver, drop)
	Receiver string // the receiver incarnation that dispatched it (deliver), e.g. "osd.1#2"
}

func (in FIFOInput) String() string {
	switch in.Kind {
	case FIFOSend, FIFODrop:
		return fmt.Sprintf("%v(%d)", in.Kind, in.ID)
	case FIFODeliver:
		return fmt.Sprintf("deliver(%d) to %s", in.ID, in.Receiver)
	}
	return in.Kind.String()
}

// FIFOOp is a recorded event: instantaneous, at logical time At (its position in the
// history) and virtual time AtNs.
type FIFOOp struct {
	Input FIFOInput
	At    int64
	AtNs  int64
}

// FIFOHistory records the events of lossless streams as a simulation runs.
type FIFOHistory struct {
	ops     []FIFOOp
	streams []string
	known   map[string]bool
}

// NewFIFOHistory returns an empty history.
func NewFIFOHistory() *FIFOHistory { return &FIFOHistory{known: map[string]bool{}} }

func (h *FIFOHistory) add(in FIFOInput, atNs int64) {
	if !h.known[in.Stream] {
		h.known[in.Stream] = true
		h.streams = append(h.streams, in.Stream)
	}
	h.ops = append(h.ops, FIFOOp{Input: in, At: int64(len(h.ops)), AtNs: atNs})
}

// Reset empties h for a new history, keeping its storage. The events Ops returned before are
// overwritten by the next ones recorded.
func (h *FIFOHistory) Reset() {
	clear(h.ops)
	clear(h.streams)
	clear(h.known)
	h.ops, h.streams = h.ops[:0], h.streams[:0]
	if cap(h.ops) > maxKeptOps {
		h.ops = nil // a long run's history is not kept alive for the runs after it
	}
}

// maxKeptOps bounds the storage Reset keeps.
const maxKeptOps = 1 << 14

// Send records that message id was queued on stream.
func (h *FIFOHistory) Send(stream string, id uint64, atNs int64) {
	h.add(FIFOInput{Kind: FIFOSend, Stream: stream, ID: id}, atNs)
}

// Deliver records that receiver (an incarnation) dispatched message id of stream.
func (h *FIFOHistory) Deliver(stream string, id uint64, receiver string, atNs int64) {
	h.add(FIFOInput{Kind: FIFODeliver, Stream: stream, ID: id, Receiver: receiver}, atNs)
}

// Forgive records that every message sent on stream so far may be lost.
func (h *FIFOHistory) Forgive(stream string, atNs int64) {
	h.add(FIFOInput{Kind: FIFOForgive, Stream: stream}, atNs)
}

// Drop records that the messenger reported dropping message id of stream.
func (h *FIFOHistory) Drop(stream string, id uint64, atNs int64) {
	h.add(FIFOInput{Kind: FIFODrop, Stream: stream, ID: id}, atNs)
}

// Drain records the end of the run on every stream seen.
func (h *FIFOHistory) Drain(atNs int64) {
	for _, s := range h.streams {
		h.add(FIFOInput{Kind: FIFODrain, Stream: s}, atNs)
	}
}

// Ops returns the recorded events in order.
func (h *FIFOHistory) Ops() []FIFOOp { return h.ops }

// Len is the number of recorded events.
func (h *FIFOHistory) Len() int { return len(h.ops) }

// fifoEntry is one message in a stream's log.
type fifoEntry struct {
	id       uint64
	lossable bool // dropped by the messenger
}

// fifoState is a stream's queue: the log of every message sent, in order (copied on write,
// so states stay immutable), the position after the last one dequeued by the current
// receiver incarnation, and how many messages at the front may be lost.
type fifoState struct {
	log      []fifoEntry
	arena    *fifoArena // who owns log's spare capacity (nil: nobody may append in place)
	head     int
	forgiven int
	receiver string
}

// fifoArena is shared by the states derived from one another by sends: n is how much of the
// backing array is in use. A state may append in place only if its log ends where the
// arena's use does (no other state appended beyond it), so a history of n sends costs O(n)
// copying instead of O(n²), and states stay immutable as porcupine requires.
type fifoArena struct{ n int }

// appendLog returns s's log with e appended, and its arena.
func (s *fifoState) appendLog(e fifoEntry) ([]fifoEntry, *fifoArena) {
	if s.arena != nil && s.arena.n == len(s.log) && len(s.log) < cap(s.log) {
		s.arena.n++
		return append(s.log, e), s.arena
	}
	log := make([]fifoEntry, len(s.log)+1, 2*len(s.log)+8)
	copy(log, s.log)
	log[len(s.log)] = e
	return log, &fifoArena{n: len(log)}
}

func (s *fifoState) lossable(i int) bool { return i < s.forgiven || s.log[i].lossable }

// allLossable reports whether every message in [from, to) may be lost.
func (s *fifoState) allLossable(from, to int) bool {
	for i := from; i < to; i++ {
		if !s.lossable(i) {
			return false
		}
	}
	return true
}

func (s *fifoState) index(id uint64) int {
	for i := len(s.log) - 1; i >= 0; i-- {
		if s.log[i].id == id {
			return i
		}
	}
	return -1
}

// fifoStep is the queue's sequential specification.
func fifoStep(state, input any) (bool, any) {
	s := state.(*fifoState)
	in := input.(FIFOInput)
	switch in.Kind {
	case FIFOSend:
		if s.index(in.ID) >= 0 {
			return false, s // one id is sent once
		}
		n := *s
		n.log, n.arena = s.appendLog(fifoEntry{id: in.ID})
		return true, &n
	case FIFODeliver:
		return fifoDeliver(s, in)
	case FIFOForgive:
		n := *s
		n.forgiven = len(s.log)
		return true, &n
	case FIFODrop:
		i := s.index(in.ID)
		if i < 0 {
			return false, s
		}
		n := *s
		n.log, n.arena = append([]fifoEntry(nil), s.log...), nil
		n.log[i].lossable = true
		return true, &n
	case FIFODrain:
		return s.allLossable(s.head, len(s.log)), s
	}
	return false, s
}

// fifoDeliver dequeues message in.ID: everything queued before it must be lossable. A new
// receiver incarnation (the receiver restarted) starts a new consumer: it may get a message
// the previous incarnation already had only if that message may be lost (the sender
// retransmits what a crashed peer never acknowledged).
func fifoDeliver(s *fifoState, in FIFOInput) (bool, any) {
	i := s.index(in.ID)
	if i < 0 {
		return false, s
	}
	same := in.Receiver == s.receiver
	switch {
	case i >= s.head:
		if !s.allLossable(s.head, i) {
			return false, s
		}
	case same || !s.lossable(i):
		return false, s // a duplicate, or a reordering
	}
	n := *s
	n.head, n.receiver = i+1, in.Receiver
	return true, &n
}

func fifoEqual(a, b any) bool {
	x, y := a.(*fifoState), b.(*fifoState)
	if x.head != y.head || x.forgiven != y.forgiven || x.receiver != y.receiver || len(x.log) != len(y.log) {
		return false
	}
	for i := range x.log {
		if x.log[i] != y.log[i] {
			return false
		}
	}
	return true
}

func fifoHash(state any) uint64 {
	s := state.(*fifoState)
	// FNV-1a over the lengths and the receiver, without allocating (it runs at every step)
	h := uint64(14695981039346656037)
	for _, v := range [...]uint64{uint64(len(s.log)), uint64(s.head), uint64(s.forgiven)} {
		for range 8 {
			h = (h ^ (v & 0xff)) * 1099511628211
			v >>= 8
		}
	}
	for i := 0; i < len(s.receiver); i++ {
		h = (h ^ uint64(s.receiver[i])) * 1099511628211
	}
	return h
}

func fifoDescribeState(state any) string {
	s := state.(*fifoState)
	var b strings.Builder
	fmt.Fprintf(&b, "receiver %q, queued [", s.receiver)
	for i := s.head; i < len(s.log); i++ {
		if i > s.head {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%d", s.log[i].id)
		if s.lossable(i) {
			b.WriteString("?")
		}
	}
	b.WriteString("]")
	return b.String()
}

// FIFOModel is the porcupine model of a lossless session: a FIFO queue per stream.
func FIFOModel() porcupine.Model {
	return porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			return partitionBy(history, func(op porcupine.Operation) string { return op.Input.(FIFOInput).Stream })
		},
		Init:  func() any { return &fifoState{} },
		Step:  func(state, input, _ any) (bool, any) { return fifoStep(state, input) },
		Equal: fifoEqual,
		Hash:  fifoHash,
		DescribeOperation: func(input, _ any) string {
			return input.(FIFOInput).String()
		},
		DescribeState: fifoDescribeState,
		DescribeOperationMetadata: func(info any) string {
			if ns, ok := info.(int64); ok {
				return fmt.Sprintf("virtual time %dns", ns)
			}
			return ""
		},
	}
}

// CheckFIFO checks a FIFO history, stream by stream.
//
// Every event of a FIFO history is instantaneous, at its own position in the history, so a
// stream's only possible linearization is the order the events were recorded in: the check
// replays each stream through the model's step function in that order (linear time: one pass
// over the history, each stream's queue updated in place, fifoState.apply). Only a stream
// whose replay fails goes to porcupine, which
// gives the verdict and the visualization of a failure exactly as it did when porcupine
// checked every stream (TestFIFOReplayAgreesWithPorcupine holds the two to the same verdict).
func CheckFIFO(ops []FIFOOp, opts CheckOptions) Report {
	start := time.Now()
	suspect, partitions := fifoReplayAll(ops)
	rep := Report{Model: "fifo", Verdict: Linearizable, Partitions: partitions, Operations: len(ops)}
	if suspect == nil {
		rep.Elapsed = time.Since(start)
		return rep
	}
	full := checkFIFOPorcupine(suspect, opts)
	full.Operations, full.Partitions = rep.Operations, rep.Partitions
	full.Elapsed = time.Since(start)
	return full
}

// fifoReplayAll replays every stream of ops through the model in one pass over the history
// (each stream's events in history order, its queue updated in place: the replay keeps no
// earlier state, unlike porcupine) and returns the events of the streams that fail, in
// history order (nil if none does), and the number of streams.
func fifoReplayAll(ops []FIFOOp) ([]FIFOOp, int) {
	type replayed struct {
		s      fifoState
		failed bool
	}
	var queues []replayed
	index := map[string]int{}
	last, lastIdx := "", -1 // consecutive events are often one stream's
	failed := 0
	for _, op := range ops {
		name := op.Input.Stream
		i := lastIdx
		if i < 0 || name != last {
			var ok bool
			if i, ok = index[name]; !ok {
				i = len(queues)
				index[name] = i
				queues = append(queues, replayed{})
			}
			last, lastIdx = name, i
		}
		q := &queues[i]
		if !q.failed && !q.s.apply(op.Input) {
			q.failed = true
			failed++
		}
	}
	if failed == 0 {
		return nil, len(queues)
	}
	var suspect []FIFOOp
	for _, op := range ops {
		if queues[index[op.Input.Stream]].failed {
			suspect = append(suspect, op)
		}
	}
	return suspect, len(queues)
}

// apply is fifoStep on a queue kept in place (a replay's, which needs no earlier state): it
// reports what fifoStep reports and leaves s as the state fifoStep returns.
func (s *fifoState) apply(in FIFOInput) bool {
	switch in.Kind {
	case FIFOSend:
		if s.index(in.ID) >= 0 {
			return false
		}
		s.log = append(s.log, fifoEntry{id: in.ID})
		return true
	case FIFODeliver:
		i := s.index(in.ID)
		if i < 0 {
			return false
		}
		switch {
		case i >= s.head:
			if !s.allLossable(s.head, i) {
				return false
			}
		case in.Receiver == s.receiver || !s.lossable(i):
			return false
		}
		s.head, s.receiver = i+1, in.Receiver
		return true
	case FIFOForgive:
		s.forgiven = len(s.log)
		return true
	case FIFODrop:
		i := s.index(in.ID)
		if i < 0 {
			return false
		}
		s.log[i].lossable = true
		return true
	case FIFODrain:
		return s.allLossable(s.head, len(s.log))
	}
	return false
}

// checkFIFOPorcupine checks ops with porcupine, stream by stream.
func checkFIFOPorcupine(ops []FIFOOp, opts CheckOptions) Report {
	var all []porcupine.Operation
	rows := fifoRows(ops)
	for i, op := range ops {
		all = append(all, porcupine.Operation{ClientId: rows[i], Input: op.Input, Call: op.At, Return: op.At, Metadata: op.AtNs})
	}
	return check("fifo", FIFOModel(), partitions(all, func(op porcupine.Operation) string {
		return op.Input.(FIFOInput).Stream
	}), opts)
}

// fifoRows places each event on a row of porcupine's visualization (its ClientId, which the
// check ignores): a stream's sender (send, forgive, drop, drain) on row 0, each receiver
// incarnation on a row of its own (1, 2, … in the order they first dispatched on the stream).
func fifoRows(ops []FIFOOp) []int {
	rows := make([]int, len(ops))
	receivers := map[string][]string{}
	for i, op := range ops {
		if op.Input.Kind != FIFODeliver {
			continue
		}
		rs := receivers[op.Input.Stream]
		j := slices.Index(rs, op.Input.Receiver)
		if j < 0 {
			j = len(rs)
			receivers[op.Input.Stream] = append(rs, op.Input.Receiver)
		}
		rows[i] = j + 1
	}
	return rows
}

// partitions groups history by key, sorted by key.
func partitions(history []porcupine.Operation, key func(porcupine.Operation) string) []partition {
	byKey := map[string][]porcupine.Operation{}
	var keys []string
	for _, op := range history {
		k := key(op)
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], op)
	}
	sort.Strings(keys)
	out := make([]partition, len(keys))
	for i, k := range keys {
		out[i] = partition{name: k, ops: byKey[k]}
	}
	return out
}

func partitionBy(history []porcupine.Operation, key func(porcupine.Operation) string) [][]porcupine.Operation {
	parts := partitions(history, key)
	out := make([][]porcupine.Operation, len(parts))
	for i, p := range parts {
		out[i] = p.ops
	}
	return out
}
