package wire

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
)

// walked is an Element as recorded by the tests: its bytes copied, only its kind's fields.
type walked struct {
	Kind       ElemKind
	Frame      FrameKind
	Off, Len   uint64
	Last       bool
	Bytes      []byte
	Tag        Tag
	Connect    Connect
	Reply      ConnectReply
	Header     Header
	Msg        MessageLayout
	OldFooter  bool
	PhaseAfter Phase
}

func record(w *Walker, e *Element) walked {
	r := walked{Kind: e.Kind, Frame: e.Frame, Off: e.Off, Len: e.Len, Last: e.Last,
		Bytes: bytes.Clone(e.Bytes), PhaseAfter: w.Phase()}
	switch e.Kind {
	case ElemTag:
		r.Tag = e.Tag
	case ElemConnect:
		r.Connect = e.Connect
	case ElemReply:
		r.Tag, r.Reply = e.Tag, e.Reply
	case ElemHeader:
		r.Header, r.Msg, r.OldFooter = e.Header, e.Msg, w.OldFooter()
	case ElemFront, ElemMiddle, ElemData, ElemFooter:
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

// side is one direction being walked in chunks.
type side struct {
	dir   Direction
	w     Walker
	data  []byte
	pos   int // bytes handed to the walker
	chunk []byte
	ch    *chunker
	out   []walked
}

func newSide(dir Direction, data []byte, ch *chunker) *side {
	s := &side{dir: dir, data: data, ch: ch}
	s.w.Reset(dir)
	return s
}

// step feeds the walker until it completes an element (returned) or can take no more.
func (s *side) step() (*Element, bool) {
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
	c, s = newSide(ClientToServer, c2s, cc), newSide(ServerToClient, s2c, sc)
	for {
		connected := false
		for e, ok := c.step(); ok && !connected; e, ok = c.step() {
			if e.Kind == ElemConnect {
				s.w.SetPeerFeatures(e.Connect.Features)
			}
			connected = e.Last && e.Frame == FrameConnect
			if connected {
				break
			}
		}
		var tag Tag
		replied := false
		for e, ok := s.step(); ok; e, ok = s.step() {
			if e.Kind == ElemReply {
				c.w.SetPeerFeatures(e.Reply.Features)
				tag = e.Tag
			}
			if replied = e.Last && e.Frame == FrameConnectReply; replied {
				break
			}
		}
		if !replied {
			break
		}
		c.w.PeerReply(tag)
		if !connected || s.w.Phase() != PhaseReply {
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
	if s.w.Offset() != at && (s.w.Phase() == PhaseClosed || s.w.Phase() == PhaseBadTag || s.w.Phase() == PhaseAwaitReply) {
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
	cv, err := DissectConversation(c2s, s2c, DissectOptions{})
	if err != nil {
		return nil
	}
	for _, p := range []struct {
		st *Stream
		s  *side
	}{{&cv.Client, wc}, {&cv.Server, ws}} {
		if err := sameFrames(p.st, p.s.out); err != nil {
			return fmt.Errorf("%v: %w", p.st.Dir, err)
		}
	}
	return nil
}

// sameFrames: the walked frames (from the start of one to an element ending it) are the
// dissected ones.
func sameFrames(st *Stream, out []walked) error {
	var frames []walked
	start := uint64(0)
	for _, e := range out {
		if e.Last {
			frames = append(frames, walked{Frame: e.Frame, Off: start, Len: e.End() - start})
			start = e.End()
		}
	}
	if len(frames) != len(st.Frames) {
		return fmt.Errorf("%d frames walked, %d dissected", len(frames), len(st.Frames))
	}
	for i, f := range st.Frames {
		if w := frames[i]; w.Frame != f.Kind || w.Off != uint64(f.Offset) || w.Len != uint64(f.Len) {
			return fmt.Errorf("frame %d walked %v@%d+%d, dissected %v@%d+%d", i, w.Frame, w.Off, w.Len, f.Kind, f.Offset, f.Len)
		}
	}
	return nil
}

func (e walked) End() uint64 { return e.Off + e.Len }

// Every captured conversation walks to the same elements in any chunking, and those elements
// are the dissector's frames.
func TestWalkCapturesAnyChunking(t *testing.T) {
	for _, c := range loadCaptures(t) {
		for seed := range uint64(20) {
			if err := checkWalk(c.c2s, c.s2c, seed); err != nil {
				t.Fatalf("%s seed %d: %v", c.name, seed, err)
			}
		}
	}
}

// The walk of a captured conversation: the handshake elements, and every message's layout
// where the dissector found its sections.
func TestWalkCaptureElements(t *testing.T) {
	c := loadCapture(t, "ceph-s-msgr1.conn1")
	wc, ws := walkConversation(c.c2s, c.s2c, &chunker{}, &chunker{})
	kinds := func(out []walked, n int) []ElemKind {
		var ks []ElemKind
		for _, e := range out[:n] {
			ks = append(ks, e.Kind)
		}
		return ks
	}
	wantC := []ElemKind{ElemBanner, ElemAddr, ElemConnect, ElemSeq, ElemTag, ElemTimespec, ElemTag, ElemHeader, ElemFront, ElemFooter}
	wantS := []ElemKind{ElemBanner, ElemAddr, ElemAddr, ElemReply, ElemSeq, ElemTag, ElemTimespec, ElemTag, ElemHeader, ElemFront, ElemFooter}
	if got := kinds(wc.out, len(wantC)); !reflect.DeepEqual(got, wantC) {
		t.Errorf("client elements %v", got)
	}
	if got := kinds(ws.out, len(wantS)); !reflect.DeepEqual(got, wantS) {
		t.Errorf("server elements %v", got)
	}
	if r := ws.out[3]; r.Tag != TagSeq || r.Reply.Features != FeaturesAll || r.Frame != FrameConnectReply || !r.Last {
		t.Errorf("reply %+v", r)
	}
	cv, err := DissectConversation(c.c2s, c.s2c, DissectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var layouts []MessageLayout
	for _, e := range ws.out {
		if e.Kind == ElemHeader {
			layouts = append(layouts, e.Msg)
		}
	}
	var msgs []*Frame
	for i := range cv.Server.Frames {
		if cv.Server.Frames[i].Kind == FrameMsg {
			msgs = append(msgs, &cv.Server.Frames[i])
		}
	}
	if len(layouts) != len(msgs) || len(msgs) != 8 {
		t.Fatalf("%d layouts, %d messages", len(layouts), len(msgs))
	}
	for i, f := range msgs {
		l, m := layouts[i], f.Msg
		at := uint64(f.Offset) + 1
		want := MessageLayout{Header: at, FrontEnd: at + HeaderLen + uint64(len(m.Front))}
		want.MiddleEnd = want.FrontEnd + uint64(len(m.Middle))
		want.DataEnd = want.MiddleEnd + uint64(len(m.Data))
		want.End = want.DataEnd + FooterLen
		if l != want || want.End != uint64(f.Offset+f.Len) {
			t.Errorf("message %d: layout %+v, want %+v", i, l, want)
		}
	}
}

// What a message's layout says is protected is: flipping a byte of the first range, or the
// COMPLETE bit of the flags byte, makes the message fail to decode; the signature between
// them is not checked.
func TestMessageLayoutProtected(t *testing.T) {
	for _, old := range []bool{false, true} {
		m := osdMessage(3, NewName(EntityOSD, 1))
		frame := AppendMessageFrame(nil, m, old)
		w := NewWalker(ClientToServer)
		w.SetPeerFeatures(FeaturesAll)
		if old {
			w.SetPeerFeatures(FeaturesAll &^ FeatureMsgAuth)
		}
		w.PeerReply(TagReady)
		s := newSynthetic().connect(Connect{Features: FeaturesAll}, nil)
		stream := append(s.c2s, frame...)
		var l MessageLayout
		for p := stream; len(p) > 0; {
			n, e := w.Next(p)
			p = p[n:]
			if e != nil && e.Kind == ElemHeader {
				l = e.Msg
			}
		}
		base := uint64(len(s.c2s)) + 1 // the header, after the tag
		prot := l.Protected()
		if l.Header != base || l.End != uint64(len(stream)) || prot[1] != (Span{l.End - 1, l.End}) {
			t.Fatalf("old %v: layout %+v", old, l)
		}
		for off := base; off < l.End; off++ {
			mut := bytes.Clone(stream)
			mut[off] ^= 0x01
			_, _, err := DecodeMessage(mut[base:], old, Limits{})
			inside := off >= prot[0].Start && off < prot[0].End || off >= prot[1].Start
			if inside && err == nil || !inside && err != nil {
				t.Fatalf("old %v: flip at %d (protected %v): %v", old, off-base, inside, err)
			}
		}
		b := l.Bounds()
		if b[0] != base+HeaderCRCLen || b[1] != base+HeaderLen || b[4] != l.DataEnd || b[7] != l.DataEnd+12 {
			t.Errorf("bounds %v", b)
		}
	}
}

// The client's walker waits at each connect until it is told the server's reply; replies
// may be told ahead; a reply that is neither connect-again nor opening closes the walk.
func TestWalkReplies(t *testing.T) {
	conn := Connect{Features: FeaturesAll, HostType: EntityOSD}
	s := newSynthetic().connect(conn, []byte("auth")).connect(conn, nil)
	s.c2s = AppendKeepalive(s.c2s)
	walk := func(w *Walker, p []byte) (int, []ElemKind) {
		var ks []ElemKind
		total := 0
		for len(p) > 0 {
			n, e := w.Next(p)
			if n == 0 {
				break
			}
			total += n
			p = p[n:]
			if e != nil {
				ks = append(ks, e.Kind)
			}
		}
		return total, ks
	}
	w := NewWalker(ClientToServer)
	n, ks := walk(w, s.c2s)
	if first := ClientGreetingLen + ConnectLen + 4; n != first || w.Phase() != PhaseAwaitReply || len(ks) != 4 {
		t.Fatalf("walked %d bytes %v, phase %v", n, ks, w.Phase())
	}
	w.PeerReply(TagRetrySession)
	w.PeerReply(TagReady) // told ahead of the second connect
	m, ks := walk(w, s.c2s[n:])
	if m != len(s.c2s)-n || !reflect.DeepEqual(ks, []ElemKind{ElemConnect, ElemTag}) || w.Phase() != PhaseSession {
		t.Fatalf("walked %d more bytes %v, phase %v", m, ks, w.Phase())
	}
	w = NewWalker(ClientToServer)
	w.PeerReply(TagWait)
	w.PeerReply(TagReady)
	if n, _ := walk(w, s.c2s); n != ClientGreetingLen+ConnectLen+4 || w.Phase() != PhaseClosed {
		t.Fatalf("after WAIT walked %d bytes, phase %v", n, w.Phase())
	}
	// A server walker goes on after RETRY_* and stops after a rejection; PeerReply is ignored.
	r := newSynthetic().reply(ConnectReply{Tag: TagRetryGlobal}, nil).reply(ConnectReply{Tag: TagBadProtoVer}, nil)
	w = NewWalker(ServerToClient)
	w.PeerReply(TagReady)
	if n, ks := walk(w, append(r.s2c, 1, 2, 3)); n != len(r.s2c) || len(ks) != 5 || w.Phase() != PhaseClosed {
		t.Fatalf("server walked %d bytes %v, phase %v", n, ks, w.Phase())
	}
}

// A byte that is not a session frame tag ends the walk after it, as a frame of its own.
func TestWalkBadTag(t *testing.T) {
	w := NewWalker(ServerToClient)
	s := newSynthetic().reply(ConnectReply{Tag: TagReady, Features: FeaturesAll}, nil)
	p := append(AppendKeepalive(s.s2c), 99, byte(TagKeepalive))
	var last *Element
	for len(p) > 0 {
		n, e := w.Next(p)
		if n == 0 {
			break
		}
		p, last = p[n:], e
	}
	if len(p) != 1 || w.Phase() != PhaseBadTag || last.Kind != ElemTag || last.Tag != 99 || last.Frame != 0 || !last.Last {
		t.Fatalf("left %d, phase %v, last %+v", len(p), w.Phase(), last)
	}
}

// The footer size follows both sides' features, this side's own when the other's are unknown.
func TestWalkFooterSize(t *testing.T) {
	old := FeaturesAll &^ FeatureMsgAuth
	for _, tc := range []struct {
		own, peer uint64
		told      bool
		want      bool
	}{
		{FeaturesAll, 0, false, false},
		{old, 0, false, true},
		{FeaturesAll, old, true, true},
		{FeaturesAll, 0, true, true},
		{FeaturesAll, FeaturesAll, true, false},
		{old, FeaturesAll, true, true},
	} {
		w := NewWalker(ClientToServer)
		if tc.told {
			w.SetPeerFeatures(tc.peer)
		}
		w.PeerReply(TagReady)
		p := newSynthetic().connect(Connect{Features: tc.own}, nil).c2s
		for len(p) > 0 {
			n, _ := w.Next(p)
			p = p[n:]
		}
		if w.OldFooter() != tc.want {
			t.Errorf("%+v: old footer %v", tc, w.OldFooter())
		}
	}
}

// Walking allocates nothing, whatever lengths the peer announces and however the bytes come.
func TestWalkDoesNotAllocate(t *testing.T) {
	c := loadCapture(t, "ceph-s-msgr1.conn1")
	huge := newSynthetic().connect(Connect{Features: FeaturesAll}, nil).c2s
	h := Header{Seq: 1, FrontLen: 0xffffffff, DataLen: 0xffffffff}
	var hb [HeaderLen]byte
	h.Encode(hb[:], true)
	huge = append(append(huge, byte(TagMsg)), hb[:]...)
	huge = append(huge, make([]byte, 4096)...)
	var w Walker
	for _, tc := range []struct {
		dir   Direction
		data  []byte
		reply Tag
	}{{ClientToServer, c.c2s, TagSeq}, {ServerToClient, c.s2c, 0}, {ClientToServer, huge, TagReady}} {
		for _, chunk := range []int{1, 7, len(tc.data)} {
			allocs := testing.AllocsPerRun(3, func() {
				w.Reset(tc.dir)
				w.PeerReply(tc.reply)
				for off := 0; off < len(tc.data); off += chunk {
					for p := tc.data[off:min(off+chunk, len(tc.data))]; len(p) > 0; {
						n, _ := w.Next(p)
						if n == 0 {
							return
						}
						p = p[n:]
					}
				}
			})
			if allocs != 0 || w.Offset() != uint64(len(tc.data)) {
				t.Errorf("%v %d bytes in chunks of %d: %v allocations, walked %d", tc.dir, len(tc.data), chunk, allocs, w.Offset())
			}
		}
	}
}

// FuzzWalk walks arbitrary conversations: no panic, the same elements in any chunking, the
// elements tile what was walked, the dissector's frames where it accepts the input, and no
// allocation from peer-supplied lengths (a few fixed ones per walk at most).
func FuzzWalk(f *testing.F) {
	for _, c := range loadCaptures(f) {
		f.Add(c.c2s[:min(len(c.c2s), 1000)], c.s2c[:min(len(c.s2c), 1000)], uint64(1))
	}
	s := newSynthetic().connect(Connect{Features: FeaturesAll &^ FeatureMsgAuth}, []byte{1, 2})
	s.reply(ConnectReply{Tag: TagRetryGlobal, Features: FeaturesAll}, nil).connect(Connect{Features: FeaturesAll &^ FeatureMsgAuth}, nil)
	s.reply(ConnectReply{Tag: TagReady, Features: FeaturesAll}, []byte{3})
	s.c2s = AppendClose(AppendKeepalive(AppendAck(AppendMessageFrame(s.c2s, mpingMessage(), true), 1)))
	f.Add(s.c2s, s.s2c, uint64(2))
	f.Fuzz(func(t *testing.T, c2s, s2c []byte, seed uint64) {
		if len(c2s)+len(s2c) > 1<<16 {
			t.Skip("large inputs make minimization slow")
		}
		if err := checkWalk(c2s, s2c, seed); err != nil {
			t.Fatal(err)
		}
		if allocs := walkAllocs(c2s, s2c); allocs != 0 {
			t.Fatalf("walking allocated %v times", allocs)
		}
	})
}

// walkAllocs is how many heap objects walking both streams whole allocates, with walkers
// reused: the least of a few walks, as other goroutines of a fuzzing process allocate now and
// then (testing.AllocsPerRun, which also counts them, stalls fuzz workers).
func walkAllocs(c2s, s2c []byte) uint64 {
	var c, s Walker
	walk := func() {
		c.Reset(ClientToServer)
		s.Reset(ServerToClient)
		for _, x := range [2]struct {
			w *Walker
			p []byte
		}{{&s, s2c}, {&c, c2s}} {
			for p := x.p; len(p) > 0; {
				n, e := x.w.Next(p)
				if n == 0 {
					break
				}
				p = p[n:]
				if e != nil && e.Kind == ElemReply {
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

func TestElemKindStrings(t *testing.T) {
	for k := ElemBanner; k <= ElemFooter; k++ {
		if s := k.String(); s == "" || s[0] == 'E' {
			t.Errorf("%d: %q", k, s)
		}
	}
	if ElemKind(0).String() != "ELEMKIND(0)" {
		t.Error("unknown kind")
	}
}
