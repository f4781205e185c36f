package wirefuzz

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"

	"github.com/msgrsim/msgrsim/internal/fuzzing"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The check of FuzzWalk (msgr/wire/walk_fuzz_test.go; FuzzWalkGo in gofuzz.go): the walker
// (wire.Walker, the one definition of the msgr1 conversation grammar) walks arbitrary
// conversations without panicking, to the same elements whatever the chunking, elements that
// tile what was walked and end the dissector's frames wherever it accepts the conversation,
// and without allocating whatever lengths the peer announces.

// maxWalkInput bounds the conversations CheckWalk takes: the minimizer is quadratic in the
// input length.
const maxWalkInput = 1 << 16

// CheckWalk is FuzzWalk's check: CheckWalkAnyLength, with conversations over 64 KiB in all
// out of scope.
func CheckWalk(c2s, s2c []byte, seed uint64) error {
	if len(c2s)+len(s2c) > maxWalkInput {
		return fuzzing.Skipf("%d bytes: large inputs make minimization slow", len(c2s)+len(s2c))
	}
	return CheckWalkAnyLength(c2s, s2c, seed)
}

// CheckWalkAnyLength walks a conversation whole, byte by byte and in the chunking of seed,
// then whole again with reused walkers counting allocations: see checkWalk and walkAllocs.
func CheckWalkAnyLength(c2s, s2c []byte, seed uint64) error {
	if err := checkWalk(c2s, s2c, seed); err != nil {
		return err
	}
	if allocs := walkAllocs(c2s, s2c); allocs != 0 {
		return fmt.Errorf("walking allocated %v times", allocs)
	}
	return nil
}

// WalkWhole walks a conversation, each direction in one chunk, as CheckWalk does first, and
// returns the elements of each direction.
func WalkWhole(c2s, s2c []byte) (client, server []Walked) {
	c, s := walkConversation(c2s, s2c, &chunker{}, &chunker{})
	return c.out, s.out
}

// Walked is an Element as the walk check records it: its bytes copied, only its kind's fields,
// and the walker's phase after it.
type Walked struct {
	Kind       wire.ElemKind
	Frame      wire.FrameKind
	Off, Len   uint64
	Last       bool
	Bytes      []byte
	Tag        wire.Tag
	Connect    wire.Connect
	Reply      wire.ConnectReply
	Header     wire.Header
	Msg        wire.MessageLayout
	OldFooter  bool
	PhaseAfter wire.Phase
}

func record(w *wire.Walker, e *wire.Element) Walked {
	r := Walked{Kind: e.Kind, Frame: e.Frame, Off: e.Off, Len: e.Len, Last: e.Last,
		Bytes: bytes.Clone(e.Bytes), PhaseAfter: w.Phase()}
	switch e.Kind {
	case wire.ElemTag:
		r.Tag = e.Tag
	case wire.ElemConnect:
		r.Connect = e.Connect
	case wire.ElemReply:
		r.Tag, r.Reply = e.Tag, e.Reply
	case wire.ElemHeader:
		r.Header, r.Msg, r.OldFooter = e.Header, e.Msg, w.OldFooter()
	case wire.ElemFront, wire.ElemMiddle, wire.ElemData, wire.ElemFooter:
		r.Msg = e.Msg
	}
	return r
}

// chunker yields chunk sizes: whole (0), every byte (1), or random sizes from a seed.
type chunker struct {
	fixed int
	rng   *rand.Rand
}

func (c *chunker) next(left int) int {
	switch {
	case c.fixed > 0:
		return min(c.fixed, left)
	case c.rng == nil:
		return left
	}
	switch c.rng.IntN(4) {
	case 0:
		return 1
	case 1:
		return min(1+c.rng.IntN(16), left)
	case 2:
		return min(1+c.rng.IntN(200), left)
	}
	return min(1+c.rng.IntN(1+left), left)
}

// side is one direction being Walked in chunks.
type side struct {
	dir   wire.Direction
	w     wire.Walker
	data  []byte
	pos   int // bytes handed to the walker
	chunk []byte
	ch    *chunker
	out   []Walked
}

func newSide(dir wire.Direction, data []byte, ch *chunker) *side {
	s := &side{dir: dir, data: data, ch: ch}
	s.w.Reset(dir)
	return s
}

// step feeds the walker until it completes an element (returned) or can take no more.
func (s *side) step() (*wire.Element, bool) {
	for {
		if len(s.chunk) == 0 {
			if s.pos == len(s.data) {
				return nil, false
			}
			n := s.ch.next(len(s.data) - s.pos)
			s.chunk, s.pos = s.data[s.pos:s.pos+n], s.pos+n
		}
		n, e := s.w.Next(s.chunk)
		s.chunk = s.chunk[n:]
		if e != nil {
			s.out = append(s.out, record(&s.w, e))
			return e, true
		}
		if n == 0 {
			return nil, false
		}
	}
}

// consumed is how many bytes of the stream the walker took.
func (s *side) consumed() int { return s.pos - len(s.chunk) }

