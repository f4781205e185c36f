package cluster

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// encode sizes its buffer exactly (encodedLen), its checksum is hash/fnv's FNV-1a, and
// decodeCmsg gives back the message; a changed byte fails the checksum.
func TestCmsgEncoding(t *testing.T) {
	addr := func(i int) wire.EntityAddr {
		return wire.LegacyAddr(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), uint16(6800+i)), uint32(i))
	}
	var addrs osdAddrs
	for i := range addrs {
		addrs[i] = addr(i + 1)
	}
	for _, m := range []*cmsg{
		{id: 1, kind: ckGetMap, from: "client.4100"},
		{id: 2, kind: ckOp, op: models.KVPut, key: "k1", value: "some value", tid: 7, from: "client.4101"},
		{id: 3, kind: ckBoot, osd: 2, tid: 3, from: "osd.2/public", addrs: addrs},
		{id: 4, kind: ckMap, tid: 9, from: "mon.a", osds: []osdInfo{{up: true, addrs: addrs, inc: 2, upFrom: 5}, {inc: 1, upFrom: 1}}},
	} {
		b := m.encode()
		if len(b) != m.encodedLen() || cap(b) != len(b) {
			t.Fatalf("message %d: %d bytes (capacity %d), encodedLen %d", m.id, len(b), cap(b), m.encodedLen())
		}
		// Every single-bit flip of the body changes the checksum.
		body := append([]byte(nil), b[:len(b)-8]...)
		sum := sum64(body)
		for i := range len(body) * 8 {
			body[i/8] ^= 1 << (i % 8)
			if sum64(body) == sum {
				t.Fatalf("message %d: flipping bit %d leaves the checksum", m.id, i)
			}
			body[i/8] ^= 1 << (i % 8)
		}
		if sum64(body[:len(body)-1]) == sum64(append(body[:len(body)-1:len(body)-1], 0)) {
			t.Fatalf("message %d: a trailing zero byte leaves the checksum", m.id)
		}
		names := map[string]string{}
		got, err := decodeCmsg(b, names)
		if err != nil {
			t.Fatalf("message %d: %v", m.id, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("message %d: decoded %+v, want %+v", m.id, got, m)
		}
		if again, err := decodeCmsg(b, names); err != nil || names[m.from] != m.from || !reflect.DeepEqual(again, m) {
			t.Fatalf("message %d: the sender's name not remembered, or decoded otherwise the second time: %v", m.id, err)
		}
		b[len(b)/2] ^= 1
		if _, err := decodeCmsg(b, nil); err == nil {
			t.Fatalf("message %d: a flipped byte decoded", m.id)
		}
	}
}
