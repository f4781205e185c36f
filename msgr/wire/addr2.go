package wire

import (
	"encoding/binary"
	"fmt"
)

// Sizes of the new-style (MSG_ADDR2) entity_addr_t encoding: a marker byte, the versioned
// struct header (struct_v, struct_compat, le32 length), then le32 type, le32 nonce, le32
// sockaddr_len and the sockaddr itself (le16 family followed by the rest of the Linux sockaddr).
const (
	addr2HeaderLen   = 7  // marker, struct_v, struct_compat, le32 len
	addr2FixedLen    = 12 // type, nonce, sockaddr_len
	sockaddrInLen    = 16 // sizeof(struct sockaddr_in)
	sockaddrIn6Len   = 28 // sizeof(struct sockaddr_in6), also Ceph's size for AF_UNSPEC
	addrMarkerLegacy = 0
	addrMarkerAddr2  = 1
)

// sockaddrLen is what Ceph's entity_addr_t::get_sockaddr_len returns: the size of the
// sockaddr for the family, and the size of the whole union (that of sockaddr_in6) for AF_UNSPEC.
func (a EntityAddr) sockaddrLen() int {
	if a.family() == familyInet {
		return sockaddrInLen
	}
	return sockaddrIn6Len
}

// EncodedLen is the number of bytes AppendEncoded writes for these features.
func (a EntityAddr) EncodedLen(features uint64) int {
	if features&FeatureMsgAddr2 == 0 {
		return AddrLen
	}
	return addr2HeaderLen + addr2FixedLen + a.sockaddrLen()
}

// AppendEncoded appends a as Ceph's entity_addr_t::encode writes it for a peer with the given
// features: the 136-byte legacy form without FeatureMsgAddr2, else the new-style form (marker
// 1). Peers older than Nautilus do not know AddrAny, so without FeatureMaskServerNautilus an
// AddrAny address is written as AddrLegacy. It does not allocate when dst has the capacity.
func (a EntityAddr) AppendEncoded(dst []byte, features uint64) []byte {
	if features&FeatureMsgAddr2 == 0 {
		dst, b := grow(dst, AddrLen)
		a.EncodeLegacy(b)
		return dst
	}
	typ := a.Type
	if typ == AddrAny && !HasFeatures(features, FeatureMaskServerNautilus) {
		typ = AddrLegacy
	}
	elen := a.sockaddrLen()
	dst, b := grow(dst, addr2HeaderLen+addr2FixedLen+elen)
	b[0], b[1], b[2] = addrMarkerAddr2, 1, 1
	binary.LittleEndian.PutUint32(b[3:], uint32(addr2FixedLen+elen))
	binary.LittleEndian.PutUint32(b[7:], uint32(typ))
	binary.LittleEndian.PutUint32(b[11:], a.Nonce)
	binary.LittleEndian.PutUint32(b[15:], uint32(elen))
	binary.LittleEndian.PutUint16(b[19:], a.family())
	a.putSockaddrBody(b[21:])
	return dst
}

// DecodeAddr decodes an entity_addr_t in either encoding from the start of b and returns it
// with the number of bytes used: the legacy form (marker byte 0, 136 bytes, see
// DecodeLegacyAddr) or the new-style MSG_ADDR2 form (marker byte 1) found in message payloads.
//
// Only the forms Ceph writes are accepted, so anything accepted re-encodes to the same bytes
// with AppendEncoded (features 0 for the legacy form, FeaturesAll for the new-style one):
// struct_v and struct_compat 1, a struct length that covers exactly the fields, a sockaddr
// length of 16 for AF_INET and 28 for AF_INET6 and AF_UNSPEC, and zero padding.
func DecodeAddr(b []byte) (EntityAddr, int, error) {
	if len(b) == 0 {
		return EntityAddr{}, 0, short("entity_addr_t", 1, 0)
	}
	switch b[0] {
	case addrMarkerLegacy:
		a, err := DecodeLegacyAddr(b)
		if err != nil {
			return EntityAddr{}, 0, err
		}
		return a, AddrLen, nil
	case addrMarkerAddr2:
		return decodeAddr2(b)
	}
	return EntityAddr{}, 0, decodeErr("entity_addr_t", 0, fmt.Errorf("%w: marker %d", ErrBadAddr, b[0]))
}

// decodeAddr2 decodes the new-style form; b[0] is the marker 1.
func decodeAddr2(b []byte) (EntityAddr, int, error) {
	const what = "entity_addr_t (addr2)"
	if len(b) < addr2HeaderLen {
		return EntityAddr{}, 0, short(what, addr2HeaderLen, len(b))
	}
	if b[1] != 1 || b[2] != 1 {
		return EntityAddr{}, 0, decodeErr(what, 1,
			fmt.Errorf("%w: struct_v %d struct_compat %d, want 1 1", ErrBadAddr, b[1], b[2]))
	}
	n := binary.LittleEndian.Uint32(b[3:])
	if n != addr2FixedLen+sockaddrInLen && n != addr2FixedLen+sockaddrIn6Len {
		return EntityAddr{}, 0, decodeErr(what, 3, fmt.Errorf("%w: struct length %d", ErrBadAddr, n))
	}
	total := addr2HeaderLen + int(n)
	if len(b) < total {
		return EntityAddr{}, 0, short(what, total, len(b))
	}
	a, err := decodeAddr2Body(b[addr2HeaderLen:total])
	if err != nil {
		return EntityAddr{}, 0, err
	}
	return a, total, nil
}

// decodeAddr2Body decodes type, nonce, sockaddr_len and the sockaddr; body has exactly the
// length the struct header announced, and offsets in errors are relative to the marker.
func decodeAddr2Body(body []byte) (EntityAddr, error) {
	const what = "entity_addr_t (addr2)"
	a := EntityAddr{
		Type:  AddrType(binary.LittleEndian.Uint32(body[0:])),
		Nonce: binary.LittleEndian.Uint32(body[4:]),
	}
	elen := binary.LittleEndian.Uint32(body[8:])
	if int(elen) != len(body)-addr2FixedLen {
		return EntityAddr{}, decodeErr(what, addr2HeaderLen+8,
			fmt.Errorf("%w: sockaddr_len %d in a struct of %d bytes", ErrBadAddr, elen, len(body)))
	}
	family := binary.LittleEndian.Uint16(body[12:])
	want := sockaddrIn6Len
	if family == familyInet {
		want = sockaddrInLen
	}
	if int(elen) != want {
		return EntityAddr{}, decodeErr(what, addr2HeaderLen+12,
			fmt.Errorf("%w: sockaddr_len %d for family %d", ErrBadAddr, elen, family))
	}
	const off = addr2HeaderLen + 14
	used, err := a.decodeSockaddr(family, body[14:], what, off)
	if err != nil {
		return EntityAddr{}, err
	}
	if !allZero(body[14+used:]) {
		return EntityAddr{}, decodeErr(what, off+used, fmt.Errorf("%w: non-zero padding", ErrBadAddr))
	}
	return a, nil
}
