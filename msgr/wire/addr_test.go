package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

func mustAddr(t testing.TB, s string) EntityAddr {
	t.Helper()
	a, err := ParseEntityAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// addr2Vectors are new-style (MSG_ADDR2) encodings. The first one is taken from the MMonMap a
// real Pacific ceph-mon sent (testdata/streams/ceph-s-msgr1.conn1.s2c.bin at 576).
var addr2Vectors = []struct {
	name string
	addr EntityAddr
	hex  string
}{
	{"mon v1 from a real MMonMap",
		EntityAddr{Type: AddrLegacy, Addr: netip.MustParseAddrPort("127.0.0.1:6789")},
		`01 01 01 1c 00 00 00  01 00 00 00  00 00 00 00  10 00 00 00
		 02 00  1a 85  7f 00 00 01  00 00 00 00 00 00 00 00`},
	{"v2 ipv4 with nonce",
		EntityAddr{Type: AddrMsgr2, Nonce: 0x12345678, Addr: netip.MustParseAddrPort("10.0.0.1:3300")},
		`01 01 01 1c 00 00 00  02 00 00 00  78 56 34 12  10 00 00 00
		 02 00  0c e4  0a 00 00 01  00 00 00 00 00 00 00 00`},
	{"ipv6 with flowinfo and scope id",
		EntityAddr{Type: AddrLegacy, Nonce: 7, Addr: netip.MustParseAddrPort("[fe80::1]:6789"), FlowInfo: 0x01020304, ScopeID: 2},
		`01 01 01 28 00 00 00  01 00 00 00  07 00 00 00  1c 00 00 00
		 0a 00  1a 85  01 02 03 04  fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 01  02 00 00 00`},
	{"AF_UNSPEC is 28 zero bytes",
		EntityAddr{Type: AddrNone, Nonce: 9},
		`01 01 01 28 00 00 00  00 00 00 00  09 00 00 00  1c 00 00 00
		 00 00  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`},
	{"any",
		EntityAddr{Type: AddrAny, Nonce: 1, Addr: netip.MustParseAddrPort("0.0.0.0:0")},
		`01 01 01 1c 00 00 00  03 00 00 00  01 00 00 00  10 00 00 00
		 02 00  00 00  00 00 00 00  00 00 00 00 00 00 00 00`},
}

func TestAddr2Vectors(t *testing.T) {
	for _, tt := range addr2Vectors {
		want := unhex(t, tt.hex)
		wantBytes(t, tt.name, tt.addr.AppendEncoded(nil, FeaturesAll), want)
		if n := tt.addr.EncodedLen(FeaturesAll); n != len(want) {
			t.Errorf("%s: EncodedLen %d, want %d", tt.name, n, len(want))
		}
		got, n, err := DecodeAddr(append(want, 0xee)) // trailing bytes belong to the caller
		if err != nil || n != len(want) || got != tt.addr {
			t.Errorf("%s: DecodeAddr = %+v, %d, %v", tt.name, got, n, err)
		}
	}
}

func TestAddr2FromCapture(t *testing.T) {
	s2c := readStream(t, "ceph-s-msgr1.conn1.s2c.bin")
	// entity_addrvec_t in the monmap: u8 marker 2, le32 count 1, then the address.
	const at = 576
	wantBytes(t, "addrvec header", s2c[at-5:at], []byte{2, 1, 0, 0, 0})
	a, n, err := DecodeAddr(s2c[at:])
	if err != nil || n != 35 || a.String() != "v1:127.0.0.1:6789/0" {
		t.Fatalf("DecodeAddr = %v, %d, %v", a, n, err)
	}
	wantBytes(t, "re-encoded", a.AppendEncoded(nil, FeaturesAll), s2c[at:at+n])
}

func TestAppendEncodedFeatures(t *testing.T) {
	anyAddr := EntityAddr{Type: AddrAny, Nonce: 1, Addr: netip.MustParseAddrPort("1.2.3.4:5")}
	legacyBytes := anyAddr.AppendEncoded(nil, 0)
	if len(legacyBytes) != AddrLen || legacyBytes[0] != 0 {
		t.Errorf("without MSG_ADDR2: % x", legacyBytes[:16])
	}
	// MSG_ADDR2 but a pre-Nautilus peer: ANY becomes LEGACY.
	old := anyAddr.AppendEncoded(nil, FeatureMsgAddr2|FeatureMsgAuth)
	if old[7] != byte(AddrLegacy) {
		t.Errorf("pre-Nautilus peer got type %d, want %d", old[7], AddrLegacy)
	}
	// Only SERVER_NAUTILUS without its incarnation bits is not Nautilus.
	if b := anyAddr.AppendEncoded(nil, FeatureMsgAddr2|FeatureServerNautilus); b[7] != byte(AddrLegacy) {
		t.Errorf("bit without incarnation: type %d", b[7])
	}
	if b := anyAddr.AppendEncoded(nil, FeatureMsgAddr2|FeatureMaskServerNautilus); b[7] != byte(AddrAny) {
		t.Errorf("Nautilus peer: type %d", b[7])
	}
	// Other types are written as they are.
	v2 := EntityAddr{Type: AddrMsgr2, Addr: netip.MustParseAddrPort("1.2.3.4:5")}
	if b := v2.AppendEncoded(nil, FeatureMsgAddr2); b[7] != byte(AddrMsgr2) {
		t.Errorf("v2 type %d", b[7])
	}
	// Appending keeps what dst held, and stale capacity is zeroed.
	dst := make([]byte, 3, 200)
	for i := range dst[:cap(dst)] {
		dst[:cap(dst)][i] = 0xaa
	}
	out := anyAddr.AppendEncoded(dst, FeaturesAll)
	wantBytes(t, "appended", out[3:], anyAddr.AppendEncoded(nil, FeaturesAll))
}

func TestDecodeAddrRejects(t *testing.T) {
	valid := unhex(t, addr2Vectors[0].hex)
	valid6 := unhex(t, addr2Vectors[2].hex)
	mod := func(b []byte, f func(b []byte)) []byte {
		c := append([]byte(nil), b...)
		f(c)
		return c
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"marker 2 (an addrvec)", []byte{2, 1, 0, 0, 0}, ErrBadAddr},
		{"marker 3", mod(valid, func(b []byte) { b[0] = 3 }), ErrBadAddr},
		{"struct_v 2", mod(valid, func(b []byte) { b[1] = 2 }), ErrBadAddr},
		{"struct_compat 2", mod(valid, func(b []byte) { b[2] = 2 }), ErrBadAddr},
		{"struct len 29", mod(valid, func(b []byte) { b[3] = 29 }), ErrBadAddr},
		{"struct len huge", mod(valid, func(b []byte) { b[6] = 0x80 }), ErrBadAddr},
		{"sockaddr_len 0", mod(valid, func(b []byte) { b[15] = 0 }), ErrBadAddr},
		{"sockaddr_len 28 in 28-byte struct", mod(valid, func(b []byte) { b[15] = 28 }), ErrBadAddr},
		{"inet6 with sockaddr_len 16", mod(valid, func(b []byte) { b[19] = 10 }), ErrBadAddr},
		{"inet in 40-byte struct", mod(valid6, func(b []byte) { b[19] = 2 }), ErrBadAddr},
		{"unknown family", mod(valid6, func(b []byte) { b[19] = 7 }), ErrBadAddr},
		{"big-endian family", mod(valid, func(b []byte) { b[19], b[20] = 0, 2 }), ErrBadAddr},
		{"non-zero sin_zero", mod(valid, func(b []byte) { b[34] = 1 }), ErrBadAddr},
		{"legacy with type bytes", mod(make([]byte, AddrLen), func(b []byte) { b[2] = 1 }), ErrBadAddr},
		{"legacy short", make([]byte, AddrLen-1), ErrShort},
	}
	for _, tt := range tests {
		_, n, err := DecodeAddr(tt.in)
		if n != 0 {
			t.Errorf("%s: n = %d on error", tt.name, n)
		}
		wantErr(t, tt.name, err, tt.want)
	}
	for cut := range len(valid) {
		_, _, err := DecodeAddr(valid[:cut])
		wantErr(t, "prefix", err, ErrShort)
	}
	unspec := unhex(t, addr2Vectors[3].hex)
	unspec[len(unspec)-1] = 1
	_, _, err := DecodeAddr(unspec)
	wantErr(t, "non-zero AF_UNSPEC", err, ErrBadAddr)
}

