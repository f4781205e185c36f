package wire

import (
	"bytes"
	"reflect"
	"testing"
)

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
