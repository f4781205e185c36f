package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// AddrType is entity_addr_t's type: which protocol the address speaks.
type AddrType uint32

// Address types.
const (
	AddrNone   AddrType = 0
	AddrLegacy AddrType = 1 // msgr1 ("v1:")
	AddrMsgr2  AddrType = 2 // msgr2 ("v2:")
	AddrAny    AddrType = 3
	AddrCIDR   AddrType = 4
)

// String returns Ceph's prefix for the type: "v1", "v2", "any", "none" or "cidr".
func (t AddrType) String() string {
	switch t {
	case AddrNone:
		return "none"
	case AddrLegacy:
		return "v1"
	case AddrMsgr2:
		return "v2"
	case AddrAny:
		return "any"
	case AddrCIDR:
		return "cidr"
	}
	return "type" + strconv.Itoa(int(t))
}

// Linux address families, as they appear on the wire.
const (
	familyUnspec = 0
	familyInet   = 2
	familyInet6  = 10
)

// EntityAddr is Ceph's entity_addr_t: a type, a nonce that tells instances of one process
// address apart (a restarted daemon gets a new one), and an IPv4 or IPv6 socket address.
type EntityAddr struct {
	Type     AddrType
	Nonce    uint32
	Addr     netip.AddrPort // the zero value means no socket address (family AF_UNSPEC)
	FlowInfo uint32         // IPv6 sin6_flowinfo (network byte order on the wire)
	ScopeID  uint32         // IPv6 sin6_scope_id (host order, little-endian, on the wire)
}

// LegacyAddr returns a msgr1 address for ap with the given nonce.
func LegacyAddr(ap netip.AddrPort, nonce uint32) EntityAddr {
	return EntityAddr{Type: AddrLegacy, Nonce: nonce, Addr: ap}
}

// IsBlankIP reports whether the address has no IP or the unspecified one (0.0.0.0 or ::),
// which is what an unbound client announces.
func (a EntityAddr) IsBlankIP() bool {
	return !a.Addr.IsValid() || a.Addr.Addr().IsUnspecified()
}

// Port is the address's port, 0 when there is no socket address.
func (a EntityAddr) Port() uint16 { return a.Addr.Port() }

func (a EntityAddr) family() uint16 {
	switch {
	case !a.Addr.IsValid():
		return familyUnspec
	case a.Addr.Addr().Is4():
		return familyInet
	}
	return familyInet6
}

// String renders the address as Ceph does: "v1:127.0.0.1:6789/0".
func (a EntityAddr) String() string {
	var b strings.Builder
	b.WriteString(a.Type.String())
	b.WriteByte(':')
	if a.Addr.IsValid() {
		b.WriteString(a.Addr.String())
	} else {
		b.WriteString("-")
	}
	b.WriteByte('/')
	b.WriteString(strconv.FormatUint(uint64(a.Nonce), 10))
	return b.String()
}

// ParseEntityAddr parses "v1:IP:PORT" or "v1:IP:PORT/NONCE" (also "[v1:…]" and IPv6 "[::1]:PORT").
// Without a prefix the type is legacy.
func ParseEntityAddr(s string) (EntityAddr, error) {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") { // "[v1:…]", not "[::1]:6789"
		s = s[1 : len(s)-1]
	}
	a := EntityAddr{Type: AddrLegacy}
	for _, p := range []struct {
		prefix string
		t      AddrType
	}{{"v1:", AddrLegacy}, {"v2:", AddrMsgr2}, {"any:", AddrAny}} {
		if rest, ok := strings.CutPrefix(s, p.prefix); ok {
			a.Type, s = p.t, rest
			break
		}
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		n, err := strconv.ParseUint(s[i+1:], 10, 32)
		if err != nil {
			return EntityAddr{}, fmt.Errorf("parse address %q: bad nonce: %w", s, err)
		}
		a.Nonce, s = uint32(n), s[:i]
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return EntityAddr{}, fmt.Errorf("parse address: %w", err)
	}
	a.Addr = ap
	return a, nil
}

// memKey is the address as Ceph holds it in memory (type and nonce host-endian, family
// host-endian, port and IP in network order, zero padding), which Ceph compares with memcmp
// to resolve connection races (msgr1-protocol.md §1.4).
func (a EntityAddr) memKey() [36]byte {
	var k [36]byte
	binary.LittleEndian.PutUint32(k[0:], uint32(a.Type))
	binary.LittleEndian.PutUint32(k[4:], a.Nonce)
	binary.LittleEndian.PutUint16(k[8:], a.family())
	a.putSockaddrBody(k[10:])
	return k
}