// walkConversation walks both directions in lockstep (what the client walks up to each
// connect, then the server up to its reply, which is told to the client) and then each to
// its end: the order of what each learns from the other does not depend on the chunking.
func walkConversation(c2s, s2c []byte, cc, sc *chunker) (c, s *side) {
	c, s = newSide(wire.ClientToServer, c2s, cc), newSide(wire.ServerToClient, s2c, sc)
	for {
		connected := false
		for e, ok := c.step(); ok && !connected; e, ok = c.step() {
			if e.Kind == wire.ElemConnect {
				s.w.SetPeerFeatures(e.Connect.Features)
			}
			connected = e.Last && e.Frame == wire.FrameConnect
			if connected {
				break
			}
		}
		var tag wire.Tag
		replied := false
		for e, ok := s.step(); ok; e, ok = s.step() {
			if e.Kind == wire.ElemReply {
				c.w.SetPeerFeatures(e.Reply.Features)
				tag = e.Tag
			}
			if replied = e.Last && e.Frame == wire.FrameConnectReply; replied {
				break
			}
		}
		if !replied {
			break
		}
		c.w.PeerReply(tag)
		if !connected || s.w.Phase() != wire.PhaseReply {
			break
		}
	}
	for _, x := range []*side{c, s} {
		for _, ok := x.step(); ok; _, ok = x.step() {
		}
	}
	return c, s
}

// checkTiling: the elements cover the bytes the walker consumed, one after the other, and
// only an element in progress is left over.
func checkTiling(s *side) error {
	var at uint64
	for i, e := range s.out {
		if e.Off != at || e.Len == 0 {
			return fmt.Errorf("%v element %d (%v) at %d+%d, want offset %d", s.dir, i, e.Kind, e.Off, e.Len, at)
		}
		if e.Bytes != nil && uint64(len(e.Bytes)) != e.Len {
			return fmt.Errorf("element %d: %d bytes for length %d", i, len(e.Bytes), e.Len)
		}
		if e.Bytes != nil && !bytes.Equal(e.Bytes, s.data[e.Off:e.Off+e.Len]) {
			return fmt.Errorf("element %d: bytes differ from the stream", i)
		}
		at += e.Len
	}
	if got := uint64(s.consumed()); got != s.w.Offset() || got < at {
		return fmt.Errorf("consumed %d, offset %d, elements end at %d", got, s.w.Offset(), at)
	}
	if s.w.Offset() != at && (s.w.Phase() == wire.PhaseClosed || s.w.Phase() == wire.PhaseBadTag || s.w.Phase() == wire.PhaseAwaitReply) {
		return fmt.Errorf("walk stopped at %d inside an element ending at %d", s.w.Offset(), at)
	}
	return nil
}

// checkWalk walks a conversation whole, byte by byte and in the chunking of seed: the
// elements are the same, tile the consumed bytes, and the frames they end are the
// dissector's wherever it accepted the conversation.
func checkWalk(c2s, s2c []byte, seed uint64) error {
	wc, ws := walkConversation(c2s, s2c, &chunker{}, &chunker{})
	for _, s := range []*side{wc, ws} {
		if err := checkTiling(s); err != nil {
			return err
		}
	}
	for i, cs := range [][2]*chunker{
		{{fixed: 1}, {fixed: 1}},
		{{rng: rand.New(rand.NewPCG(seed, 1))}, {rng: rand.New(rand.NewPCG(seed, 2))}},
	} {
		c, s := walkConversation(c2s, s2c, cs[0], cs[1])
		if !reflect.DeepEqual(c.out, wc.out) || !reflect.DeepEqual(s.out, ws.out) {
			return fmt.Errorf("chunking %d: elements differ from the whole walk", i)
		}
	}
	cv, err := wire.DissectConversation(c2s, s2c, wire.DissectOptions{})
	if err != nil {
		return nil
	}
	for _, p := range []struct {
		st *wire.Stream
		s  *side
	}{{&cv.Client, wc}, {&cv.Server, ws}} {
		if err := sameFrames(p.st, p.s.out); err != nil {
			return fmt.Errorf("%v: %w", p.st.Dir, err)
		}
	}
	return nil
}

// sameFrames: the Walked frames (from the start of one to an element ending it) are the
// dissected ones.
func sameFrames(st *wire.Stream, out []Walked) error {
	var frames []Walked
	start := uint64(0)
	for _, e := range out {
		if e.Last {
			frames = append(frames, Walked{Frame: e.Frame, Off: start, Len: e.End() - start})
			start = e.End()
		}
	}
	if len(frames) != len(st.Frames) {
		return fmt.Errorf("%d frames Walked, %d dissected", len(frames), len(st.Frames))
	}
	for i, f := range st.Frames {
		if w := frames[i]; w.Frame != f.Kind || w.Off != uint64(f.Offset) || w.Len != uint64(f.Len) {
			return fmt.Errorf("frame %d Walked %v@%d+%d, dissected %v@%d+%d", i, w.Frame, w.Off, w.Len, f.Kind, f.Offset, f.Len)
		}
	}
	return nil
}

// End is the offset just past the element.
func (e Walked) End() uint64 { return e.Off + e.Len }

// walkAllocs is how many heap objects walking both streams whole allocates, with walkers
// reused: the least of a few walks, as other goroutines of a fuzzing process allocate now and
// then (testing.AllocsPerRun, which also counts them, stalls fuzz workers).
func walkAllocs(c2s, s2c []byte) uint64 {
	var c, s wire.Walker
	walk := func() {
		c.Reset(wire.ClientToServer)
		s.Reset(wire.ServerToClient)
		for _, x := range [2]struct {
			w *wire.Walker
			p []byte
		}{{&s, s2c}, {&c, c2s}} {
			for p := x.p; len(p) > 0; {
				n, e := x.w.Next(p)
				if n == 0 {
					break
				}
				p = p[n:]
				if e != nil && e.Kind == wire.ElemReply {
					c.PeerReply(e.Tag)
				}
			}
		}
	}
	walk() // the client's list of replies grows once
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		walk()
		runtime.ReadMemStats(&after)
		least = min(least, after.Mallocs-before.Mallocs)
	}
	return least
}
