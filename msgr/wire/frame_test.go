package wire

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func TestMessageFrameRoundTrip(t *testing.T) {
	for _, old := range []bool{false, true} {
		m := osdMessage(3, NewName(EntityOSD, 12))
		prefix := []byte("xyz")
		b := AppendMessageFrame(bytes.Clone(prefix), m, old)
		if !bytes.HasPrefix(b, prefix) || len(b) != len(prefix)+MessageFrameLen(m, old) {
			t.Fatalf("old=%v: appended %d bytes", old, len(b)-len(prefix))
		}
		f, n, err := DecodeFrame(b[len(prefix):], old, Limits{})
		if err != nil || n != MessageFrameLen(m, old) {
			t.Fatalf("old=%v: %d, %v", old, n, err)
		}
		got := f.Msg
		if got.Header != m.Header || !bytes.Equal(got.Front, m.Front) || !bytes.Equal(got.Middle, m.Middle) || !bytes.Equal(got.Data, m.Data) {
			t.Errorf("old=%v: decoded %v", old, got)
		}
		wantFooter := m.Footer
		if old {
			wantFooter.Sig = 0
		}
		if got.Footer != wantFooter || f.OldFooter != old {
			t.Errorf("old=%v: footer %+v", old, got.Footer)
		}
		wantBytes(t, "re-encoded", f.Append(nil), b[len(prefix):])
		// The footer the other way round does not parse.
		if _, _, err := DecodeFrame(b[len(prefix):], !old, Limits{}); err == nil {
			t.Errorf("old=%v: decoded with the wrong footer size", old)
		}
	}
}

func TestSeal(t *testing.T) {
	m := &Message{Header: Header{Type: MsgPing, FrontLen: 99, CRC: 5}, Front: []byte("a"), Data: []byte("b")}
	m.Seal(true, false)
	h := m.Header
	if h.FrontLen != 1 || h.MiddleLen != 0 || h.DataLen != 1 || h.CRC == 0 || h.CRC == 5 {
		t.Errorf("header %+v", h)
	}
	if m.Footer.Flags != FooterComplete|FooterNoCRC || m.Footer.DataCRC != 0 || m.Footer.FrontCRC != CRC32C(0, []byte("a")) {
		t.Errorf("footer %+v", m.Footer)
	}
	// A NOCRC message is accepted whatever its data crc says.
	b := AppendMessageFrame(nil, m, false)
	if _, _, err := DecodeFrame(b, false, Limits{}); err != nil {
		t.Errorf("NOCRC message: %v", err)
	}
	m.Seal(false, true)
	if m.Header.CRC != 0 || m.Footer.FrontCRC != 0 || m.Footer.DataCRC != CRC32C(0, []byte("b")) {
		t.Errorf("without header crc: %+v %+v", m.Header, m.Footer)
	}
}

func TestDecodeMessageErrors(t *testing.T) {
	good := AppendMessageFrame(nil, osdMessage(1, NewName(EntityOSD, 1)), false)[1:]
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x04
		return b
	}
	frontAt := HeaderLen
	footerAt := len(good) - FooterLen
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"header byte", flip(3), ErrBadCRC},
		{"header crc", flip(50), ErrBadCRC},
		{"front byte", flip(frontAt), ErrBadCRC},
		{"middle byte", flip(frontAt + 5), ErrBadCRC},
		{"data byte", flip(frontAt + 8 + 4999), ErrBadCRC},
		{"footer front crc", flip(footerAt), ErrBadCRC},
		{"footer middle crc", flip(footerAt + 4), ErrBadCRC},
		{"footer data crc", flip(footerAt + 8), ErrBadCRC},
		{"footer flags", func() []byte { b := bytes.Clone(good); b[len(b)-1] = 0; return b }(), ErrIncomplete},
	}
	for _, tt := range tests {
		_, n, err := DecodeMessage(tt.b, false, Limits{})
		if n != 0 {
			t.Errorf("%s: n %d", tt.name, n)
		}
		wantErr(t, tt.name, err, tt.want)
	}
	for cut := range len(good) {
		_, _, err := DecodeMessage(good[:cut], false, Limits{})
		wantErr(t, fmt.Sprint("cut ", cut), err, ErrShort)
	}
	// Limits apply as soon as the header is complete.
	_, _, err := DecodeMessage(good[:HeaderLen], false, Limits{MaxDataLen: 4999})
	wantErr(t, "data over limit", err, ErrTooLarge)
	_, _, err = DecodeMessage(good, false, Limits{MaxMessageLen: 5007})
	wantErr(t, "message over limit", err, ErrTooLarge)
	if _, _, err = DecodeMessage(good, false, Limits{MaxMessageLen: 5008}); err != nil {
		t.Errorf("at the limit: %v", err)
	}
}

