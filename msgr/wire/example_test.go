package wire_test

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

func ExampleCRC32C() {
	// Ceph's crc32c: Castagnoli, no pre- or post-inversion (test_crc32c.cc vectors).
	fmt.Println(wire.CRC32C(0, []byte("foo bar baz")))
	fmt.Println(wire.CRC32C(1234, []byte("foo bar baz")))
	fmt.Println(wire.CRC32C(7, nil)) // the crc of nothing is the seed
	// Output:
	// 4119623852
	// 881700046
	// 7
}

func ExampleHeader_Encode() {
	h := wire.Header{
		Seq: 1, Type: wire.MsgPing, Priority: wire.PrioDefault, Version: 1, CompatVersion: 1,
		Src: wire.NewName(wire.EntityClient, -1),
	}
	var b [wire.HeaderLen]byte
	h.Encode(b[:], true) // computes the crc over the first 49 bytes and stores it in h.CRC
	fmt.Printf("crc %#08x\n% x\n", h.CRC, b[wire.HeaderCRCLen:])
	// Output:
	// crc 0x2d2492e0
	// e0 92 24 2d
}

func ExampleDecodeHeader() {
	h := wire.Header{Seq: 7, Type: wire.MsgAuth, FrontLen: 0xffffffff}
	var b [wire.HeaderLen]byte
	h.Encode(b[:], true)
	got, err := wire.DecodeHeader(b[:], true) // the crc is fine...
	fmt.Println(got.Seq, err)
	fmt.Println(wire.DefaultLimits().CheckHeader(&got)) // ...but the length is refused
	// Output:
	// 7 <nil>
	// decode front_len at 22: msgr1: length over limit: front_len 4294967295 > 16777216
}

func ExampleAppendMessageFrame() {
	m := &wire.Message{Header: wire.Header{
		Seq: 1, Type: wire.MsgPing, Priority: wire.PrioDefault, Version: 1, CompatVersion: 1,
		Src: wire.NewName(wire.EntityClient, -1),
	}}
	m.Seal(true, true) // lengths, header crc, footer crcs and COMPLETE
	buf := make([]byte, 0, 128)
	buf = wire.AppendMessageFrame(buf, m, false)
	fmt.Println(len(buf), buf[0] == byte(wire.TagMsg))
	back, n, err := wire.DecodeFrame(buf, false, wire.Limits{})
	fmt.Println(n, err, back.Msg)
	// Output:
	// 75 true
	// 75 <nil> MSG type=2 seq=1 tid=0 prio=127 0+0+0 from client.-1
}

func ExampleAppendKeepalive2() {
	ts := wire.Timespec{Sec: 1700000000, Nsec: 123456000}
	fmt.Printf("% x\n", wire.AppendKeepalive2(nil, ts))
	fmt.Printf("% x\n", wire.AppendAck(nil, 5))
	// Output:
	// 0e 00 f1 53 65 00 ca 5b 07
	// 08 05 00 00 00 00 00 00 00
}

func ExampleEntityAddr_AppendEncoded() {
	a := wire.EntityAddr{Type: wire.AddrLegacy, Addr: netip.MustParseAddrPort("127.0.0.1:6789")}
	b := a.AppendEncoded(nil, wire.FeaturesAll) // new-style, as inside a MMonMap
	fmt.Printf("% x\n", b)
	back, n, err := wire.DecodeAddr(b)
	fmt.Println(back, n, err)
	fmt.Println(len(a.AppendEncoded(nil, 0))) // legacy, as in the handshake
	// Output:
	// 01 01 01 1c 00 00 00 01 00 00 00 00 00 00 00 10 00 00 00 02 00 1a 85 7f 00 00 01 00 00 00 00 00 00 00 00
	// v1:127.0.0.1:6789/0 35 <nil>
	// 136
}

func ExampleCompare() {
	// Ceph compares addresses with memcmp: the nonce's least significant byte comes first.
	a := wire.EntityAddr{Type: wire.AddrLegacy, Nonce: 0x100}
	b := wire.EntityAddr{Type: wire.AddrLegacy, Nonce: 0x2}
	fmt.Println(wire.Compare(a, b))
	// Output: -1
}

func ExampleMAuth() {
	req := wire.AuthNoneRequest{
		Methods: []uint32{wire.AuthNone},
		Name:    wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "admin"},
	}
	m := wire.MAuth{SessionMon: -1, Protocol: wire.AuthUnknown, AuthPayload: req.AppendEncoded(nil)}
	front := m.AppendFront(nil)
	fmt.Println(len(front))
	back, err := wire.DecodeMAuth(front)
	fmt.Println(back.Protocol, len(back.AuthPayload), err)
	// Output:
	// 60
	// 0 30 <nil>
}

func ExampleAuthNoneAuthorizer() {
	a := wire.AuthNoneAuthorizer{Name: wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "admin"}, GlobalID: 4151}
	fmt.Printf("% x\n", a.AppendEncoded(nil))
	// Output: 01 08 00 00 00 05 00 00 00 61 64 6d 69 6e 37 10 00 00 00 00 00 00
}

func ExampleDissectConversation() {
	c2s, _ := os.ReadFile("testdata/streams/ceph-s-msgr1.conn0.c2s.bin")
	s2c, _ := os.ReadFile("testdata/streams/ceph-s-msgr1.conn0.s2c.bin")
	cv, err := wire.DissectConversation(c2s, s2c, wire.DissectOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cv.Reply.Tag, cv.OldFooter)
	fmt.Print(cv.Server.String())
	// Output:
	// SEQ false
	// s2c@0 BANNER
	// s2c@9 ADDR v1:127.0.0.1:6789/0
	// s2c@145 ADDR v1:127.0.0.1:56686/0
	// s2c@281 CONNECT_REPLY SEQ features=0x3f01cfbdfffdffff global_seq=26 connect_seq=1 proto=15 auth_len=0 flags=1
	// s2c@307 IN_SEQ 0
	// s2c@315 KEEPALIVE2_ACK 1795576711.552402483
	// s2c@324 MSG type=18 seq=1 tid=0 prio=196 24+0+0 from mon.0
	// s2c@423 MSG type=4 seq=2 tid=0 prio=196 170+0+0 from mon.0
	// s2c@668 MSG type=62 seq=3 tid=0 prio=196 4+0+0 from mon.0
	// s2c@747 MSG type=4 seq=4 tid=0 prio=196 170+0+0 from mon.0
}

func ExampleMessage_DecodeFooterSums() {
	m := &wire.Message{Front: []byte("front"), Data: []byte("data")}
	m.SealFooter(true, true)
	var b [wire.FooterLen]byte
	m.Footer.Encode(b[:], false)
	// A receiver computed the crcs of the sections as they arrived.
	sums := [3]uint32{wire.CRC32C(0, m.Front), 0, wire.CRC32C(0, m.Data)}
	var got wire.Message
	fmt.Println(got.DecodeFooterSums(b[:], false, &sums, true, true))
	sums[2]++ // a corrupted data section
	fmt.Println(got.DecodeFooterSums(b[:], false, &sums, true, true) != nil)
	// Output:
	// <nil>
	// true
}
