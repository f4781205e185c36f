package wire

import (
	"reflect"
	"strings"
	"testing"
)

func TestMAuthRoundTrip(t *testing.T) {
	front := mauthFront()
	m, err := DecodeMAuth(front)
	if err != nil {
		t.Fatal(err)
	}
	want := MAuth{SessionMon: -1, AuthPayload: front[26:60]}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("DecodeMAuth = %+v, want %+v", m, want)
	}
	wantBytes(t, "re-encoded", m.AppendFront(nil), front)
	req, err := DecodeAuthNoneRequest(m.AuthPayload)
	if err != nil {
		t.Fatal(err)
	}
	wantReq := AuthNoneRequest{Methods: []uint32{AuthCephx, AuthNone}, Name: AuthEntityName{Type: uint32(EntityClient), ID: "admin"}}
	if !reflect.DeepEqual(req, wantReq) {
		t.Errorf("DecodeAuthNoneRequest = %+v", req)
	}
	// Every field set, including a negative session_mon other than -1.
	full := MAuth{Version: 1 << 40, SessionMon: -2, SessionMonTid: 77, Protocol: AuthCephx, AuthPayload: []byte{1, 2, 3}, MonmapEpoch: 9}
	got, err := DecodeMAuth(full.AppendFront(nil))
	if err != nil || !reflect.DeepEqual(got, full) {
		t.Errorf("full round trip: %+v, %v", got, err)
	}
}

func TestMAuthReplyRoundTrip(t *testing.T) {
	tests := []MAuthReply{
		{Protocol: AuthNone, GlobalID: 4123},
		{Protocol: AuthCephx, Result: -13, GlobalID: 1, ResultBl: []byte("ticket"), ResultMsg: "permission denied"},
	}
	for _, r := range tests {
		b := r.AppendFront(nil)
		got, err := DecodeMAuthReply(b)
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Errorf("%+v: decoded %+v, %v", r, got, err)
		}
	}
	want := unhex(t, "01 00 00 00 00 00 00 00 1b 10 00 00 00 00 00 00 00 00 00 00 00 00 00 00")
	wantBytes(t, "auth none reply", tests[0].AppendFront(nil), want)
}

func TestPayloadTrailingBytes(t *testing.T) {
	front := append(mauthFront(), 0)
	_, err := DecodeMAuth(front)
	wantErr(t, "MAuth", err, ErrMalformed)
	_, err = DecodeMAuthReply(append((&MAuthReply{}).AppendFront(nil), 1))
	wantErr(t, "MAuthReply", err, ErrMalformed)
	_, err = DecodeAuthNoneAuthorizer(append((&AuthNoneAuthorizer{}).AppendEncoded(nil), 1))
	wantErr(t, "authorizer", err, ErrMalformed)
	_, err = DecodeAuthNoneRequest(append((&AuthNoneRequest{}).AppendEncoded(nil), 1))
	wantErr(t, "request", err, ErrMalformed)
}

func TestPayloadStructVersion(t *testing.T) {
	a := (&AuthNoneAuthorizer{GlobalID: 1}).AppendEncoded(nil)
	a[0] = 2
	_, err := DecodeAuthNoneAuthorizer(a)
	wantErr(t, "authorizer v2", err, ErrMalformed)
	r := (&AuthNoneRequest{}).AppendEncoded(nil)
	r[0] = 0
	_, err = DecodeAuthNoneRequest(r)
	wantErr(t, "request v0", err, ErrMalformed)
}

