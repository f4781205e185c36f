package proto_test

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"testing"

	"github.com/msgrsim/msgrsim/internal/ddtest"
	"github.com/msgrsim/msgrsim/msgr/proto/prototest"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The raw command injects bytes toward a connection, as if its peer had written them:
//
//	raw b hex=0e00f1…                    arbitrary bytes
//	raw b banner [text=…]                 a banner (default "ceph v027")
//	raw b addr [nonce=N] [ip=IP:PORT]     a connector's address (default 10.0.0.99:6800/99)
//	raw a greeting [nonce=N]              an acceptor's greeting: banner, the address a
//	                                      dials (nonce overridable) and a's address
//	raw b connect gseq=1 cseq=0 proto=10 features=0x… type=osd auth_proto=1 auth_len=N flags=0
//	                                      (auth_len zero bytes of authorizer follow if ≤ 4095)
//	raw a reply tag=SEQ gseq=1 cseq=1 proto=10 features=0x… auth_len=N flags=0 seq=N
//	raw a inseq n=N                       the le64 in_seq of the SEQ exchange
//	raw b msg seq=N tid=0 type=2 prio=127 front=text size=N data=N footer=old|new nocrc
//	          flags=N corrupt=header_crc|front_crc|data_crc front_len=N (header only)
//	raw b ack seq=N
//	raw b keepalive | keepalive2 | keepalive2_ack | close
//	raw b tag n=N                         one byte
func (e *env) cmdRaw(t *testing.T, d *ddtest.TestData) {
	n := e.arg0(t, d)
	if n.Sock == nil {
		d.Fatalf(t, "%s has no socket", n.Name)
	}
	var p []byte
	var hx string
	if d.MaybeScanArgs(t, "hex", &hx) {
		var err error
		if p, err = hex.DecodeString(hx); err != nil {
			d.Fatalf(t, "hex: %v", err)
		}
		e.Inject(n, p)
		return
	}
	if len(d.CmdArgs) < 2 || len(d.CmdArgs[1].Vals) > 0 {
		d.Fatalf(t, "say what to inject")
	}
	u32 := func(key string, def uint32) uint32 {
		d.MaybeScanArgs(t, key, &def)
		return def
	}
	u64 := func(key string, def uint64) uint64 {
		d.MaybeScanArgs(t, key, &def)
		return def
	}
	switch kind := d.CmdArgs[1].Key; kind {
	case "banner":
		text := wire.Banner
		d.MaybeScanArgs(t, "text", &text)
		p = []byte(text)
	case "addr":
		a := wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.99:6800"), 99)
		var ap string
		if d.MaybeScanArgs(t, "ip", &ap) {
			a.Addr = netip.MustParseAddrPort(ap)
		}
		a.Nonce = u32("nonce", a.Nonce)
		p = a.AppendLegacy(nil)
	case "greeting":
		me := n.C.PeerAddr()
		me.Nonce = u32("nonce", me.Nonce)
		p = me.AppendLegacy(wire.AppendBanner(nil))
		p = n.M.Addr.AppendLegacy(p)
	case "connect":
		var ts string
		typ := wire.EntityOSD
		if d.MaybeScanArgs(t, "type", &ts) {
			typ, _ = wire.ParseEntityType(ts)
		}
		c := wire.Connect{
			Features: u64("features", wire.FeaturesAll), HostType: typ, GlobalSeq: u32("gseq", 1),
			ConnectSeq: u32("cseq", 0), ProtocolVersion: u32("proto", 10), AuthorizerProtocol: u32("auth_proto", 0),
			AuthorizerLen: u32("auth_len", 0), Flags: uint8(u32("flags", 0)),
		}
		p = c.Append(nil)
		if c.AuthorizerLen <= wire.DefaultMaxAuthorizerLen {
			p = append(p, make([]byte, c.AuthorizerLen)...)
		}
	case "reply":
		var tn string
		d.ScanArgs(t, "tag", &tn)
		r := wire.ConnectReply{
			Tag: tagByName(t, d, tn), Features: u64("features", wire.FeaturesAll), GlobalSeq: u32("gseq", 1),
			ConnectSeq: u32("cseq", 1), ProtocolVersion: u32("proto", 10), AuthorizerLen: u32("auth_len", 0),
			Flags: uint8(u32("flags", 0)),
		}
		p = r.Append(nil)
		if r.AuthorizerLen <= wire.DefaultMaxAuthorizerLen {
			p = append(p, make([]byte, r.AuthorizerLen)...)
		}
		if r.Tag == wire.TagSeq {
			p = wire.AppendSeq(p, u64("seq", 0))
		}
	case "inseq":
		p = wire.AppendSeq(nil, u64("n", 0))
	case "msg":
		p = e.rawMsg(t, d, n, u64)
	case "ack":
		p = wire.AppendAck(nil, u64("seq", 0))
	case "keepalive":
		p = wire.AppendKeepalive(nil)
	case "keepalive2":
		p = wire.AppendKeepalive2(nil, wire.Timespec{Sec: u32("sec", 1700000000), Nsec: u32("nsec", 0)})
	case "keepalive2_ack":
		p = wire.AppendKeepalive2Ack(nil, wire.Timespec{Sec: u32("sec", 1700000000), Nsec: u32("nsec", 0)})
	case "close":
		p = wire.AppendClose(nil)
	case "tag":
		p = []byte{byte(u32("n", 0))}
	default:
		d.Fatalf(t, "unknown raw kind %q", kind)
	}
	e.Inject(n, p)
}

