package wire_test

import (
	"reflect"
	"testing"

	"github.com/msgrsim/msgrsim/fuzz/wirefuzz"
	"github.com/msgrsim/msgrsim/internal/fuzzing"
	. "github.com/msgrsim/msgrsim/msgr/wire"
)

// The walker's conversation checks live in fuzz/wirefuzz (walk.go), shared by FuzzWalk, its
// go-fuzz entry point and the capture tests below.

// Every captured conversation walks to the same elements in any chunking, and those elements
// are the dissector's frames; walking them allocates nothing.
func TestWalkCapturesAnyChunking(t *testing.T) {
	for _, c := range LoadCaptures(t) {
		for seed := range uint64(20) {
			if err := wirefuzz.CheckWalkAnyLength(c.C2S, c.S2C, seed); err != nil {
				t.Fatalf("%s seed %d: %v", c.Name, seed, err)
			}
		}
	}
}

// The walk of a captured conversation: the handshake elements, and every message's layout
// where the dissector found its sections.
func TestWalkCaptureElements(t *testing.T) {
	c := LoadCapture(t, "ceph-s-msgr1.conn1")
	wc, ws := wirefuzz.WalkWhole(c.C2S, c.S2C)
	kinds := func(out []wirefuzz.Walked, n int) []ElemKind {
		var ks []ElemKind
		for _, e := range out[:n] {
			ks = append(ks, e.Kind)
		}
		return ks
	}
	wantC := []ElemKind{ElemBanner, ElemAddr, ElemConnect, ElemSeq, ElemTag, ElemTimespec, ElemTag, ElemHeader, ElemFront, ElemFooter}
	wantS := []ElemKind{ElemBanner, ElemAddr, ElemAddr, ElemReply, ElemSeq, ElemTag, ElemTimespec, ElemTag, ElemHeader, ElemFront, ElemFooter}
	if got := kinds(wc, len(wantC)); !reflect.DeepEqual(got, wantC) {
		t.Errorf("client elements %v", got)
	}
	if got := kinds(ws, len(wantS)); !reflect.DeepEqual(got, wantS) {
		t.Errorf("server elements %v", got)
	}
	if r := ws[3]; r.Tag != TagSeq || r.Reply.Features != FeaturesAll || r.Frame != FrameConnectReply || !r.Last {
		t.Errorf("reply %+v", r)
	}
	cv, err := DissectConversation(c.C2S, c.S2C, DissectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var layouts []MessageLayout
	for _, e := range ws {
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

// FuzzWalk walks arbitrary conversations: no panic, the same elements in any chunking, the
// elements tile what was walked, the dissector's frames where it accepts the input, and no
// allocation from peer-supplied lengths (a few fixed ones per walk at most).
func FuzzWalk(f *testing.F) {
	for _, c := range LoadCaptures(f) {
		f.Add(c.C2S[:min(len(c.C2S), 1000)], c.S2C[:min(len(c.S2C), 1000)], uint64(1))
	}
	s := NewSynthetic().Connect(Connect{Features: FeaturesAll &^ FeatureMsgAuth}, []byte{1, 2})
	s = s.Reply(ConnectReply{Tag: TagRetryGlobal, Features: FeaturesAll}, nil).Connect(Connect{Features: FeaturesAll &^ FeatureMsgAuth}, nil)
	s = s.Reply(ConnectReply{Tag: TagReady, Features: FeaturesAll}, []byte{3})
	c2s, s2c := s.Streams()
	c2s = AppendClose(AppendKeepalive(AppendAck(AppendMessageFrame(c2s, MPingMessage(), true), 1)))
	f.Add(c2s, s2c, uint64(2))
	f.Fuzz(func(t *testing.T, c2s, s2c []byte, seed uint64) {
		fuzzing.Report(t, wirefuzz.CheckWalk(c2s, s2c, seed))
	})
}
