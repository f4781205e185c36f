package cluster

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"unsafe"

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

// cmsg.decode in place gives what decodeCmsg gives, whatever the message decoded into before
// (a map's entries do not linger in the next message), reuses the entries' storage, and
// takes a key equal to one of the workload's keys from them.
func TestCmsgDecodeInPlace(t *testing.T) {
	addrs := osdAddrs{wire.LegacyAddr(netip.MustParseAddrPort("10.0.1.3:6800"), 7)}
	keys := []string{"k0", "k1", "k2"}
	msgs := []*cmsg{
		{id: 1, kind: ckMap, tid: 4, from: "mon.a", osds: []osdInfo{{up: true, addrs: addrs, inc: 2, upFrom: 3}, {inc: 1, upFrom: 1}, {}}},
		{id: 2, kind: ckPing, osd: 1, tid: 99, from: "osd.1/hb_client"},
		{id: 3, kind: ckMap, tid: 5, from: "mon.a", osds: []osdInfo{{addrs: addrs, inc: 3, upFrom: 5}}},
		{id: 4, kind: ckOp, op: models.KVAppend, key: "k1", value: "[0.4]", tid: 4, from: "client.4100"},
		{id: 5, kind: ckOpReply, key: "k9", value: "v", tid: 4, from: "osd.0/public"},
	}
	cl := &Workload{keys: keys}
	var storage *osdInfo
	for _, m := range msgs {
		b := m.encode()
		rx := cl.rxMsg()
		if rx != &cl.rx || cl.rxMsg() == rx {
			t.Fatal("rxMsg does not lend rx once at a time")
		}
		if err := rx.decode(b, nil, cl.keys); err != nil {
			t.Fatalf("message %d: %v", m.id, err)
		}
		fresh, err := decodeCmsg(b, nil)
		if err != nil || !reflect.DeepEqual(rx, fresh) || !reflect.DeepEqual(rx, m) {
			t.Fatalf("message %d: decoded in place %+v, afresh %+v (%v), want %+v", m.id, rx, fresh, err, m)
		}
		if len(rx.osds) > 0 {
			if storage != nil && &rx.osds[0] != storage {
				t.Errorf("message %d: the map's entries were allocated again", m.id)
			}
			storage = &rx.osds[0]
		}
		if i := slices.Index(keys, rx.key); i >= 0 && unsafe.StringData(rx.key) != unsafe.StringData(keys[i]) {
			t.Errorf("message %d: key %q not taken from the workload's keys", m.id, rx.key)
		}
		cl.rxDone(rx)
	}
	if err := cl.rxMsg().decode(msgs[0].encode()[1:], nil, keys); err == nil {
		t.Fatal("a truncated message decoded")
	}
}

// osdView.update keeps its own copy of a map's entries (the dispatched message's are reused
// by the next decode), and the previous entries it returns are those of the map before.
func TestOSDViewUpdateCopies(t *testing.T) {
	a := wire.LegacyAddr(netip.MustParseAddrPort("10.0.1.3:6800"), 7)
	var v osdView
	m := &cmsg{kind: ckMap, tid: 1, osds: []osdInfo{{up: true, inc: 1, upFrom: 1}, {}}}
	if _, changed := v.update(m); len(changed) != 2 {
		t.Fatalf("first map: changed %v", changed)
	}
	m.osds[0].inc = 9 // the message's storage, reused
	if v.osds[0].inc != 1 {
		t.Fatal("the view shares the message's entries")
	}
	for epoch := uint64(2); epoch < 6; epoch++ {
		m = &cmsg{kind: ckMap, tid: epoch, osds: []osdInfo{{up: true, inc: uint32(epoch), upFrom: epoch}, {up: true, addrs: osdAddrs{a}, upFrom: 1}}}
		old, changed := v.update(m)
		if len(old) != 2 || old[0].inc != uint32(epoch-1) || !reflect.DeepEqual(v.osds, m.osds) {
			t.Fatalf("epoch %d: old %+v, view %+v", epoch, old, v.osds)
		}
		if want := []int{0}; epoch == 2 {
			if !reflect.DeepEqual(changed, []int{0, 1}) {
				t.Fatalf("epoch 2: changed %v", changed)
			}
		} else if !reflect.DeepEqual(changed, want) {
			t.Fatalf("epoch %d: changed %v, want %v", epoch, changed, want)
		}
	}
	if old, changed := v.update(&cmsg{kind: ckMap, tid: 3, osds: []osdInfo{{}}}); old != nil || changed != nil || v.epoch != 5 {
		t.Fatal("an older map was taken")
	}
}

// appendAddrs writes what wire.EntityAddr.EncodeLegacy writes, for addresses with and without
// nonce, socket address, IPv4 or IPv6 (zero ones take a shortcut).
func TestAppendAddrsMatchesEncodeLegacy(t *testing.T) {
	v6 := wire.LegacyAddr(netip.MustParseAddrPort("[fe80::1]:6801"), 0)
	v6.FlowInfo, v6.ScopeID = 3, 2
	for _, a := range []osdAddrs{
		{},
		{{Nonce: 5}, {}, wire.LegacyAddr(netip.MustParseAddrPort("10.0.1.2:6800"), 0), v6},
		{wire.LegacyAddr(netip.MustParseAddrPort("10.0.1.2:6800"), 9), {Type: wire.AddrLegacy}, {}, {FlowInfo: 1}},
	} {
		var want []byte
		for _, x := range a {
			b := make([]byte, wire.AddrLen)
			x.EncodeLegacy(b)
			want = append(want, b...)
		}
		got := appendAddrs([]byte{0xee}, a)
		if !bytes.Equal(got[1:], want) || got[0] != 0xee {
			t.Fatalf("%v: appendAddrs differs from EncodeLegacy", a)
		}
		// reader.addrs gives what DecodeLegacyAddr gives (zero ones take a shortcut).
		r := reader{b: got[1:]}
		back := r.addrs()
		for i := range back {
			x, err := wire.DecodeLegacyAddr(want[i*wire.AddrLen:])
			if err != nil || back[i] != x {
				t.Fatalf("%v: address %d read as %v, DecodeLegacyAddr %v (%v)", a, i, back[i], x, err)
			}
		}
		if r.err != nil || len(r.b) != 0 {
			t.Fatalf("%v: read back: %v, %d bytes left", a, r.err, len(r.b))
		}
	}
}

// sum64 is the word-at-a-time FNV-style sum as first written (one word per step: xor,
// multiply by the FNV prime, fold the high half; the tail bytes, then their count), for
// every length around its rounds of four words.
func TestSum64Reference(t *testing.T) {
	ref := func(b []byte) uint64 {
		h := uint64(14695981039346656037)
		mix := func(w uint64) { h = (h ^ w) * 1099511628211; h ^= h >> 32 }
		for len(b) >= 8 {
			mix(binary.LittleEndian.Uint64(b))
			b = b[8:]
		}
		var tail [8]byte
		copy(tail[:], b)
		mix(binary.LittleEndian.Uint64(tail[:]))
		mix(uint64(len(b)))
		return h
	}
	b := make([]byte, 300)
	for i := range b {
		b[i] = byte(i*37 + 11)
	}
	for n := range len(b) {
		if got, want := sum64(b[:n]), ref(b[:n]); got != want {
			t.Fatalf("%d bytes: %#x, want %#x", n, got, want)
		}
	}
	// A pinned value: the sum is on the simulated wire (hashed into traces).
	if got := sum64([]byte("cluster")); got != 0x70ae05701ae678e3 {
		t.Errorf("sum64(\"cluster\") = %#x", got)
	}
}
