package cluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Messages of the cluster workload. Every one carries the id the Checker knows it by (also
// in Header.Tid) and ends with a checksum of its own, so a receiver can tell whether it
// arrived intact independently of the messenger's crcs.

type cmsgKind uint8

const (
	ckOp        cmsgKind = iota + 1 // client → primary (public): a key-value operation
	ckOpReply                       // primary → client: its answer
	ckRepl                          // primary → replica (cluster, lossless): one log entry
	ckReplAck                       // replica → primary (cluster, lossless): applied up to
	ckPing                          // hb_client → hb_back/hb_front server
	ckPingReply                     // the answer
	ckBoot                          // osd (public) → mon: here are my addresses
	ckGetMap                        // anyone → mon: send me the map
	ckMap                           // mon → anyone: the OSD map
)

// cmsgNames name the kinds on the timeline (after Ceph's message names).
var cmsgNames = [...]string{
	ckOp: "osd_op", ckOpReply: "osd_op_reply", ckRepl: "repop", ckReplAck: "repop_reply", ckPing: "osd_ping",
	ckPingReply: "osd_ping_reply", ckBoot: "osd_boot", ckGetMap: "mon_subscribe", ckMap: "osd_map",
}

func (k cmsgKind) String() string {
	if int(k) < len(cmsgNames) && cmsgNames[k] != "" {
		return cmsgNames[k]
	}
	return fmt.Sprintf("kind %d", k)
}

// Ceph message types used for each kind (MSG_OSD_REPOP 112, MSG_OSD_REPOPREPLY 113,
// MSG_OSD_BOOT 71), indexed by kind (a table, not a map: it is read for every message sent).
var cmsgType = [...]uint16{
	ckOp: wire.MsgOSDOp, ckOpReply: wire.MsgOSDOpReply, ckRepl: 112, ckReplAck: 113, ckPing: wire.MsgOSDPing,
	ckPingReply: wire.MsgOSDPing, ckBoot: 71, ckGetMap: wire.MsgMonSubscribe, ckMap: wire.MsgOSDMap,
}

// osdAddrs are an OSD incarnation's four bound messengers (public, cluster, hb_back, hb_front).
type osdAddrs [4]wire.EntityAddr

const (
	addrPublic = iota
	addrCluster
	addrHBBack
	addrHBFront
)

// osdInfo is one OSD's entry in the map: up, its addresses, which incarnation booted and the
// map epoch it came up in (Ceph's up_from: every boot is a new epoch, even at the same
// addresses).
type osdInfo struct {
	up     bool
	addrs  osdAddrs
	inc    uint32
	upFrom uint64
}

type cmsg struct {
	id    uint64
	kind  cmsgKind
	from  string // the sender's endpoint, e.g. "osd.1/cluster" (replies go there)
	tid   uint64 // op tid, log index, heartbeat stamp or map epoch
	op    models.KVOpKind
	osd   int32 // boot: the OSD; repl/ack: the primary
	key   string
	value string
	addrs osdAddrs  // boot
	osds  []osdInfo // map
}

var errBadCmsg = errors.New("cluster: malformed cluster message")

// encodedLen is the length of m's encoding (what encode appends).
func (m *cmsg) encodedLen() int {
	n := 8 + 2 + 8 + 4 + 3*4 + len(m.from) + len(m.key) + len(m.value) + len(m.addrs)*wire.AddrLen + 1
	n += len(m.osds) * (1 + len(osdAddrs{})*wire.AddrLen + 4 + 8)
	return n + 8 // the checksum
}

func (m *cmsg) encode() []byte { return m.encodeInto(make([]byte, 0, m.encodedLen())) }

// encodeInto appends m's encoding to b (b needs room for encodedLen bytes not to grow).
func (m *cmsg) encodeInto(b []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, m.id)
	b = append(b, byte(m.kind), byte(m.op))
	b = binary.LittleEndian.AppendUint64(b, m.tid)
	b = binary.LittleEndian.AppendUint32(b, uint32(m.osd))
	b = appendString(b, m.from)
	b = appendString(b, m.key)
	b = appendString(b, m.value)
	b = appendAddrs(b, m.addrs)
	b = append(b, byte(len(m.osds)))
	for _, o := range m.osds {
		up := byte(0)
		if o.up {
			up = 1
		}
		b = appendAddrs(append(b, up), o.addrs)
		b = binary.LittleEndian.AppendUint32(b, o.inc)
		b = binary.LittleEndian.AppendUint64(b, o.upFrom)
	}
	return binary.LittleEndian.AppendUint64(b, sum64(b))
}