// TestHugeLengthsWithValidCRC: a header can carry any length with a correct crc; Limits must
// refuse it before anything is allocated or waited for.
func TestHugeLengthsWithValidCRC(t *testing.T) {
	tests := []struct {
		h      Header
		limits Limits
	}{
		{Header{FrontLen: 0xffffffff}, Limits{}},
		{Header{MiddleLen: 0xffffffff}, Limits{}},
		{Header{DataLen: 0xffffffff}, Limits{}},
		{Header{FrontLen: 0xffffffff, MiddleLen: 0xffffffff, DataLen: 0xffffffff},
			Limits{MaxFrontLen: 0xffffffff, MaxMiddleLen: 0xffffffff, MaxDataLen: 0xffffffff, MaxMessageLen: 0xffffffff}},
		{Header{FrontLen: 1 << 20, DataLen: 1}, Limits{MaxMessageLen: 1 << 20}},
	}
	for _, tt := range tests {
		var b [HeaderLen]byte
		tt.h.Encode(b[:], true)
		dh, err := DecodeHeader(b[:], true)
		if err != nil {
			t.Fatalf("valid crc refused: %v", err)
		}
		name := fmt.Sprintf("%d+%d+%d", tt.h.FrontLen, tt.h.MiddleLen, tt.h.DataLen)
		wantErr(t, name, tt.limits.CheckHeader(&dh), ErrTooLarge)
		_, _, err = DecodeMessage(b[:], false, tt.limits)
		wantErr(t, name+" DecodeMessage", err, ErrTooLarge)
		_, _, err = DecodeFrame(append([]byte{byte(TagMsg)}, b[:]...), false, tt.limits)
		wantErr(t, name+" DecodeFrame", err, ErrTooLarge)
	}
	// At the default limits exactly: accepted by CheckHeader, then short.
	h := Header{FrontLen: DefaultMaxFrontLen, MiddleLen: DefaultMaxMiddleLen, DataLen: DefaultMaxDataLen}
	if err := DefaultLimits().CheckHeader(&h); err != nil {
		t.Errorf("at the limits: %v", err)
	}
}

func TestAuthorizerLenLimit(t *testing.T) {
	c := Connect{AuthorizerLen: 0xffffffff}
	_, err := DecodeConnect(c.Append(nil), Limits{})
	wantErr(t, "connect", err, ErrTooLarge)
	r := ConnectReply{Tag: TagReady, AuthorizerLen: 0xffffffff}
	_, err = DecodeConnectReply(r.Append(nil), Limits{})
	wantErr(t, "reply", err, ErrTooLarge)
	c.AuthorizerLen = DefaultMaxAuthorizerLen
	if _, err := DecodeConnect(c.Append(nil), Limits{}); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	c.AuthorizerLen = 100
	_, err = DecodeConnect(c.Append(nil), Limits{MaxAuthorizerLen: 99})
	wantErr(t, "custom limit", err, ErrTooLarge)
}

