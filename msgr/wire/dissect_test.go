package wire

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// msgSummary is what the tests pin for each message of a capture.
type msgSummary struct {
	seq, tid               uint64
	typ, prio, ver, compat uint16
	front, middle, data    uint32
	src                    string
}

func summarize(ms []*Message) []msgSummary {
	var out []msgSummary
	for _, m := range ms {
		h := &m.Header
		out = append(out, msgSummary{h.Seq, h.Tid, h.Type, h.Priority, h.Version, h.CompatVersion,
			h.FrontLen, h.MiddleLen, h.DataLen, h.Src.String()})
	}
	return out
}

// The messages of ceph-lab/README.md "Messages seen" (conn1) and of the bootstrap connection.
var (
	conn0Client = []msgSummary{
		{1, 0, MsgAuth, 127, 1, 1, 60, 0, 0, "client.-1"},
		{2, 0, MsgMonSubscribe, 127, 3, 1, 48, 0, 0, "client.-1"},
	}
	conn0Server = []msgSummary{
		{1, 0, MsgAuthReply, 196, 1, 1, 24, 0, 0, "mon.0"},
		{2, 0, MsgMonMap, 196, 1, 1, 170, 0, 0, "mon.0"},
		{3, 0, MsgConfig, 196, 1, 1, 4, 0, 0, "mon.0"},
		{4, 0, MsgMonMap, 196, 1, 1, 170, 0, 0, "mon.0"},
	}
	conn1Client = []msgSummary{
		{1, 0, MsgAuth, 127, 1, 1, 60, 0, 0, "client.-1"},
		{2, 0, MsgMonSubscribe, 127, 3, 1, 48, 0, 0, "client.-1"},
		{3, 0, MsgMonSubscribe, 127, 3, 1, 29, 0, 0, "client.4123"},
		{4, 0, MsgMonSubscribe, 127, 3, 1, 29, 0, 0, "client.4123"},
		{5, 1, MsgMonCommand, 127, 1, 1, 80, 0, 0, "client.4123"},
		{6, 2, MsgMonCommand, 127, 1, 1, 62, 0, 0, "client.4123"},
	}
	conn1Server = []msgSummary{
		{1, 0, MsgAuthReply, 196, 1, 1, 24, 0, 0, "mon.0"},
		{2, 0, MsgMonMap, 196, 1, 1, 170, 0, 0, "mon.0"},
		{3, 0, MsgConfig, 196, 1, 1, 4, 0, 0, "mon.0"},
		{4, 0, MsgMonMap, 196, 1, 1, 170, 0, 0, "mon.0"},
		{5, 0, MsgMgrMap, 196, 1, 1, 495, 0, 0, "mon.0"},
		{6, 0, MsgOSDMap, 196, 4, 3, 690, 0, 0, "mon.0"},
		{7, 1, MsgMonCommandAck, 196, 1, 1, 72, 0, 73271, "mon.0"},
		{8, 2, MsgMonCommandAck, 196, 1, 1, 54, 0, 310, "mon.0"},
	}
	fakeReadyClient = []msgSummary{
		{1, 0, MsgAuth, 127, 1, 1, 60, 0, 0, "client.-1"},
	}
)

func kinds(s *Stream) []FrameKind {
	var ks []FrameKind
	for _, f := range s.Frames {
		ks = append(ks, f.Kind)
	}
	return ks
}

