package wire

import (
	"net/netip"
	"testing"
)

// The test vectors of msgr1-protocol.md §0, §1.3, §5 and §12, as exact bytes.

func TestCRC32CVectors(t *testing.T) {
	// Ceph's src/test/common/test_crc32c.cc.
	tests := []struct {
		seed uint32
		in   string
		want uint32
	}{
		{0, "foo bar baz", 4119623852},
		{1234, "foo bar baz", 881700046},
		{0, "whiz bang boom", 2360230088},
		{5678, "whiz bang boom", 3743019208},
		{0, "", 0},
		{42, "", 42}, // the crc of nothing is the seed
	}
	for i, tt := range tests {
		if got := CRC32C(tt.seed, []byte(tt.in)); got != tt.want {
			t.Errorf("%d: CRC32C(%d, %q) = %d, want %d", i, tt.seed, tt.in, got, tt.want)
		}
	}
}

func TestCRC32CIncremental(t *testing.T) {
	p := []byte("the quick brown fox jumps over the lazy dog")
	whole := CRC32C(7, p)
	for cut := range len(p) + 1 {
		if got := CRC32C(CRC32C(7, p[:cut]), p[cut:]); got != whole {
			t.Fatalf("cut %d: %#x != %#x", cut, got, whole)
		}
	}
}

// TestCRC32CNoEscape cross-checks the byte-at-a-time crc used for headers.
func TestCRC32CNoEscape(t *testing.T) {
	p := make([]byte, 300)
	for i := range p {
		p[i] = byte(i*7 + i>>3)
	}
	for n := range len(p) {
		for _, seed := range []uint32{0, 1, 0xffffffff, 0x2d2492e0} {
			if a, b := crc32cNoEscape(seed, p[:n]), CRC32C(seed, p[:n]); a != b {
				t.Fatalf("len %d seed %#x: %#x != %#x", n, seed, a, b)
			}
		}
	}
}

func TestBannerVector(t *testing.T) {
	want := unhex(t, "63 65 70 68 20 76 30 32 37")
	wantBytes(t, "banner", AppendBanner(nil), want)
	if err := CheckBanner(want); err != nil {
		t.Errorf("CheckBanner: %v", err)
	}
}

func TestConnectVector(t *testing.T) {
	want := unhex(t, "ff ff fd 7f bf cf 01 3f 08 00 00 00 01 00 00 00 00 00 00 00 0f 00 00 00 00 00 00 00 00 00 00 00 01")
	c := Connect{Features: 0x3f01cfbf7ffdffff, HostType: EntityClient, GlobalSeq: 1, ConnectSeq: 0,
		ProtocolVersion: ProtoMonClient, Flags: ConnectLossy}
	wantBytes(t, "connect", c.Append(nil), want)
	got, err := DecodeConnect(want, Limits{})
	if err != nil || got != c {
		t.Errorf("DecodeConnect = %+v, %v; want %+v", got, err, c)
	}
}

func TestConnectReplyVector(t *testing.T) {
	want := unhex(t, "01 ff ff fd 7f bf cf 01 3f 07 00 00 00 01 00 00 00 0f 00 00 00 00 00 00 00 01")
	r := ConnectReply{Tag: TagReady, Features: 0x3f01cfbf7ffdffff, GlobalSeq: 7, ConnectSeq: 1,
		ProtocolVersion: ProtoMonClient, Flags: ConnectLossy}
	wantBytes(t, "reply", r.Append(nil), want)
	got, err := DecodeConnectReply(want, Limits{})
	if err != nil || got != r {
		t.Errorf("DecodeConnectReply = %+v, %v; want %+v", got, err, r)
	}
}

func TestSessionFrameVectors(t *testing.T) {
	ts := Timespec{Sec: 1700000000, Nsec: 123456000}
	tests := []struct {
		name string
		got  []byte
		want string
		kind FrameKind
	}{
		{"KEEPALIVE2", AppendKeepalive2(nil, ts), "0e 00 f1 53 65 00 ca 5b 07", FrameKeepalive2},
		{"KEEPALIVE2_ACK", AppendKeepalive2Ack(nil, ts), "0f 00 f1 53 65 00 ca 5b 07", FrameKeepalive2Ack},
		{"ACK", AppendAck(nil, 5), "08 05 00 00 00 00 00 00 00", FrameAck},
		{"KEEPALIVE", AppendKeepalive(nil), "09", FrameKeepalive},
		{"CLOSE", AppendClose(nil), "06", FrameClose},
	}
	for _, tt := range tests {
		want := unhex(t, tt.want)
		wantBytes(t, tt.name, tt.got, want)
		f, n, err := DecodeFrame(want, false, Limits{})
		if err != nil || n != len(want) || f.Kind != tt.kind {
			t.Errorf("%s: DecodeFrame = %v, %d, %v", tt.name, f.Kind, n, err)
			continue
		}
		wantBytes(t, tt.name+" re-encoded", f.Append(nil), want)
	}
	if ts.Time().UnixNano() != 1700000000123456000 || TimespecOf(ts.Time()) != ts {
		t.Errorf("Timespec conversion: %v", ts.Time())
	}
}