// sum64 is the checksum of a message's encoding: FNV-style a 64-bit word at a time (xor,
// multiply by the FNV prime, fold the high half into the low half), the tail bytes and the
// length last. Each step is a bijection of the running sum, so a message that differs in one
// word (one flipped bit, one changed byte) never has the same sum. Byte-at-a-time FNV-1a
// was 13% of a cluster seed: a map message carries hundreds of bytes of addresses.
func sum64(b []byte) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	// Written out, four words a round: a closure per word, and the slice advanced per word,
	// were twice the instructions (sum64 was 5% of a cluster seed's).
	for len(b) >= 32 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * prime
		h ^= h >> 32
		h = (h ^ binary.LittleEndian.Uint64(b[8:])) * prime
		h ^= h >> 32
		h = (h ^ binary.LittleEndian.Uint64(b[16:])) * prime
		h ^= h >> 32
		h = (h ^ binary.LittleEndian.Uint64(b[24:])) * prime
		h ^= h >> 32
		b = b[32:]
	}
	for len(b) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * prime
		h ^= h >> 32
		b = b[8:]
	}
	var tail [8]byte
	copy(tail[:], b)
	h = (h ^ binary.LittleEndian.Uint64(tail[:])) * prime
	h ^= h >> 32
	h = (h ^ uint64(len(b))) * prime
	h ^= h >> 32
	return h
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// appendAddrs appends the legacy encodings of a. An address without nonce and socket
// address (most messages carry no addresses) encodes as AddrLen zero bytes: those are
// appended as they are.
func appendAddrs(b []byte, a osdAddrs) []byte {
	for _, x := range a {
		n := len(b)
		b = append(b, zeroAddr[:]...)
		if x.Nonce != 0 || x.Addr.IsValid() {
			x.EncodeLegacy(b[n:])
		}
	}
	return b
}

var zeroAddr [wire.AddrLen]byte

var errCmsgSum = errors.New("cluster: cluster message checksum mismatch")

// decodeCmsg parses a front into a new message; it fails on a bad checksum or a malformed
// message. Sender names found in names are taken from it (not allocated again), and added to
// it while it has fewer than maxNames (nil: none).
func decodeCmsg(b []byte, names map[string]string) (*cmsg, error) {
	m := &cmsg{}
	if err := m.decode(b, names, nil); err != nil {
		return nil, err
	}
	return m, nil
}

// decode parses a front into m, as decodeCmsg does, in place: m.osds' storage is reused, and
// a key equal to one of keys is that string (the workload's keys: a received key allocates
// nothing). Nothing of b is kept. On an error m is left partly overwritten.
func (m *cmsg) decode(b []byte, names map[string]string, keys []string) error {
	if len(b) < 8 {
		return errBadCmsg
	}
	body, sum := b[:len(b)-8], binary.LittleEndian.Uint64(b[len(b)-8:])
	if sum64(body) != sum {
		return errCmsgSum
	}
	r := reader{b: body}
	osds := m.osds[:0]
	m.id, m.kind, m.op, m.tid, m.osd = r.u64(), cmsgKind(r.u8()), models.KVOpKind(r.u8()), r.u64(), int32(r.u32())
	m.from = r.name(names)
	m.key, m.value = r.key(keys), r.str()
	m.addrs = r.addrs()
	n := int(r.u8())
	for i := 0; i < n && r.err == nil; i++ {
		osds = append(osds, osdInfo{up: r.u8() == 1, addrs: r.addrs(), inc: r.u32(), upFrom: r.u64()})
	}
	m.osds = nil
	if n > 0 {
		m.osds = osds
	}
	if r.err != nil || len(r.b) != 0 {
		return errBadCmsg
	}
	return nil
}

// reader takes fields off a byte slice, remembering the first shortage.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n < 0 || len(r.b) < n {
		r.err = errBadCmsg
		return make([]byte, max(n, 0))
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u8() byte    { return r.take(1)[0] }
func (r *reader) u32() uint32 { return binary.LittleEndian.Uint32(r.take(4)) }
func (r *reader) u64() uint64 { return binary.LittleEndian.Uint64(r.take(8)) }

func (r *reader) str() string {
	n := r.u32()
	if int64(n) > int64(len(r.b)) {
		r.err = errBadCmsg
		return ""
	}
	return string(r.take(int(n)))
}

// key is str, taken from keys when there (see cmsg.decode).
func (r *reader) key(keys []string) string {
	n := r.u32()
	if int64(n) > int64(len(r.b)) {
		r.err = errBadCmsg
		return ""
	}
	b := r.take(int(n))
	for _, k := range keys {
		if k == string(b) {
			return k
		}
	}
	return string(b)
}

// maxNames bounds the sender names decodeCmsg remembers.
const maxNames = 256

// name is str, taken from names when there (see decodeCmsg).
func (r *reader) name(names map[string]string) string {
	n := r.u32()
	if int64(n) > int64(len(r.b)) {
		r.err = errBadCmsg
		return ""
	}
	b := r.take(int(n))
	if s, ok := names[string(b)]; ok {
		return s
	}
	s := string(b)
	if names != nil && len(names) < maxNames {
		names[s] = s
	}
	return s
}

func (r *reader) addrs() osdAddrs {
	var a osdAddrs
	for i := range a {
		b := r.take(wire.AddrLen)
		if bytes.Equal(b, zeroAddr[:]) {
			continue // what DecodeLegacyAddr makes of it: the zero address
		}
		x, err := wire.DecodeLegacyAddr(b)
		if err != nil && r.err == nil {
			r.err = errBadCmsg
		}
		a[i] = x
	}
	return a
}