func TestDissectCaptures(t *testing.T) {
	seqHandshakeC := []FrameKind{FrameBanner, FrameAddr, FrameConnect, FrameSeq, FrameKeepalive2}
	seqHandshakeS := []FrameKind{FrameBanner, FrameAddr, FrameAddr, FrameConnectReply, FrameSeq, FrameKeepalive2Ack}
	tests := []struct {
		name             string
		tag              Tag
		globalSeq        uint32
		connectFlags     uint8
		handshakeC       []FrameKind
		handshakeS       []FrameKind
		client, server   []msgSummary
		clientN, serverN int // stream lengths
		sessionC         int
		globalID         uint64
	}{
		{"ceph-s-msgr1.conn0", TagSeq, 26, 0, seqHandshakeC, seqHandshakeS, conn0Client, conn0Server, 453, 992, 186, 4122},
		{"ceph-s-msgr1.conn1", TagSeq, 27, ConnectLossy, seqHandshakeC, seqHandshakeS, conn1Client, conn1Server, 953, 76184, 186, 4123},
		{"ceph-vs-fake-ready-msgr1.conn0", TagReady, 1, 0,
			[]FrameKind{FrameBanner, FrameAddr, FrameConnect, FrameKeepalive2},
			[]FrameKind{FrameBanner, FrameAddr, FrameAddr, FrameConnectReply}, fakeReadyClient, nil, 322, 307, 178, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := loadCapture(t, tt.name)
			if len(c.c2s) != tt.clientN || len(c.s2c) != tt.serverN {
				t.Fatalf("capture sizes %d/%d", len(c.c2s), len(c.s2c))
			}
			cv, err := DissectConversation(c.c2s, c.s2c, DissectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// Handshake.
			if !cv.Open || cv.Reply.Tag != tt.tag || cv.Reply.GlobalSeq != tt.globalSeq || cv.Reply.ConnectSeq != 1 {
				t.Errorf("reply %+v open %v", cv.Reply, cv.Open)
			}
			if cv.Reply.Features != 0x3f01cfbdfffdffff || cv.Reply.Flags != ConnectLossy || cv.Reply.ProtocolVersion != ProtoMonClient {
				t.Errorf("reply %+v", cv.Reply)
			}
			wantConnect := Connect{Features: 0x3f01cfbdfffdffff, HostType: EntityClient, GlobalSeq: 1,
				ProtocolVersion: ProtoMonClient, Flags: tt.connectFlags}
			if cv.Connect != wantConnect {
				t.Errorf("connect %+v, want %+v", cv.Connect, wantConnect)
			}
			if cv.Features != FeaturesAll || cv.OldFooter || cv.Client.OldFooter || cv.Server.OldFooter {
				t.Errorf("features %#x old footer %v", cv.Features, cv.OldFooter)
			}
			if cv.Client.SessionOffset != tt.sessionC || !cv.Client.Open || !cv.Server.Open {
				t.Errorf("session offsets %d/%d", cv.Client.SessionOffset, cv.Server.SessionOffset)
			}
			checkAddrs(t, cv)
			if got := kinds(&cv.Client)[:len(tt.handshakeC)]; !reflect.DeepEqual(got, tt.handshakeC) {
				t.Errorf("client frames %v", got)
			}
			if got := kinds(&cv.Server)[:len(tt.handshakeS)]; !reflect.DeepEqual(got, tt.handshakeS) {
				t.Errorf("server frames %v", got)
			}
			// Messages, each with every crc verified by the dissector.
			if got := summarize(cv.Client.Messages()); !reflect.DeepEqual(got, tt.client) {
				t.Errorf("client messages\n got %v\nwant %v", got, tt.client)
			}
			if got := summarize(cv.Server.Messages()); !reflect.DeepEqual(got, tt.server) {
				t.Errorf("server messages\n got %v\nwant %v", got, tt.server)
			}
			checkKeepalives(t, cv)
			checkAuth(t, cv, tt.globalID)
			// Byte for byte.
			wantBytes(t, "c2s re-encoded", cv.Client.Append(nil), c.c2s)
			wantBytes(t, "s2c re-encoded", cv.Server.Append(nil), c.s2c)
			if cv.Client.Len() != len(c.c2s) || cv.Server.Len() != len(c.s2c) {
				t.Errorf("Len %d/%d", cv.Client.Len(), cv.Server.Len())
			}
		})
	}
}

func checkAddrs(t *testing.T, cv *Conversation) {
	t.Helper()
	ca, sa, peer := cv.Client.Frames[1].Addr, cv.Server.Frames[1].Addr, cv.Server.Frames[2].Addr
	if ca.Type != AddrLegacy || ca.Addr.Addr() != netip.MustParseAddr("127.0.0.1") || ca.Port() != 0 || ca.Nonce == 0 {
		t.Errorf("client addr %v", ca)
	}
	if sa.Nonce != 0 || sa.Addr.Addr() != netip.MustParseAddr("127.0.0.1") || (sa.Port() != 6789 && sa.Port() != 16789) {
		t.Errorf("server addr %v", sa)
	}
	if peer.Nonce != 0 || peer.Port() == 0 {
		t.Errorf("peer addr as seen %v", peer)
	}
}