const mpingFrameHex = `
07
01 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00
02 00 7f 00 01 00
00 00 00 00  00 00 00 00  00 00 00 00  00 00
08 ff ff ff ff ff ff ff ff
01 00 00 00
e0 92 24 2d
00 00 00 00 00 00 00 00 00 00 00 00
00 00 00 00 00 00 00 00  01`

func TestMPingVector(t *testing.T) {
	want := unhex(t, mpingFrameHex)
	m := mpingMessage()
	if m.Header.CRC != 0x2d2492e0 {
		t.Errorf("header crc %#x, want 0x2d2492e0", m.Header.CRC)
	}
	wantBytes(t, "MPing frame", AppendMessageFrame(nil, m, false), want)
	if n := MessageFrameLen(m, false); n != len(want) {
		t.Errorf("MessageFrameLen = %d, want %d", n, len(want))
	}
	f, n, err := DecodeFrame(want, false, Limits{})
	if err != nil || n != len(want) {
		t.Fatalf("DecodeFrame: %d, %v", n, err)
	}
	if f.Msg.Header != m.Header || f.Msg.Footer != m.Footer {
		t.Errorf("decoded %+v, want %+v", f.Msg, m)
	}
}

func TestMAuthVector(t *testing.T) {
	wantFront := unhex(t, `
		00 00 00 00 00 00 00 00 ff ff 00 00 00 00 00 00 00 00 00 00 00 00 22 00 00 00
		01 02 00 00 00 02 00 00 00 01 00 00 00 08 00 00 00 05 00 00 00 61 64 6d 69 6e
		00 00 00 00 00 00 00 00 00 00 00 00`)
	wantHeader := unhex(t, `
		01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 11 00 7f 00 01 00 40 00 00 00
		00 00 00 00 00 00 00 00 00 00 08 ff ff ff ff ff ff ff ff 01 00 00 00 93 77 46 ba`)
	wantFooter := unhex(t, "d7 6e 5b ef 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01")

	m := mauthMessage()
	wantBytes(t, "MAuth front", m.Front, wantFront)
	if m.Header.CRC != 0xba467793 || m.Footer.FrontCRC != 0xef5b6ed7 {
		t.Errorf("crcs: header %#x front %#x", m.Header.CRC, m.Footer.FrontCRC)
	}
	var hb [HeaderLen]byte
	m.Header.Encode(hb[:], false)
	wantBytes(t, "MAuth header", hb[:], wantHeader)
	var fb [FooterLen]byte
	m.Footer.Encode(fb[:], false)
	wantBytes(t, "MAuth footer", fb[:], wantFooter)

	frame := append(append(append([]byte{byte(TagMsg)}, wantHeader...), wantFront...), wantFooter...)
	wantBytes(t, "MAuth frame", AppendMessageFrame(nil, m, false), frame)
}

func TestAuthNoneAuthorizerVector(t *testing.T) {
	want := unhex(t, "01 08 00 00 00 05 00 00 00 61 64 6d 69 6e 37 10 00 00 00 00 00 00")
	a := AuthNoneAuthorizer{Name: AuthEntityName{Type: uint32(EntityClient), ID: "admin"}, GlobalID: 4151}
	wantBytes(t, "authorizer", a.AppendEncoded(nil), want)
	got, err := DecodeAuthNoneAuthorizer(want)
	if err != nil || got != a {
		t.Errorf("DecodeAuthNoneAuthorizer = %+v, %v", got, err)
	}
	if s := got.Name.String(); s != "client.admin" {
		t.Errorf("name %q", s)
	}
}

func TestLegacyAddrVectors(t *testing.T) {
	tests := []struct {
		addr string
		head string // the first 16 of 136 bytes; the rest is zero
	}{
		{"v1:192.168.0.10:6789/0", "00 00 00 00  00 00 00 00  00 02 1a 85  c0 a8 00 0a"},
		{"v1:192.168.0.20:0/305419896", "00 00 00 00 78 56 34 12 00 02 00 00 c0 a8 00 14"},
	}
	for _, tt := range tests {
		a, err := ParseEntityAddr(tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, AddrLen)
		copy(want, unhex(t, tt.head))
		wantBytes(t, tt.addr, a.AppendLegacy(nil), want)
		wantBytes(t, tt.addr+" AppendEncoded", a.AppendEncoded(nil, 0), want)
		got, err := DecodeLegacyAddr(want)
		if err != nil || got != a {
			t.Errorf("%s: decoded %v, %v", tt.addr, got, err)
		}
		if got.String() != tt.addr {
			t.Errorf("String() = %q, want %q", got.String(), tt.addr)
		}
	}
	if a := LegacyAddr(netip.MustParseAddrPort("192.168.0.20:0"), 0x12345678); a.String() != "v1:192.168.0.20:0/305419896" {
		t.Errorf("LegacyAddr: %v", a)
	}
}
