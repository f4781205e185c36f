package wire

import (
	"net/netip"
	"testing"
)

// TestZeroAllocs pins the allocation-free encode and decode paths.
func TestZeroAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation changes allocations")
	}
	m := osdMessage(1, NewName(EntityOSD, 1))
	var hb [HeaderLen]byte
	m.Header.Encode(hb[:], false)
	var fb [FooterLen]byte
	m.Footer.Encode(fb[:], false)
	conn := Connect{Features: FeaturesAll, HostType: EntityClient, ProtocolVersion: ProtoMonClient}
	cb := conn.Append(nil)
	reply := ConnectReply{Tag: TagSeq, Features: FeaturesAll}
	rb := reply.Append(nil)
	addr := EntityAddr{Type: AddrMsgr2, Nonce: 1, Addr: netip.MustParseAddrPort("[2001:db8::1]:3300")}
	ab := addr.AppendEncoded(nil, FeaturesAll)
	frame := AppendMessageFrame(nil, m, false)
	buf := make([]byte, 0, 2*len(frame))
	var sink uint64

	tests := []struct {
		name string
		f    func()
	}{
		{"Header.Encode", func() { m.Header.Encode(hb[:], true) }},
		{"Header.Encode into a stack array", func() {
			var b [HeaderLen]byte
			m.Header.Encode(b[:], true)
			h, _ := DecodeHeader(b[:], true)
			sink += h.Seq
		}},
		{"DecodeHeader", func() { h, _ := DecodeHeader(hb[:], true); sink += h.Seq }},
		{"Footer.Encode", func() { m.Footer.Encode(fb[:], false) }},
		{"DecodeFooter", func() { f, _ := DecodeFooter(fb[:], false); sink += uint64(f.DataCRC) }},
		{"Connect.Encode", func() { conn.Encode(cb) }},
		{"DecodeConnect", func() { c, _ := DecodeConnect(cb, Limits{}); sink += c.Features }},
		{"ConnectReply.Encode", func() { reply.Encode(rb) }},
		{"DecodeConnectReply", func() { r, _ := DecodeConnectReply(rb, Limits{}); sink += r.Features }},
		{"Connect.Append", func() { buf = conn.Append(buf[:0]) }},
		{"EntityAddr.AppendEncoded", func() { buf = addr.AppendEncoded(buf[:0], FeaturesAll) }},
		{"DecodeAddr", func() { a, _, _ := DecodeAddr(ab); sink += uint64(a.Nonce) }},
		{"DecodeLegacyAddr", func() { a, _ := DecodeLegacyAddr(addr.AppendLegacy(buf[:0])); sink += uint64(a.Nonce) }},
		{"AppendMessageFrame", func() { buf = AppendMessageFrame(buf[:0], m, false) }},
		{"AppendMessageFrame old footer", func() { buf = AppendMessageFrame(buf[:0], m, true) }},
		{"DecodeMessage", func() { mm, _, _ := DecodeMessage(frame[1:], false, Limits{}); sink += mm.Header.Seq }},
		{"AppendAck+Keepalive2", func() { buf = AppendKeepalive2(AppendAck(buf[:0], 5), Timespec{1, 2}) }},
		{"Message.Seal", func() { m.Seal(true, true) }},
		{"Compare", func() { sink += uint64(Compare(addr, addr) + 1) }},
		{"CheckHeader", func() { _ = DefaultLimits().CheckHeader(&m.Header) }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", tt.name, n)
		}
	}
	_ = sink
}