func tagByName(t *testing.T, d *ddtest.TestData, name string) wire.Tag {
	for tag := wire.TagReady; tag <= wire.TagChallengeAuthorizer; tag++ {
		if tag.String() == name {
			return tag
		}
	}
	d.Fatalf(t, "unknown tag %q", name)
	return 0
}

// rawMsg builds a MSG frame toward n, as its peer would send it, optionally damaged.
func (e *env) rawMsg(t *testing.T, d *ddtest.TestData, n *prototest.Node, u64 func(string, uint64) uint64) []byte {
	s := n.Sock
	src := wire.NewName(wire.EntityOSD, 99)
	if peer := s.Ends[1-n.Side]; peer != nil {
		src = peer.M.Cfg.MyName
	}
	front := []byte("raw")
	var text string
	if d.MaybeScanArgs(t, "front", &text) {
		front = []byte(text)
	}
	if size := int(u64("size", 1<<62)); size != 1<<62 {
		front = bytes.Repeat([]byte{'r'}, size)
	}
	m := wire.NewMessage(uint16(u64("type", uint64(wire.MsgPing))), front)
	h := &m.Header
	h.Seq, h.Tid, h.Priority, h.Src = u64("seq", 0), u64("tid", 0), uint16(u64("prio", uint64(wire.PrioDefault))), src
	h.CompatVersion = h.Version
	if k := u64("data", 0); k > 0 {
		m.Data = bytes.Repeat([]byte{'d'}, int(k))
	}
	m.Seal(true, !d.HasArg("nocrc"))
	if d.HasArg("flags") {
		m.Footer.Flags = wire.FooterFlags(u64("flags", 0))
	}
	if d.HasArg("front_len") {
		// A header announcing another length (the sections stay as they are).
		h.FrontLen = uint32(u64("front_len", 0))
		var b [wire.HeaderLen]byte
		h.Encode(b[:], true)
	}
	var corrupt string
	d.MaybeScanArgs(t, "corrupt", &corrupt)
	switch corrupt {
	case "":
	case "header_crc":
		h.CRC ^= 1
	case "front_crc":
		m.Footer.FrontCRC ^= 1
	case "data_crc":
		m.Footer.DataCRC ^= 1
	default:
		d.Fatalf(t, "corrupt must be header_crc, front_crc or data_crc")
	}
	old := e.sock(s).conv.features != 0 && wire.OldFooterFor(e.sock(s).conv.features)
	var footer string
	if d.MaybeScanArgs(t, "footer", &footer) {
		old = footer == "old"
	}
	return wire.AppendMessageFrame(nil, m, old)
}