func TestLegacyAddrRoundTrip(t *testing.T) {
	for _, s := range []string{"v1:127.0.0.1:6789/0", "v1:[::1]:6800/42", "v1:[::ffff:1.2.3.4]:1/1", "v1:0.0.0.0:0/3"} {
		a := mustAddr(t, s)
		b := a.AppendLegacy(nil)
		got, n, err := DecodeAddr(b)
		if err != nil || n != AddrLen || got != a {
			t.Errorf("%s: %v, %d, %v", s, got, n, err)
		}
	}
	// AF_UNSPEC decodes as type NONE; its nonce survives.
	b := EntityAddr{Nonce: 5}.AppendLegacy(nil)
	got, err := DecodeLegacyAddr(b)
	if err != nil || got.Type != AddrNone || got.Nonce != 5 || got.Addr.IsValid() {
		t.Errorf("unspec: %+v, %v", got, err)
	}
	if b[8] != 0 || b[9] != 0 {
		t.Errorf("unspec family bytes % x", b[8:10])
	}
}

func TestLegacyIPv6Layout(t *testing.T) {
	a := EntityAddr{Type: AddrLegacy, Nonce: 1, Addr: netip.MustParseAddrPort("[2001:db8::5]:6789"), FlowInfo: 0xabcdef, ScopeID: 3}
	b := a.AppendLegacy(nil)
	want := make([]byte, AddrLen)
	copy(want, unhex(t, `00 00 00 00 01 00 00 00  00 0a 1a 85  00 ab cd ef
		20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 05  03 00 00 00`))
	wantBytes(t, "legacy ipv6", b, want)
}