// TestPayloadLimits: lengths over a limit are refused before the bytes are looked for,
// and lengths over the remaining bytes are short.
func TestPayloadLimits(t *testing.T) {
	req := (&AuthNoneRequest{Methods: make([]uint32, MaxAuthMethods+1)}).AppendEncoded(nil)
	_, err := DecodeAuthNoneRequest(req)
	wantErr(t, "too many methods", err, ErrTooLarge)

	name := AuthEntityName{Type: 8, ID: strings.Repeat("x", MaxEntityIDLen+1)}
	_, err = DecodeAuthNoneAuthorizer((&AuthNoneAuthorizer{Name: name}).AppendEncoded(nil))
	wantErr(t, "long id", err, ErrTooLarge)

	huge := func(b []byte, at int) []byte { // set the le32 length at 'at' to 0xffffffff
		copy(b[at:], []byte{0xff, 0xff, 0xff, 0xff})
		return b
	}
	_, err = DecodeMAuth(huge(mauthFront(), 22))
	wantErr(t, "auth_payload_len 0xffffffff", err, ErrTooLarge)
	_, err = DecodeMAuthReply(huge((&MAuthReply{}).AppendFront(nil), 16))
	wantErr(t, "result_bl 0xffffffff", err, ErrTooLarge)
	_, err = DecodeAuthNoneRequest(huge((&AuthNoneRequest{}).AppendEncoded(nil), 1))
	wantErr(t, "methods 0xffffffff", err, ErrTooLarge)
	_, _, err = DecodeCephString([]byte{0xff, 0xff, 0xff, 0xff})
	wantErr(t, "string 0xffffffff", err, ErrTooLarge)

	// Within the limit but beyond the data: short, not an allocation.
	_, err = DecodeAuthNoneRequest([]byte{1, 20, 0, 0, 0, 1, 0, 0, 0})
	wantErr(t, "20 methods in 4 bytes", err, ErrShort)
	_, _, err = DecodeCephString([]byte{5, 0, 0, 0, 'a'})
	wantErr(t, "string short", err, ErrShort)
}

// TestPayloadPrefixes: every strict prefix of a valid encoding is ErrShort.
func TestPayloadPrefixes(t *testing.T) {
	type dec func([]byte) error
	tests := []struct {
		name string
		b    []byte
		dec  dec
	}{
		{"MAuth", mauthFront(), func(b []byte) error { _, err := DecodeMAuth(b); return err }},
		{"MAuthReply", (&MAuthReply{Protocol: 2, GlobalID: 3, ResultBl: []byte{1}, ResultMsg: "m"}).AppendFront(nil),
			func(b []byte) error { _, err := DecodeMAuthReply(b); return err }},
		{"AuthNoneRequest", (&AuthNoneRequest{Methods: []uint32{1}, Name: AuthEntityName{8, "a"}}).AppendEncoded(nil),
			func(b []byte) error { _, err := DecodeAuthNoneRequest(b); return err }},
		{"AuthNoneAuthorizer", (&AuthNoneAuthorizer{Name: AuthEntityName{8, "a"}}).AppendEncoded(nil),
			func(b []byte) error { _, err := DecodeAuthNoneAuthorizer(b); return err }},
		{"string", AppendCephString(nil, "abc"), func(b []byte) error { _, _, err := DecodeCephString(b); return err }},
	}
	for _, tt := range tests {
		if err := tt.dec(tt.b); err != nil {
			t.Errorf("%s: full input: %v", tt.name, err)
		}
		for cut := range len(tt.b) {
			wantErr(t, tt.name, tt.dec(tt.b[:cut]), ErrShort)
		}
	}
}

// TestMPingReplyFront: the monitor answers an MPing with a Ceph string holding JSON.
func TestMPingReplyFront(t *testing.T) {
	json := `{"health":{"status":"HEALTH_OK"},"mon_status":{"name":"a","rank":0}}`
	front := AppendCephString(nil, json)
	wantBytes(t, "length prefix", front[:4], []byte{byte(len(json)), 0, 0, 0})
	s, n, err := DecodeCephString(front)
	if err != nil || n != len(front) || s != json {
		t.Errorf("DecodeCephString = %q, %d, %v", s, n, err)
	}
	s, n, err = DecodeCephString([]byte{0, 0, 0, 0, 9})
	if err != nil || n != 4 || s != "" {
		t.Errorf("empty string: %q, %d, %v", s, n, err)
	}
}

func TestAuthEntityNameString(t *testing.T) {
	if s := (AuthEntityName{Type: uint32(EntityOSD), ID: "3"}).String(); s != "osd.3" {
		t.Errorf("%q", s)
	}
	if s := (AuthEntityName{Type: 0x1000, ID: "x"}).String(); s != "unknown.x" {
		t.Errorf("%q", s)
	}
}