// putSockaddrBody writes what follows the family in a Linux sockaddr_in/sockaddr_in6: port
// (big-endian), then the IPv4 address, or flowinfo, IPv6 address and scope id. b must hold 26 bytes.
func (a EntityAddr) putSockaddrBody(b []byte) {
	if !a.Addr.IsValid() {
		return
	}
	binary.BigEndian.PutUint16(b[0:], a.Addr.Port())
	ip := a.Addr.Addr()
	if ip.Is4() {
		v4 := ip.As4()
		copy(b[2:6], v4[:])
		return
	}
	binary.BigEndian.PutUint32(b[2:], a.FlowInfo)
	v6 := ip.As16()
	copy(b[6:22], v6[:])
	binary.LittleEndian.PutUint32(b[22:], a.ScopeID)
}

// Compare orders addresses the way Ceph's entity_addr_t operators do (a memcmp of the
// in-memory struct): type, then the nonce compared byte by byte least significant first, then
// family, port and IP. It returns -1, 0 or +1.
func Compare(a, b EntityAddr) int {
	ka, kb := a.memKey(), b.memKey()
	return bytes.Compare(ka[:], kb[:])
}

// EncodeLegacy writes the 136-byte legacy form of a into b, which must hold AddrLen bytes.
// The type is not on the wire (always written as 0); the family and port are big-endian.
func (a EntityAddr) EncodeLegacy(b []byte) {
	b = b[:AddrLen]
	clear(b)
	binary.LittleEndian.PutUint32(b[4:], a.Nonce)
	binary.BigEndian.PutUint16(b[8:], a.family())
	a.putSockaddrBody(b[10:])
}

// AppendLegacy appends the 136-byte legacy form of a to dst.
func (a EntityAddr) AppendLegacy(dst []byte) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, AddrLen)...)
	a.EncodeLegacy(dst[n:])
	return dst
}

// DecodeLegacyAddr decodes a 136-byte legacy entity_addr_t from the start of b, as found in the
// msgr1 handshake. Padding must be zero (Ceph always zeroes it), so anything accepted
// re-encodes to the same bytes.
func DecodeLegacyAddr(b []byte) (EntityAddr, error) {
	const what = "entity_addr_t"
	if len(b) < AddrLen {
		return EntityAddr{}, short(what, AddrLen, len(b))
	}
	b = b[:AddrLen]
	if b[0] != 0 {
		return EntityAddr{}, decodeErr(what, 0, fmt.Errorf("%w: legacy marker %d", ErrBadAddr, b[0]))
	}
	if b[1]|b[2]|b[3] != 0 {
		return EntityAddr{}, decodeErr(what, 1, fmt.Errorf("%w: non-zero type bytes", ErrBadAddr))
	}
	a := EntityAddr{Nonce: binary.LittleEndian.Uint32(b[4:])}
	family := binary.BigEndian.Uint16(b[8:])
	end, err := a.decodeSockaddr(family, b[10:], what, 10)
	if err != nil {
		return EntityAddr{}, err
	}
	if !allZero(b[10+end:]) {
		return EntityAddr{}, decodeErr(what, 10+end, fmt.Errorf("%w: non-zero padding", ErrBadAddr))
	}
	a.Type = AddrLegacy
	if family == familyUnspec {
		a.Type = AddrNone
	}
	return a, nil
}

// decodeSockaddr fills a from the bytes after the family and returns how many it used.
func (a *EntityAddr) decodeSockaddr(family uint16, b []byte, what string, off int) (int, error) {
	switch family {
	case familyUnspec:
		return 0, nil
	case familyInet:
		if len(b) < 6 {
			return 0, short(what, off+6, off+len(b))
		}
		a.Addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[2:6])), binary.BigEndian.Uint16(b))
		return 6, nil
	case familyInet6:
		if len(b) < 26 {
			return 0, short(what, off+26, off+len(b))
		}
		a.FlowInfo = binary.BigEndian.Uint32(b[2:])
		a.Addr = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[6:22])), binary.BigEndian.Uint16(b))
		a.ScopeID = binary.LittleEndian.Uint32(b[22:])
		return 26, nil
	}
	return 0, decodeErr(what, off-2, fmt.Errorf("%w: family %d", ErrBadAddr, family))
}

func allZero(b []byte) bool {
	// Eight bytes at a time: a legacy address's padding is 120 bytes, checked at every
	// decode (a handshake decodes two or three).
	var or uint64
	for len(b) >= 8 {
		or |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, c := range b {
		or |= uint64(c)
	}
	return or == 0
}