func TestParseEntityAddr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:6789", "v1:127.0.0.1:6789/0"},
		{"v1:127.0.0.1:6789/12", "v1:127.0.0.1:6789/12"},
		{"[v2:10.0.0.1:3300/5]", "v2:10.0.0.1:3300/5"},
		{"any:10.0.0.1:0/5", "any:10.0.0.1:0/5"},
		{"[::1]:6789", "v1:[::1]:6789/0"}, // was mangled by the bracket stripping
		{"v1:[::1]:6789/3", "v1:[::1]:6789/3"},
		{"[v1:[::1]:6789/3]", "v1:[::1]:6789/3"},
	}
	for _, tt := range tests {
		a, err := ParseEntityAddr(tt.in)
		if err != nil || a.String() != tt.want {
			t.Errorf("ParseEntityAddr(%q) = %v, %v; want %s", tt.in, a, err, tt.want)
		}
	}
	for _, bad := range []string{"", "v1:", "1.2.3.4", "1.2.3.4:6789/x", "1.2.3.4:6789/4294967296", "[::1]"} {
		if _, err := ParseEntityAddr(bad); err == nil {
			t.Errorf("ParseEntityAddr(%q) accepted", bad)
		}
	}
}

func TestCompareOrder(t *testing.T) {
	v4 := func(s string, nonce uint32) EntityAddr {
		return EntityAddr{Type: AddrLegacy, Nonce: nonce, Addr: netip.MustParseAddrPort(s)}
	}
	// Each pair is strictly ascending in Ceph's memcmp order (msgr1-protocol.md §1.4).
	tests := []struct {
		name string
		lo   EntityAddr
		hi   EntityAddr
	}{
		{"nonce: least significant byte first", v4("1.1.1.1:1", 0x100), v4("1.1.1.1:1", 0x2)},
		{"nonce: 0x01000000 < 0x00000002", v4("1.1.1.1:1", 0x01000000), v4("1.1.1.1:1", 2)},
		{"nonce: equal low bytes", v4("1.1.1.1:1", 0x0201), v4("1.1.1.1:1", 0x0301)},
		{"nonce before address", v4("9.9.9.9:9", 1), v4("1.1.1.1:1", 2)},
		{"type before nonce", EntityAddr{Type: AddrNone, Nonce: 9}, v4("1.1.1.1:1", 0)},
		{"type before nonce (v1 < v2)", v4("1.1.1.1:1", 0xff), EntityAddr{Type: AddrMsgr2, Addr: netip.MustParseAddrPort("1.1.1.1:1")}},
		{"family: unspec < inet", EntityAddr{Type: AddrLegacy}, v4("0.0.0.0:0", 0)},
		{"family: inet < inet6", v4("255.255.255.255:65535", 0), EntityAddr{Type: AddrLegacy, Addr: netip.MustParseAddrPort("[::]:0")}},
		{"port big-endian: 255 < 256", v4("9.9.9.9:255", 0), v4("1.1.1.1:256", 0)},
		{"port before ip", v4("9.9.9.9:6789", 0), v4("1.1.1.1:6790", 0)},
		{"ip bytes", v4("10.0.0.1:6789", 0), v4("10.0.0.2:6789", 0)},
		{"ip bytes, first octet", v4("9.255.255.255:1", 0), v4("10.0.0.0:1", 0)},
	}
	for _, tt := range tests {
		if c := Compare(tt.lo, tt.hi); c != -1 {
			t.Errorf("%s: Compare(%v, %v) = %d, want -1", tt.name, tt.lo, tt.hi, c)
		}
		if c := Compare(tt.hi, tt.lo); c != 1 {
			t.Errorf("%s: reversed Compare = %d, want 1", tt.name, c)
		}
		if Compare(tt.lo, tt.lo) != 0 {
			t.Errorf("%s: not equal to itself", tt.name)
		}
	}
}