// TestShortBuffers: every decoder refuses every strict prefix of a valid input with ErrShort.
func TestShortBuffers(t *testing.T) {
	hdr := mpingMessage().Header
	var hb [HeaderLen]byte
	hdr.Encode(hb[:], false)
	var fb [FooterLen]byte
	(&Footer{Flags: FooterComplete}).Encode(fb[:], false)
	var nb [EntityNameLen]byte
	NewName(EntityMon, 0).Encode(nb[:])
	tests := []struct {
		name string
		b    []byte
		dec  func([]byte) error
	}{
		{"banner", []byte(Banner), CheckBanner},
		{"legacy addr", mustAddrT("1.2.3.4:5").AppendLegacy(nil), func(b []byte) error { _, err := DecodeLegacyAddr(b); return err }},
		{"addr", mustAddrT("[::1]:5").AppendEncoded(nil, FeaturesAll), func(b []byte) error { _, _, err := DecodeAddr(b); return err }},
		{"connect", (&Connect{}).Append(nil), func(b []byte) error { _, err := DecodeConnect(b, Limits{}); return err }},
		{"reply", (&ConnectReply{Tag: TagSeq}).Append(nil), func(b []byte) error { _, err := DecodeConnectReply(b, Limits{}); return err }},
		{"header", hb[:], func(b []byte) error { _, err := DecodeHeader(b, true); return err }},
		{"footer", fb[:], func(b []byte) error { _, err := DecodeFooter(b, false); return err }},
		{"old footer", fb[:OldFooterLen], func(b []byte) error { _, err := DecodeFooter(b, true); return err }},
		{"entity name", nb[:], func(b []byte) error { _, err := DecodeEntityName(b); return err }},
		{"seq", AppendSeq(nil, 1), func(b []byte) error { _, err := DecodeSeq(b); return err }},
		{"timespec", AppendKeepalive2(nil, Timespec{1, 2})[1:], func(b []byte) error { _, err := DecodeTimespec(b); return err }},
		{"MSG frame", AppendMessageFrame(nil, mpingMessage(), false), decodeFrameErr(false)},
		{"MSG frame, old footer", AppendMessageFrame(nil, mpingMessage(), true), decodeFrameErr(true)},
		{"ACK frame", AppendAck(nil, 1), decodeFrameErr(false)},
		{"KEEPALIVE2 frame", AppendKeepalive2(nil, Timespec{}), decodeFrameErr(false)},
		{"KEEPALIVE2_ACK frame", AppendKeepalive2Ack(nil, Timespec{}), decodeFrameErr(false)},
	}
	for _, tt := range tests {
		if err := tt.dec(tt.b); err != nil {
			t.Errorf("%s: full input refused: %v", tt.name, err)
		}
		for cut := range len(tt.b) {
			err := tt.dec(tt.b[:cut])
			wantErr(t, fmt.Sprintf("%s cut at %d", tt.name, cut), err, ErrShort)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Errorf("%s: %T is not a *DecodeError", tt.name, err)
			}
		}
	}
}

func decodeFrameErr(old bool) func([]byte) error {
	return func(b []byte) error { _, _, err := DecodeFrame(b, old, Limits{}); return err }
}

func TestBadBanner(t *testing.T) {
	for _, b := range []string{"ceph v2\n\x00\x00", "CEPH v027", "ceph v026", "xeph", "\x00\x00\x00\x00\x00\x00\x00\x00\x00"} {
		wantErr(t, fmt.Sprintf("%q", b), CheckBanner([]byte(b)), ErrBadBanner)
	}
	if err := CheckBanner([]byte("ceph v027 and more")); err != nil {
		t.Errorf("banner followed by data: %v", err)
	}
}

