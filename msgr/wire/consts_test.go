package wire

import (
	"errors"
	"strings"
	"testing"
)

func TestEntityTypes(t *testing.T) {
	for _, et := range []EntityType{EntityMon, EntityMDS, EntityOSD, EntityClient, EntityMgr, EntityAuth, EntityAny} {
		got, ok := ParseEntityType(et.String())
		if !ok || got != et {
			t.Errorf("%v does not round-trip: %v %v", et, got, ok)
		}
	}
	if _, ok := ParseEntityType("unknown3"); ok || EntityType(3).String() != "unknown3" {
		t.Error("unknown entity type")
	}
	if s := NewName(EntityOSD, 12).String(); s != "osd.12" {
		t.Errorf("%q", s)
	}
}

func TestTags(t *testing.T) {
	for tag := range 256 {
		tg := Tag(tag)
		if tg.Valid() != (tag >= 1 && tag <= 16) || tg.IsReply() && tg.IsFrame() {
			t.Errorf("tag %d: valid %v reply %v frame %v", tag, tg.Valid(), tg.IsReply(), tg.IsFrame())
		}
		if tg.Valid() != (tg.IsReply() || tg.IsFrame()) {
			t.Errorf("tag %v is neither a reply nor a frame tag", tg)
		}
	}
	if TagChallengeAuthorizer.String() != "CHALLENGE_AUTHORIZER" || Tag(0).String() != "TAG(0)" {
		t.Error("tag names")
	}
}

func TestSeqHelpers(t *testing.T) {
	b := make([]byte, SeqLen)
	PutSeq(b, 0x0102030405060708)
	wantBytes(t, "PutSeq", b, AppendSeq(nil, 0x0102030405060708))
	if v, err := DecodeSeq(b); err != nil || v != 0x0102030405060708 {
		t.Errorf("DecodeSeq = %#x, %v", v, err)
	}
	m := NewMessage(MsgPing, []byte("x"))
	if m.Header.Type != MsgPing || m.Header.Version != 1 || string(m.Front) != "x" {
		t.Errorf("NewMessage: %v", m)
	}
}

// TestDissectTruncatedAuthorizer: a stream that ends inside an authorizer is truncated.
func TestDissectTruncatedAuthorizer(t *testing.T) {
	s := newSynthetic().connect(Connect{Features: FeaturesAll}, []byte("authorizer"))
	s.reply(ConnectReply{Tag: TagReady, Features: FeaturesAll}, []byte("reply"))
	_, err := DissectConversation(s.c2s[:len(s.c2s)-1], s.s2c, DissectOptions{})
	wantErr(t, "connect authorizer", err, ErrTruncated)
	_, err = DissectConversation(s.c2s, s.s2c[:len(s.s2c)-1], DissectOptions{})
	wantErr(t, "reply authorizer", err, ErrTruncated)
	var de *DecodeError
	if !errors.As(err, &de) || de.What != "s2c CONNECT_REPLY" || de.Offset != ServerGreetingLen {
		t.Errorf("error %v", err)
	}
	for _, frame := range [][]byte{AppendAck(nil, 1), AppendKeepalive2(nil, Timespec{}), AppendKeepalive2Ack(nil, Timespec{})} {
		c2s := append(append([]byte(nil), s.c2s...), frame[:3]...)
		_, err := DissectConversation(c2s, s.s2c, DissectOptions{})
		wantErr(t, "truncated session frame", err, ErrTruncated)
		if err != nil && !strings.Contains(err.Error(), "c2s "+frameOfTag(Tag(frame[0])).String()) {
			t.Errorf("error does not name the frame: %v", err)
		}
	}
}

// TestClusterProtocol: the values Pacific's daemons set (ceph-mon 13, ceph-osd 10, ceph-mds 36,
// read from the Debian 16.2.15 binaries; ceph-mgr and clients set none).
func TestClusterProtocol(t *testing.T) {
	want := map[EntityType]uint32{EntityMon: 13, EntityOSD: 10, EntityMDS: 36, EntityMgr: 0, EntityClient: 0, EntityAuth: 0}
	for et, v := range want {
		if got := ClusterProtocol(et); got != v {
			t.Errorf("ClusterProtocol(%v) = %d, want %d", et, got, v)
		}
	}
}