func TestAddrHelpers(t *testing.T) {
	if !(EntityAddr{}).IsBlankIP() || !mustAddr(t, "0.0.0.0:5").IsBlankIP() || !mustAddr(t, "[::]:5").IsBlankIP() {
		t.Error("blank IPs not blank")
	}
	if mustAddr(t, "1.2.3.4:5").IsBlankIP() || mustAddr(t, "1.2.3.4:5").Port() != 5 {
		t.Error("IsBlankIP/Port")
	}
	if s := (EntityAddr{Type: AddrCIDR, Nonce: 2}).String(); s != "cidr:-/2" {
		t.Errorf("String() = %q", s)
	}
	if s := AddrType(9).String(); s != "type9" {
		t.Errorf("AddrType(9) = %q", s)
	}
}

// Every byte of a legacy address's padding must be zero: a decoder that checks it a word at a
// time must still see a single stray bit at any position, first or last.
func TestDecodeLegacyAddrPadding(t *testing.T) {
	for _, ap := range []string{"10.0.0.1:6800", "[fd00::1]:6801"} {
		a := LegacyAddr(netip.MustParseAddrPort(ap), 7)
		b := make([]byte, AddrLen)
		a.EncodeLegacy(b)
		if got, err := DecodeLegacyAddr(b); err != nil || got != a {
			t.Fatalf("%s: decoded %v, %v", ap, got, err)
		}
		end := 10 + 6 // family, then port and IPv4
		if a.Addr.Addr().Is6() {
			end = 10 + 26
		}
		for i := end; i < AddrLen; i++ {
			for _, bit := range []byte{0x01, 0x80} {
				c := bytes.Clone(b)
				c[i] = bit
				if _, err := DecodeLegacyAddr(c); !errors.Is(err, ErrBadAddr) {
					t.Fatalf("%s: padding byte %d = %#x decoded with err %v, want ErrBadAddr", ap, i, bit, err)
				}
			}
		}
	}
}
