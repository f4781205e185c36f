package prototest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// ErrCut is the transport error of a socket that failed under a connection (Cut).
var ErrCut = errors.New("test: connection cut")

// World is one test's world: its clock, messengers, connections, sockets and log.
type World struct {
	Now     time.Duration
	Msgrs   []*Msgr
	Nodes   []*Node   // in creation order (the order of every sweep)
	Sockets []*Socket // every socket created, in order

	// Quiet records no log lines and no decision rules (rapid, fuzzers: formatting costs more
	// than what they test); states, faults, decisions, deliveries and events are still kept.
	Quiet bool
	// HoldPosts makes posted work wait until it is cleared (Drain does nothing meanwhile).
	HoldPosts bool

	// Tap, when set, is called with every byte written on a socket by end `from`, or injected
	// toward end 1-from (injected), after Socket.Wrote recorded it.
	Tap func(s *Socket, from int, p []byte, injected bool)
	// Watch, when set, is told of every Host callback before the Node handles it.
	Watch Watcher

	Problems []string             // invariant violations the world itself found (throttle underflow)
	Faults   []Fault              // every fault a connection reported, in order
	States   StateSet             // every state a connection entered or left
	Rules    map[string]bool      // every accept-decision rule taken (nil until one is; none when Quiet)
	Probes   [proto.NumProbes]int // times each probe was reached (proto.Reacher; ProbeNone counts no-probe decisions)

	lines  []string
	chain  chain
	posted []func()
}

// chain is an open state-transition line: "x: state A -> B -> C" grows while the same
// connection goes on changing state with nothing logged in between.
type chain struct {
	line    int // index in lines of the open state chain, -1 if none
	node    *Node
	to      proto.State
	receive int // length of the line where a message read began, -1 if none
}

// Fault is a fault a connection reported.
type Fault struct {
	Node  *Node
	State proto.State
	Err   error
}

// Watcher is told of the callbacks a connection makes into its Node, before the Node acts
// on them (fuzz harnesses check their properties there).
type Watcher interface {
	Delivered(n *Node, m *wire.Message)
	Event(n *Node, k proto.EventKind)
	Faulted(n *Node, s proto.State, err error)
	StateChanged(n *Node, from, to proto.State)
}

// StateSet is a set of states.
type StateSet uint64

// Add adds s (states past the 64th are not recorded).
func (ss *StateSet) Add(s proto.State) {
	if s < 64 {
		*ss |= 1 << s
	}
}

// Has reports whether s is in the set.
func (ss StateSet) Has(s proto.State) bool { return s < 64 && ss&(1<<s) != 0 }

// New returns an empty world at time 0.
func New() *World {
	w := &World{}
	w.chain.line = -1
	return w
}

// Logf appends a line to the log (unless the world is quiet).
func (w *World) Logf(format string, args ...any) {
	if w.Quiet {
		return
	}
	w.lines = append(w.lines, fmt.Sprintf(format, args...))
	w.chain.line = -1
}

// Lines is the number of lines logged since the last Output.
func (w *World) Lines() int { return len(w.lines) }

// InsertLine puts a line at position at of the log (a summary of what followed it).
func (w *World) InsertLine(at int, line string) {
	if w.Quiet {
		return
	}
	w.lines = slices.Insert(w.lines, at, line)
	w.chain.line = -1
}

// Output returns and forgets what was logged.
func (w *World) Output() string {
	s := strings.Join(w.lines, "\n")
	w.lines = w.lines[:0]
	w.chain.line = -1
	return s
}

// Problemf records an invariant violation (and logs it).
func (w *World) Problemf(format string, args ...any) {
	p := fmt.Sprintf(format, args...)
	w.Problems = append(w.Problems, p)
	w.Logf("!! %s", p)
}

// Node returns the connection named name, or nil.
func (w *World) Node(name string) *Node {
	for _, n := range w.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Post queues f to run after the current step (msgr posts work to another connection's
// center instead of calling into it from a callback).
func (w *World) Post(f func()) { w.posted = append(w.posted, f) }

// Posted is the number of posted functions waiting.
func (w *World) Posted() int { return len(w.posted) }

// Drain runs the posted work, unless HoldPosts, and reports whether it ran any.
func (w *World) Drain() bool {
	if w.HoldPosts {
		return false
	}
	ran := false
	for len(w.posted) > 0 {
		f := w.posted[0]
		w.posted = w.posted[1:]
		f()
		ran = true
	}
	return ran
}

// Stabilize moves bytes both ways until nothing moves: every node writes, then every node
// reads (with EOFs), then pending replaces are carried out. Timers are not run.
func (w *World) Stabilize() error {
	for range 10000 {
		moved := false
		for _, n := range w.Nodes {
			moved = w.Write(n, 0, 0) > 0 || moved
		}
		for _, n := range w.Nodes {
			k, eof := w.Read(n, 0, 0)
			moved = k > 0 || eof || moved
		}
		moved = w.CarryOutAll() || moved
		moved = w.Drain() || moved
		if !moved {
			return nil
		}
	}
	return errors.New("stabilize: still moving after 10000 rounds")
}

// NextDue returns the node with the earliest deadline at or before limit, and the deadline.
func (w *World) NextDue(limit time.Duration) (*Node, time.Duration) {
	var best *Node
	var at time.Duration
	for _, n := range w.Nodes {
		if n.C == nil || n.Crashed {
			continue
		}
		if d, ok := n.C.NextDeadline(); ok && d <= limit && (best == nil || d < at) {
			best, at = n, d
		}
	}
	return best, at
}

// Advance moves the clock by d, running every timer that falls due on the way, in order.
func (w *World) Advance(d time.Duration) error {
	target := w.Now + d
	for range 100000 {
		n, at := w.NextDue(target)
		if n == nil {
			w.Now = target
			return nil
		}
		w.Now = max(w.Now, at)
		w.Logf("@%v %s: timer", w.Now, n.Name)
		n.C.Tick()
		w.Drain()
	}
	return errors.New("advance: timers keep firing")
}

// AddrString renders a legacy address as the log does: "IP:PORT/NONCE", "-/NONCE" when blank.
func AddrString(a wire.EntityAddr) string {
	if !a.Addr.IsValid() {
		return fmt.Sprintf("-/%d", a.Nonce)
	}
	return fmt.Sprintf("%v/%d", a.Addr, a.Nonce)
}