// checkKeepalives: the mon echoes the client's KEEPALIVE2 timestamp.
func checkKeepalives(t *testing.T, cv *Conversation) {
	t.Helper()
	var ka, ack []Timespec
	for _, f := range cv.Client.Frames {
		if f.Kind == FrameKeepalive2 {
			ka = append(ka, f.Time)
		}
	}
	for _, f := range cv.Server.Frames {
		if f.Kind == FrameKeepalive2Ack {
			ack = append(ack, f.Time)
		}
	}
	if len(ka) != 1 || (len(ack) == 1 && ack[0] != ka[0]) {
		t.Errorf("keepalive2 %v, ack %v", ka, ack)
	}
}

// checkAuth decodes the client's MAuth and the mon's MAuthReply.
func checkAuth(t *testing.T, cv *Conversation, globalID uint64) {
	t.Helper()
	ma, err := DecodeMAuth(cv.Client.Messages()[0].Front)
	if err != nil {
		t.Fatal(err)
	}
	if ma.Protocol != AuthUnknown || ma.SessionMon != -1 || ma.MonmapEpoch != 0 {
		t.Errorf("MAuth %+v", ma)
	}
	req, err := DecodeAuthNoneRequest(ma.AuthPayload)
	if err != nil {
		t.Fatal(err)
	}
	wantReq := AuthNoneRequest{Methods: []uint32{AuthNone}, Name: AuthEntityName{Type: uint32(EntityClient), ID: "admin"}}
	if !reflect.DeepEqual(req, wantReq) || req.Name.String() != "client.admin" {
		t.Errorf("auth request %+v", req)
	}
	if globalID == 0 {
		return // the fake server never answered
	}
	rep, err := DecodeMAuthReply(cv.Server.Messages()[0].Front)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Protocol != AuthNone || rep.Result != 0 || rep.GlobalID != globalID || rep.ResultBl != nil || rep.ResultMsg != "" {
		t.Errorf("MAuthReply %+v", rep)
	}
	// After the reply the client names itself client.<global_id>.
	for _, m := range cv.Client.Messages()[2:] {
		if m.Header.Src != NewName(EntityClient, int64(globalID)) {
			t.Errorf("src %v after global id %d", m.Header.Src, globalID)
		}
	}
}