func TestBadTags(t *testing.T) {
	for tag := range 256 {
		_, _, err := DecodeFrame([]byte{byte(tag), 0, 0, 0, 0, 0, 0, 0, 0}, false, Limits{})
		if Tag(tag).IsFrame() {
			if errors.Is(err, ErrBadTag) {
				t.Errorf("frame tag %v refused", Tag(tag))
			}
			continue
		}
		wantErr(t, fmt.Sprintf("frame tag %d", tag), err, ErrBadTag)
		b := (&ConnectReply{Tag: Tag(tag)}).Append(nil)
		_, err = DecodeConnectReply(b, Limits{})
		if Tag(tag).IsReply() != (err == nil) {
			t.Errorf("reply tag %d: %v", tag, err)
		}
	}
}

func TestDecodeConnectHostType(t *testing.T) {
	b := (&Connect{HostType: EntityOSD}).Append(nil)
	b[9] = 1 // host_type 0x104
	_, err := DecodeConnect(b, Limits{})
	wantErr(t, "host_type over 0xff", err, ErrMalformed)
}

func TestFrameAppendAll(t *testing.T) {
	authz := []byte{1, 2, 3}
	frames := []Frame{
		{Kind: FrameBanner},
		{Kind: FrameAddr, Addr: mustAddrT("v1:1.2.3.4:5/6")},
		{Kind: FrameConnect, Connect: Connect{AuthorizerLen: 3}, Authorizer: authz},
		{Kind: FrameConnectReply, Reply: ConnectReply{Tag: TagSeq, AuthorizerLen: 3}, Authorizer: authz},
		{Kind: FrameSeq, Seq: 7},
		{Kind: FrameMsg, Msg: mpingMessage()},
		{Kind: FrameAck, Seq: 1},
		{Kind: FrameKeepalive},
		{Kind: FrameKeepalive2, Time: Timespec{1, 2}},
		{Kind: FrameKeepalive2Ack, Time: Timespec{1, 2}},
		{Kind: FrameClose},
	}
	var want []byte
	want = AppendBanner(want)
	want = mustAddrT("v1:1.2.3.4:5/6").AppendLegacy(want)
	want = append((&Connect{AuthorizerLen: 3}).Append(want), authz...)
	want = append((&ConnectReply{Tag: TagSeq, AuthorizerLen: 3}).Append(want), authz...)
	want = AppendSeq(want, 7)
	want = AppendMessageFrame(want, mpingMessage(), false)
	want = AppendClose(AppendKeepalive2Ack(AppendKeepalive2(AppendKeepalive(AppendAck(want, 1)), Timespec{1, 2}), Timespec{1, 2}))
	var got []byte
	for i := range frames {
		if frames[i].String() == "" {
			t.Errorf("%v: empty String", frames[i].Kind)
		}
		got = frames[i].Append(got)
	}
	wantBytes(t, "all frames", got, want)
	if b := (&Frame{Kind: 0}).Append([]byte{1}); !reflect.DeepEqual(b, []byte{1}) {
		t.Errorf("unknown kind appended % x", b)
	}
}

// TestNoCRCWithACRC: a footer that says NOCRC but carries a data crc is checked anyway (quirk
// Q13: the flags byte is covered by no crc, and one flipped bit there must not turn off the
// check of corrupted data); a NOCRC footer with the crc left 0, as Ceph's senders write it,
// is accepted whatever the data.
func TestNoCRCWithACRC(t *testing.T) {
	m := &Message{Header: Header{Type: MsgPing}, Data: []byte("payload")}
	m.SealFooter(true, true)
	sum := m.Footer.DataCRC
	m.Footer.Flags |= FooterNoCRC // the flipped bit
	if err := m.VerifyFooter(true, true); err != nil {
		t.Fatalf("intact data, NOCRC flipped on: %v", err)
	}
	m.Data[0] ^= 1 // and a corrupted byte
	if err := m.VerifyFooter(true, true); !errors.Is(err, ErrBadCRC) {
		t.Fatalf("corrupted data under a flipped NOCRC: %v, want ErrBadCRC", err)
	}
	if err := m.VerifyFooterSums([3]uint32{0, 0, CRC32C(0, m.Data)}, true, true); !errors.Is(err, ErrBadCRC) {
		t.Fatalf("VerifyFooterSums: %v, want ErrBadCRC", err)
	}
	m.Footer.DataCRC = 0 // a sender without ms_crc_data
	if err := m.VerifyFooter(true, true); err != nil {
		t.Fatalf("NOCRC with no crc: %v", err)
	}
	if m.Footer.DataCRC = sum; m.VerifyFooter(true, false) != nil {
		t.Fatal("a receiver without ms_crc_data checked the data crc")
	}
}

