package explore

import (
	"maps"
	"time"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/sim/harness"
	"github.com/msgrsim/msgrsim/simnet"
)

// explorer is the fault points of one run and what it has seen: the elements each side began
// writing (counted by name), where each read point's element lies once it is written, and
// which points fired.
type explorer struct {
	h       *harness.Run
	points  []Point
	fired   []bool
	firedAt []time.Duration
	reads   []readAt // by point: where a read point's element lies, once written
	written [2]map[string]int
	before  [][2]map[string]int // by point: written when it fired
	stall   time.Duration
	block   time.Duration
	names   [2]string // the sides' nodes, for the trace
	ka      keepaliveWatch
	backoff backoffWatch
	writes  [2]int // Writev calls that reached the sockets, by side
}

// readAt is where a read point's element begins: a stream and an offset.
type readAt struct {
	set bool
	s   simnet.StreamID
	off uint64
}

func newExplorer(h *harness.Run, points []Point, stall, block time.Duration) *explorer {
	return &explorer{h: h, points: points, fired: make([]bool, len(points)), firedAt: make([]time.Duration, len(points)),
		reads: make([]readAt, len(points)), before: make([][2]map[string]int, len(points)), written: [2]map[string]int{{}, {}}, stall: stall, block: block,
		backoff: backoffWatch{initial: proto.DefaultInitialBackoff, max: proto.DefaultMaxBackoff}}
}

func (x *explorer) logf(format string, args ...any) {
	if x.h.W.Trace.Keeping() {
		x.h.W.Trace.Logf(x.h.W.Now(), format, args...)
	}
}

// starts are the elements bufs begin, written next by s, each with its round and the write
// point it is, if any.
func (x *explorer) starts(s *socket, bufs [][]byte) []start {
	var out []start
	seen := map[string]int{}
	x.h.Injector.Starts(s.stream(), bufs, func(st fault.Start) bool {
		name := elemName(st.Kind, st.Frame)
		if name == "" {
			return false
		}
		seen[name]++
		e := start{Start: st, name: name, round: x.written[s.side][name] + seen[name], target: -1}
		e.target = x.match(s.side, Write, name, e.round)
		out = append(out, e)
		return true
	})
	return out
}

// match is the index of the point not yet fired at side's op of the round-th element name
// (-1: none).
func (x *explorer) match(side Side, op Op, name string, round int) int {
	for i, p := range x.points {
		if !x.fired[i] && p.Side == side && p.Op == op && p.Elem == name && p.Round == round {
			return i
		}
	}
	return -1
}

// wrote counts the elements s began writing below offset end, and places the read points
// among them on the peer.
func (x *explorer) wrote(s *socket, starts []start, end uint64) {
	for _, st := range starts {
		if st.Off >= end {
			return
		}
		x.written[s.side][st.name]++
		if i := x.match(s.side.other(), Read, st.name, st.round); i >= 0 && !x.reads[i].set {
			x.reads[i] = readAt{set: true, s: s.stream(), off: st.Off}
		}
	}
}

// readTarget is the read point to fire on the stream s reads: its index and offset.
func (x *explorer) readTarget(s *socket) (int, uint64, bool) {
	in := simnet.StreamID{Conn: s.conn, Dir: 1 - s.out}
	for i, r := range x.reads {
		if r.set && !x.fired[i] && r.s == in && r.off >= s.rd {
			return i, r.off, true
		}
	}
	return 0, 0, false
}

// fire marks point i fired on socket s at stream offset off and traces it.
func (x *explorer) fire(i int, s *socket, off uint64) Point {
	p := x.points[i]
	x.fired[i], x.firedAt[i] = true, x.h.W.Now()
	x.before[i] = [2]map[string]int{maps.Clone(x.written[0]), maps.Clone(x.written[1])}
	dir := s.out
	if p.Op == Read {
		dir = 1 - s.out
	}
	x.h.Note(x.names[s.side], "fault point %v: conn %d %v at offset %d", p, s.conn, dir, off)
	return p
}

// holdFor is how long a stall or a block holds a stream.
func (x *explorer) holdFor(a Action) time.Duration {
	if a == Block {
		return x.block
	}
	return x.stall
}