func TestDissectLargeDataSection(t *testing.T) {
	c := loadCapture(t, "ceph-s-msgr1.conn1")
	cv, err := DissectConversation(c.c2s, c.s2c, DissectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var f *Frame
	for i := range cv.Server.Frames {
		if m := cv.Server.Frames[i].Msg; m != nil && len(m.Data) == 73271 {
			f = &cv.Server.Frames[i]
		}
	}
	if f == nil || f.Offset != 2327 || f.Len != 1+HeaderLen+72+73271+FooterLen {
		t.Fatalf("73271-byte message not found: %+v", f)
	}
	m := f.Msg
	if m.Footer.DataCRC != CRC32C(0, m.Data) || m.Footer.DataCRC == 0 || m.Footer.Flags != FooterComplete || m.Footer.Sig != 0 {
		t.Errorf("footer %+v", m.Footer)
	}
	if !bytes.Contains(m.Data, []byte(`"sig"`)) { // get_command_descriptions output is JSON
		t.Errorf("data does not look like the command descriptions: %q", m.Data[:40])
	}
	// The data section aliases the stream: no copy of 73 KiB.
	if &m.Data[0] != &c.s2c[f.Offset+1+HeaderLen+72] {
		t.Error("data section was copied")
	}
}

// TestDissectSingleDirection: Dissect on one stream finds what DissectConversation finds.
func TestDissectSingleDirection(t *testing.T) {
	for _, c := range loadCaptures(t) {
		cv, err := DissectConversation(c.c2s, c.s2c, DissectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		opts := DissectOptions{}
		if cv.Reply.Tag == TagReady { // the fake server answered READY to a client advertising RECONNECT_SEQ
			opts.FinalReply = TagReady
		}
		cs, err := Dissect(ClientToServer, c.c2s, opts)
		if err != nil || !reflect.DeepEqual(cs.Frames, cv.Client.Frames) || cs.OldFooter {
			t.Errorf("%s c2s: %v", c.name, err)
		}
		ss, err := Dissect(ServerToClient, c.s2c, DissectOptions{})
		if err != nil || !reflect.DeepEqual(ss.Frames, cv.Server.Frames) {
			t.Errorf("%s s2c: %v", c.name, err)
		}
		if !strings.HasPrefix(ss.String(), "s2c@0 BANNER\ns2c@9 ADDR v1:127.0.0.1:") {
			t.Errorf("String():\n%s", ss.String())
		}
	}
	// Without the option the READY case is taken for SEQ and the KEEPALIVE2 read as in_seq.
	c := loadCapture(t, "ceph-vs-fake-ready-msgr1.conn0")
	if _, err := Dissect(ClientToServer, c.c2s, DissectOptions{}); err == nil {
		t.Error("fake-ready c2s dissected as SEQ without error")
	}
	if _, err := Dissect(Direction(7), nil, DissectOptions{}); err == nil {
		t.Error("unknown direction accepted")
	}
}

// frameEnds returns the offsets at which a stream may end cleanly.
func frameEnds(s *Stream) map[int]bool {
	ends := map[int]bool{0: true}
	for _, f := range s.Frames {
		ends[f.Offset+f.Len] = true
	}
	return ends
}

// TestDissectTruncated cuts every stream at every length: at a frame boundary it dissects
// cleanly, anywhere else the error says the stream is truncated, and the frames before the
// cut are kept and re-encode to the bytes before the cut.
func TestDissectTruncated(t *testing.T) {
	for _, c := range loadCaptures(t) {
		opts := DissectOptions{}
		if strings.Contains(c.name, "fake-ready") {
			opts.FinalReply = TagReady
		}
		for _, dir := range []Direction{ClientToServer, ServerToClient} {
			data := c.c2s
			if dir == ServerToClient {
				data = c.s2c
			}
			full, err := Dissect(dir, data, opts)
			if err != nil {
				t.Fatal(err)
			}
			ends := frameEnds(full)
			step := 1
			if len(data) > 5000 {
				step = 7 // the 76 KiB stream: every 7th cut, and every boundary below
			}
			for cut := 0; cut <= len(data); cut++ {
				if cut%step != 0 && !ends[cut] && !ends[cut-1] && !ends[cut+1] {
					continue
				}
				checkCut(t, c.name, dir, data, cut, ends[cut], opts)
			}
		}
	}
}

func checkCut(t *testing.T, name string, dir Direction, data []byte, cut int, boundary bool, opts DissectOptions) {
	t.Helper()
	st, err := Dissect(dir, data[:cut], opts)
	switch {
	case boundary && err != nil:
		t.Fatalf("%s %v cut at boundary %d: %v", name, dir, cut, err)
	case !boundary && (!errors.Is(err, ErrTruncated) || !errors.Is(err, ErrShort)):
		t.Fatalf("%s %v cut at %d: error %v, want truncated", name, dir, cut, err)
	case !boundary && !strings.Contains(err.Error(), "truncated"):
		t.Fatalf("error does not say truncated: %v", err)
	}
	if !bytes.Equal(st.Append(nil), data[:st.Len()]) || st.Len() > cut {
		t.Fatalf("%s %v cut %d: kept frames do not re-encode to the prefix", name, dir, cut)
	}
}

func TestDissectConversationTruncated(t *testing.T) {
	c := loadCapture(t, "ceph-s-msgr1.conn1")
	cut := len(c.s2c) - 10 // inside the last footer
	cv, err := DissectConversation(c.c2s, c.s2c[:cut], DissectOptions{})
	wantErr(t, "truncated s2c", err, ErrTruncated, ErrShort)
	var de *DecodeError
	if !errors.As(err, &de) || de.Offset != 75745 || de.What != "s2c MSG" {
		t.Errorf("error %v, want s2c MSG at 75745", err)
	}
	if n := len(cv.Server.Messages()); n != 7 || len(cv.Client.Messages()) != 6 {
		t.Errorf("kept %d server messages", n)
	}
}

func TestDissectCRCErrors(t *testing.T) {
	c := loadCapture(t, "ceph-s-msgr1.conn0")
	const msgAt, footerAt, end = 195, 195 + 1 + HeaderLen + 60, 195 + 1 + HeaderLen + 60 + FooterLen
	for i := msgAt + 1; i < end; i++ {
		mut := bytes.Clone(c.c2s)
		mut[i] ^= 0x01 // in the flags byte this clears COMPLETE
		_, err := DissectConversation(mut, c.s2c, DissectOptions{})
		switch {
		case i < footerAt+12: // header, front, front/middle/data crc
			wantErr(t, fmt.Sprintf("flip at %d", i), err, ErrBadCRC)
		case i < end-1: // the signature is not checked (no session security)
			if err != nil {
				t.Errorf("flip in sig at %d: %v", i, err)
			}
		default:
			wantErr(t, "flags without COMPLETE", err, ErrIncomplete)
		}
	}
	// A flipped byte in the 73271-byte data section.
	c1 := loadCapture(t, "ceph-s-msgr1.conn1")
	mut := bytes.Clone(c1.s2c)
	mut[2327+1+HeaderLen+72+40000] ^= 1
	_, err := DissectConversation(c1.c2s, mut, DissectOptions{})
	wantErr(t, "data flip", err, ErrBadCRC)
	if err == nil || !strings.Contains(err.Error(), "data crc") {
		t.Errorf("error does not name the data crc: %v", err)
	}
}

// synthetic builds the two streams of a handshake for the tests below.
type synthetic struct{ c2s, s2c []byte }

func newSynthetic() *synthetic {
	client := mustAddrT("v1:10.0.0.2:0/77")
	server := mustAddrT("v1:10.0.0.1:6800/1234")
	seen := mustAddrT("v1:10.0.0.2:40000/0")
	s := &synthetic{}
	s.c2s = client.AppendLegacy(AppendBanner(nil))
	s.s2c = seen.AppendLegacy(server.AppendLegacy(AppendBanner(nil)))
	return s
}

func mustAddrT(s string) EntityAddr {
	a, err := ParseEntityAddr(s)
	if err != nil {
		panic(err)
	}
	return a
}

func (s *synthetic) connect(c Connect, auth []byte) *synthetic {
	c.AuthorizerLen = uint32(len(auth))
	s.c2s = append(c.Append(s.c2s), auth...)
	return s
}

func (s *synthetic) reply(r ConnectReply, auth []byte) *synthetic {
	r.AuthorizerLen = uint32(len(auth))
	s.s2c = append(r.Append(s.s2c), auth...)
	return s
}

func osdMessage(seq uint64, src EntityName) *Message {
	m := &Message{
		Header: Header{Seq: seq, Tid: 9, Type: MsgOSDOp, Priority: PrioDefault, Version: 8, CompatVersion: 3, DataOff: 4096, Src: src},
		Front:  []byte("front"), Middle: []byte("mid"), Data: bytes.Repeat([]byte{7}, 5000),
	}
	m.Seal(true, true)
	return m
}

// TestDissectRetryAndAuthorizer: RETRY_GLOBAL, then CHALLENGE_AUTHORIZER, then SEQ, with
// authorizers both ways, an in_seq exchange with non-zero values, and every session frame kind.
func TestDissectRetryAndAuthorizer(t *testing.T) {
	authz := (&AuthNoneAuthorizer{Name: AuthEntityName{Type: uint32(EntityClient), ID: "admin"}, GlobalID: 4151}).AppendEncoded(nil)
	conn := Connect{Features: FeaturesAll, HostType: EntityClient, GlobalSeq: 3, ProtocolVersion: ProtoOSDClient, AuthorizerProtocol: AuthNone}
	s := newSynthetic()
	s.connect(conn, authz).reply(ConnectReply{Tag: TagRetryGlobal, Features: FeaturesAll, GlobalSeq: 40, ProtocolVersion: ProtoOSDClient}, nil)
	conn.GlobalSeq = 41
	s.connect(conn, authz).reply(ConnectReply{Tag: TagChallengeAuthorizer, Features: FeaturesAll, ProtocolVersion: ProtoOSDClient}, []byte("challenge"))
	s.connect(conn, append(authz, "+answer"...))
	s.reply(ConnectReply{Tag: TagSeq, Features: FeaturesAll, GlobalSeq: 42, ConnectSeq: 1, ProtocolVersion: ProtoOSDClient}, nil)
	s.s2c = AppendSeq(s.s2c, 5)
	s.c2s = AppendSeq(s.c2s, 3)
	ts := Timespec{Sec: 1, Nsec: 2}
	s.c2s = AppendMessageFrame(AppendKeepalive2(s.c2s, ts), osdMessage(6, NewName(EntityClient, 4151)), false)
	s.c2s = AppendClose(AppendKeepalive(AppendAck(s.c2s, 8)))
	s.s2c = AppendAck(AppendMessageFrame(AppendKeepalive2Ack(s.s2c, ts), osdMessage(9, NewName(EntityOSD, 0)), false), 6)

	cv, err := DissectConversation(s.c2s, s.s2c, DissectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantC := []FrameKind{FrameBanner, FrameAddr, FrameConnect, FrameConnect, FrameConnect, FrameSeq,
		FrameKeepalive2, FrameMsg, FrameAck, FrameKeepalive, FrameClose}
	wantS := []FrameKind{FrameBanner, FrameAddr, FrameAddr, FrameConnectReply, FrameConnectReply, FrameConnectReply,
		FrameSeq, FrameKeepalive2Ack, FrameMsg, FrameAck}
	if !reflect.DeepEqual(kinds(&cv.Client), wantC) || !reflect.DeepEqual(kinds(&cv.Server), wantS) {
		t.Fatalf("frames\n%v\n%v", cv.Client.String(), cv.Server.String())
	}
	if a, err := DecodeAuthNoneAuthorizer(cv.Client.Frames[2].Authorizer); err != nil || a.GlobalID != 4151 {
		t.Errorf("authorizer %+v, %v", a, err)
	}
	if string(cv.Server.Frames[4].Authorizer) != "challenge" || cv.Client.Frames[4].Connect.AuthorizerLen != uint32(len(authz)+7) {
		t.Error("challenge round")
	}
	if cv.Server.Frames[6].Seq != 5 || cv.Client.Frames[5].Seq != 3 || cv.Client.Frames[8].Seq != 8 {
		t.Error("sequence numbers")
	}
	if cv.Client.Count(FrameConnect) != 3 || cv.Connect.GlobalSeq != 41 || cv.Reply.GlobalSeq != 42 {
		t.Errorf("final round %+v %+v", cv.Connect, cv.Reply)
	}
	wantBytes(t, "c2s", cv.Client.Append(nil), s.c2s)
	wantBytes(t, "s2c", cv.Server.Append(nil), s.s2c)

	// One direction at a time needs the rounds from the options.
	cs, err := Dissect(ClientToServer, s.c2s, DissectOptions{ConnectRounds: 3})
	if err != nil || !reflect.DeepEqual(cs.Frames, cv.Client.Frames) {
		t.Errorf("c2s alone: %v", err)
	}
	ss, err := Dissect(ServerToClient, s.s2c, DissectOptions{})
	if err != nil || !reflect.DeepEqual(ss.Frames, cv.Server.Frames) {
		t.Errorf("s2c alone: %v", err)
	}
}

// TestDissectOldFooter: a peer without MSG_AUTH, READY (no in_seq), 13-byte footers.
func TestDissectOldFooter(t *testing.T) {
	old := FeaturesAll &^ FeatureMsgAuth
	s := newSynthetic()
	s.connect(Connect{Features: old, HostType: EntityOSD, ProtocolVersion: ProtoOSDPeer}, nil)
	s.reply(ConnectReply{Tag: TagReady, Features: FeaturesAll, ConnectSeq: 1, ProtocolVersion: ProtoOSDPeer}, nil)
	s.c2s = AppendMessageFrame(s.c2s, osdMessage(1, NewName(EntityOSD, 1)), true)
	s.s2c = AppendMessageFrame(s.s2c, osdMessage(1, NewName(EntityOSD, 2)), true)
	cv, err := DissectConversation(s.c2s, s.s2c, DissectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !cv.OldFooter || cv.Features != old || !cv.Client.Frames[3].OldFooter {
		t.Errorf("old footer %v features %#x", cv.OldFooter, cv.Features)
	}
	wantBytes(t, "c2s", cv.Client.Append(nil), s.c2s)
	wantBytes(t, "s2c", cv.Server.Append(nil), s.s2c)
	// The server stream alone needs the client's features to know the footer size.
	if _, err := Dissect(ServerToClient, s.s2c, DissectOptions{}); err == nil {
		t.Error("s2c with assumed MSG_AUTH dissected")
	}
	if _, err := Dissect(ServerToClient, s.s2c, DissectOptions{PeerFeatures: old}); err != nil {
		t.Errorf("s2c with PeerFeatures: %v", err)
	}
	if _, err := Dissect(ClientToServer, s.c2s, DissectOptions{FinalReply: TagReady}); err != nil {
		t.Errorf("c2s alone: %v", err)
	}
}

// TestDissectClosingReplies: WAIT, BADPROTOVER, FEATURES and BADAUTHORIZER end the
// connection; RESETSESSION and RETRY_SESSION make the client connect again.
func TestDissectClosingReplies(t *testing.T) {
	conn := Connect{Features: FeaturesAll, HostType: EntityOSD, ProtocolVersion: ProtoOSDPeer, ConnectSeq: 2}
	for _, tag := range []Tag{TagWait, TagBadProtoVer, TagFeatures, TagBadAuthorizer} {
		s := newSynthetic().connect(conn, nil).reply(ConnectReply{Tag: tag, Features: FeaturesAll}, nil)
		cv, err := DissectConversation(s.c2s, s.s2c, DissectOptions{})
		if err != nil || cv.Open || cv.Reply.Tag != tag || cv.Client.Open {
			t.Errorf("%v: open %v, %v", tag, cv.Open, err)
		}
		// Nothing can follow on either side.
		_, err = DissectConversation(AppendKeepalive(bytes.Clone(s.c2s)), s.s2c, DissectOptions{})
		wantErr(t, tag.String()+" then client bytes", err, ErrMalformed)
		_, err = DissectConversation(s.c2s, AppendKeepalive(bytes.Clone(s.s2c)), DissectOptions{})
		wantErr(t, tag.String()+" then server bytes", err, ErrMalformed)
		if st, err := Dissect(ServerToClient, s.s2c, DissectOptions{}); err != nil || st.Open {
			t.Errorf("%v s2c alone: %v", tag, err)
		}
		if _, err := Dissect(ClientToServer, s.c2s, DissectOptions{FinalReply: tag}); err != nil {
			t.Errorf("%v c2s alone: %v", tag, err)
		}
	}
	s := newSynthetic().connect(conn, nil).reply(ConnectReply{Tag: TagResetSession}, nil)
	conn.ConnectSeq = 0
	s.connect(conn, nil).reply(ConnectReply{Tag: TagRetrySession, ConnectSeq: 5}, nil)
	conn.ConnectSeq = 5
	s.connect(conn, nil).reply(ConnectReply{Tag: TagReady, Features: FeaturesAll, ConnectSeq: 6}, nil)
	s.c2s = AppendKeepalive2(s.c2s, Timespec{})
	cv, err := DissectConversation(s.c2s, s.s2c, DissectOptions{})
	if err != nil || !cv.Open || cv.Connect.ConnectSeq != 5 || cv.Client.Count(FrameKeepalive2) != 1 {
		t.Errorf("reset/retry: %v", err)
	}
}

// TestDissectPartialHandshake: connections that end between handshake steps.
func TestDissectPartialHandshake(t *testing.T) {
	full := newSynthetic().connect(Connect{Features: FeaturesAll}, nil)
	tests := []struct {
		name     string
		c2s, s2c []byte
		err      error
	}{
		{"nothing", nil, nil, nil},
		{"silent server", []byte(Banner), nil, nil},
		{"client banner only", []byte(Banner), full.s2c, nil},
		{"greetings only", full.c2s[:ClientGreetingLen], full.s2c, nil},
		{"connect without reply", full.c2s, full.s2c, nil},
		{"reply without connect", full.c2s[:ClientGreetingLen],
			(&ConnectReply{Tag: TagReady}).Append(bytes.Clone(full.s2c)), ErrMalformed},
		{"msgr2 peer", []byte("ceph v2\n\x10\x00"), nil, ErrBadBanner},
		{"truncated banner", []byte("ceph v0"), nil, ErrTruncated},
	}
	for _, tt := range tests {
		cv, err := DissectConversation(tt.c2s, tt.s2c, DissectOptions{})
		if tt.err == nil && err != nil || tt.err != nil && !errors.Is(err, tt.err) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.err)
		}
		if cv == nil || cv.Open {
			t.Errorf("%s: %+v", tt.name, cv)
		}
	}
}

func TestDissectLimits(t *testing.T) {
	c := loadCapture(t, "ceph-s-msgr1.conn1")
	_, err := DissectConversation(c.c2s, c.s2c, DissectOptions{Limits: Limits{MaxDataLen: 1000}})
	wantErr(t, "data over limit", err, ErrTooLarge)
	var de *DecodeError
	if !errors.As(err, &de) || de.Offset != 2327 {
		t.Errorf("error at %v", err)
	}

	// A header announcing 4 GiB of front with a valid crc: refused at once, not "truncated".
	s := newSynthetic().connect(Connect{Features: FeaturesAll}, nil).reply(ConnectReply{Tag: TagReady, Features: FeaturesAll}, nil)
	h := Header{Seq: 1, Type: MsgPing, FrontLen: 0xffffffff}
	var hb [HeaderLen]byte
	h.Encode(hb[:], true)
	c2s := append(append(bytes.Clone(s.c2s), byte(TagMsg)), hb[:]...)
	_, err = DissectConversation(c2s, s.s2c, DissectOptions{})
	wantErr(t, "front_len 0xffffffff", err, ErrTooLarge)
	if errors.Is(err, ErrTruncated) {
		t.Errorf("reported as truncated: %v", err)
	}

	// authorizer_len 0xffffffff in a connect and in a reply.
	s = newSynthetic().connect(Connect{Features: FeaturesAll, AuthorizerLen: 0}, nil)
	binaryPutU32(s.c2s[ClientGreetingLen+28:], 0xffffffff)
	_, err = DissectConversation(s.c2s, newSynthetic().s2c, DissectOptions{})
	wantErr(t, "connect authorizer_len", err, ErrTooLarge)
	s = newSynthetic().connect(Connect{}, nil).reply(ConnectReply{Tag: TagReady}, nil)
	binaryPutU32(s.s2c[ServerGreetingLen+21:], 0xffffffff)
	_, err = DissectConversation(s.c2s, s.s2c, DissectOptions{})
	wantErr(t, "reply authorizer_len", err, ErrTooLarge)
}

func binaryPutU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func TestDissectBadTags(t *testing.T) {
	s := newSynthetic().connect(Connect{Features: FeaturesAll}, nil)
	for _, tag := range []byte{0, byte(TagReady), byte(TagSeq), 17, 0xff} {
		bad := append(bytes.Clone(s.s2c), tag)
		bad = append(bad, make([]byte, ConnectReplyLen-1)...)
		_, err := DissectConversation(s.c2s, bad, DissectOptions{})
		if Tag(tag).IsReply() {
			continue // a reply tag in the reply position is fine
		}
		wantErr(t, fmt.Sprintf("reply tag %d", tag), err, ErrBadTag)
	}
	s.reply(ConnectReply{Tag: TagReady, Features: FeaturesAll}, nil)
	for _, tag := range []byte{0, byte(TagReady), byte(TagSeq), byte(TagChallengeAuthorizer), 17, 0xff} {
		c2s := append(bytes.Clone(s.c2s), tag)
		_, err := DissectConversation(c2s, s.s2c, DissectOptions{})
		wantErr(t, fmt.Sprintf("frame tag %d", tag), err, ErrBadTag)
		if err != nil && !strings.Contains(err.Error(), "c2s frame at 178") {
			t.Errorf("error does not say where: %v", err)
		}
	}
}

func TestFrameKindStrings(t *testing.T) {
	for k := FrameBanner; k <= FrameClose; k++ {
		if s := k.String(); s == "" || strings.HasPrefix(s, "FRAMEKIND") {
			t.Errorf("%d: %q", k, s)
		}
	}
	if FrameKind(0).String() != "FRAMEKIND(0)" || Direction(3).String() != "direction(3)" {
		t.Error("unknown names")
	}
}