// TestDecodeInPlaceOverwrites: Header.Decode and Footer.Decode into structures holding the
// fields of another message (a recycled message's) give what DecodeHeader and DecodeFooter
// give: every field is written, none is left over (the old footer has no signature).
func TestDecodeInPlaceOverwrites(t *testing.T) {
	h := Header{Seq: 7, Tid: 9, Type: 42, Priority: 127, Version: 3, FrontLen: 5, MiddleLen: 6,
		DataLen: 4096, DataOff: 12, Src: EntityName{Type: EntityOSD, Num: 3}, CompatVersion: 2, Reserved: 1}
	var hb [HeaderLen]byte
	h.Encode(hb[:], true)
	junk := Header{Seq: ^uint64(0), Tid: 1, Type: 1, Priority: 1, Version: 1, FrontLen: 1, MiddleLen: 1,
		DataLen: 1, DataOff: 1, Src: EntityName{Type: EntityClient, Num: -1}, CompatVersion: 9, Reserved: 9, CRC: 1}
	want, err := DecodeHeader(hb[:], true)
	if err != nil {
		t.Fatal(err)
	}
	if err := junk.Decode(hb[:], true); err != nil || junk != want || want != h {
		t.Fatalf("in place %+v (%v), DecodeHeader %+v, encoded %+v", junk, err, want, h)
	}
	for _, old := range []bool{false, true} {
		f := Footer{FrontCRC: 1, MiddleCRC: 2, DataCRC: 3, Flags: FooterComplete}
		if !old {
			f.Sig = 0xfeedface
		}
		fb := make([]byte, FooterSize(!old))
		f.Encode(fb, old)
		dirty := Footer{FrontCRC: 9, MiddleCRC: 9, DataCRC: 9, Sig: 99, Flags: 0xff}
		want, err := DecodeFooter(fb, old)
		if err != nil {
			t.Fatal(err)
		}
		if err := dirty.Decode(fb, old); err != nil || dirty != want || want != f {
			t.Fatalf("old %v: in place %+v (%v), DecodeFooter %+v, encoded %+v", old, dirty, err, want, f)
		}
	}
}

// TestCheckHeaderPartialLimits: CheckHeader compares with the limits as set first and falls
// back to the defaults for zero fields; set and default fields mix.
func TestCheckHeaderPartialLimits(t *testing.T) {
	for _, tt := range []struct {
		h  Header
		l  Limits
		ok bool
	}{
		{Header{FrontLen: 1000}, Limits{MaxDataLen: 100}, true},                  // front at its default
		{Header{FrontLen: 1000, DataLen: 100}, Limits{MaxDataLen: 100}, true},    // message length at its default
		{Header{DataLen: 101}, Limits{MaxDataLen: 100}, false},                   // set
		{Header{DataLen: DefaultMaxDataLen + 1}, Limits{MaxFrontLen: 10}, false}, // default
		{Header{DataLen: DefaultMaxDataLen}, Limits{MaxFrontLen: 10}, true},      // at the default
		{Header{FrontLen: 60, DataLen: 50}, Limits{MaxFrontLen: 100, MaxDataLen: 100, MaxMessageLen: 100}, false},
	} {
		if err := tt.l.CheckHeader(&tt.h); (err == nil) != tt.ok {
			t.Errorf("%+v with %+v: %v, want ok %v", tt.h, tt.l, err, tt.ok)
		}
	}
}
