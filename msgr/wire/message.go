package wire

import (
	"encoding/binary"
	"fmt"
	"time"
	"unsafe"

	"github.com/msgrsim/msgrsim/msgr/internal/msgmark"
)

// Header is ceph_msg_header (53 bytes; the crc covers the first 49).
type Header struct {
	Seq           uint64 // per-session sequence number, assigned when the message is written
	Tid           uint64 // transaction id of the upper layer (0 if unused)
	Type          uint16
	Priority      uint16
	Version       uint16
	FrontLen      uint32
	MiddleLen     uint32
	DataLen       uint32
	DataOff       uint16
	Src           EntityName
	CompatVersion uint16
	Reserved      uint16
	CRC           uint32
}

// PayloadLen is front+middle+data.
func (h *Header) PayloadLen() uint64 {
	return uint64(h.FrontLen) + uint64(h.MiddleLen) + uint64(h.DataLen)
}

// Encode writes the 53-byte header into b. With crc set, the crc field is computed over the
// first 49 bytes (and stored in h.CRC); otherwise h.CRC is written as is.
func (h *Header) Encode(b []byte, crc bool) {
	b = b[:HeaderLen]
	binary.LittleEndian.PutUint64(b[0:], h.Seq)
	binary.LittleEndian.PutUint64(b[8:], h.Tid)
	binary.LittleEndian.PutUint16(b[16:], h.Type)
	binary.LittleEndian.PutUint16(b[18:], h.Priority)
	binary.LittleEndian.PutUint16(b[20:], h.Version)
	binary.LittleEndian.PutUint32(b[22:], h.FrontLen)
	binary.LittleEndian.PutUint32(b[26:], h.MiddleLen)
	binary.LittleEndian.PutUint32(b[30:], h.DataLen)
	binary.LittleEndian.PutUint16(b[34:], h.DataOff)
	h.Src.Encode(b[36:45])
	binary.LittleEndian.PutUint16(b[45:], h.CompatVersion)
	binary.LittleEndian.PutUint16(b[47:], h.Reserved)
	if crc {
		if hasCRC32 { // the instruction without crc32cSmall's call (too big to be inlined)
			h.CRC = crc32cHeader((*[HeaderCRCLen]byte)(b))
		} else {
			h.CRC = crc32cSmall(0, b[:HeaderCRCLen])
		}
	}
	binary.LittleEndian.PutUint32(b[49:], h.CRC)
}

// DecodeHeader decodes a 53-byte header. With verifyCRC set a crc mismatch is an error
// wrapping ErrBadCRC. Lengths are not checked here: use Limits.CheckHeader.
func DecodeHeader(b []byte, verifyCRC bool) (Header, error) {
	var h Header
	if err := h.Decode(b, verifyCRC); err != nil {
		return Header{}, err
	}
	return h, nil
}

// Decode is DecodeHeader into h, in place: a receiver decodes the header from its read
// buffer straight into the message it receives. On error h holds garbage.
func (h *Header) Decode(b []byte, verifyCRC bool) error {
	if len(b) < HeaderLen {
		return short("ceph_msg_header", HeaderLen, len(b))
	}
	b = b[:HeaderLen]
	h.Seq = binary.LittleEndian.Uint64(b[0:])
	h.Tid = binary.LittleEndian.Uint64(b[8:])
	h.Type = binary.LittleEndian.Uint16(b[16:])
	h.Priority = binary.LittleEndian.Uint16(b[18:])
	h.Version = binary.LittleEndian.Uint16(b[20:])
	h.FrontLen = binary.LittleEndian.Uint32(b[22:])
	h.MiddleLen = binary.LittleEndian.Uint32(b[26:])
	h.DataLen = binary.LittleEndian.Uint32(b[30:])
	h.DataOff = binary.LittleEndian.Uint16(b[34:])
	h.Src = EntityName{Type: EntityType(b[36]), Num: int64(binary.LittleEndian.Uint64(b[37:45]))}
	h.CompatVersion = binary.LittleEndian.Uint16(b[45:])
	h.Reserved = binary.LittleEndian.Uint16(b[47:])
	h.CRC = binary.LittleEndian.Uint32(b[49:])
	if verifyCRC {
		var got uint32
		if hasCRC32 { // as in Encode
			got = crc32cHeader((*[HeaderCRCLen]byte)(b))
		} else {
			got = crc32cSmall(0, b[:HeaderCRCLen])
		}
		if got != h.CRC {
			return decodeErr("ceph_msg_header crc", 49,
				fmt.Errorf("%w: header crc %#08x, computed %#08x", ErrBadCRC, h.CRC, got))
		}
	}
	return nil
}

// Footer is ceph_msg_footer (21 bytes) or, with Old set on encode/decode, ceph_msg_footer_old
// (13 bytes, no signature) used when MSG_AUTH was not negotiated. The fields are not in wire
// order: with the signature first the struct packs into 24 bytes, not 32, which brings a
// Message to 160 bytes (the 160-byte size class instead of 176), allocated per message sent.
// Its unexported field is the messenger's bookkeeping of where the message's memory belongs
// (a received or lent message carries it): compare footers by their exported fields, not
// with ==.
type Footer struct {
	Sig       uint64
	FrontCRC  uint32
	MiddleCRC uint32
	DataCRC   uint32
	Flags     FooterFlags

	// mark is not on the wire: it is the messenger's bookkeeping of the message (whether it
	// lent it and may recycle it, see msgr.Messenger.NewMessage), in what would otherwise be
	// the struct's padding. Encode and Decode leave it alone; SealFooter keeps it.
	mark uint8
}

// The messenger reaches a message's mark through msgmark, not through wire's API.
func init() {
	var m Message
	msgmark.Offset = unsafe.Offsetof(m.Footer) + unsafe.Offsetof(m.Footer.mark)
}

// FooterSize is the footer length for a session with (FooterLen) or without (OldFooterLen) MSG_AUTH.
func FooterSize(msgAuth bool) int {
	if msgAuth {
		return FooterLen
	}
	return OldFooterLen
}

// OldFooterFor reports whether the messages of a session with the given negotiated features
// (the intersection of both sides') carry the 13-byte ceph_msg_footer_old: MSG_AUTH was not
// negotiated. Every reader and writer of msgr1 frames decides the footer size with it.
func OldFooterFor(negotiated uint64) bool { return !HasFeatures(negotiated, FeatureMsgAuth) }

// Encode writes the footer into b: 21 bytes, or 13 when old is set (Sig is dropped). Each
// branch slices b to its length first: one bounds check instead of one per field (a sender
// encodes a footer per message).
func (f *Footer) Encode(b []byte, old bool) {
	n := FooterLen
	if old {
		n = OldFooterLen
	}
	b = b[:n]
	_ = b[OldFooterLen-1]
	binary.LittleEndian.PutUint32(b[0:], f.FrontCRC)
	binary.LittleEndian.PutUint32(b[4:], f.MiddleCRC)
	binary.LittleEndian.PutUint32(b[8:], f.DataCRC)
	if old {
		b[12] = byte(f.Flags)
		return
	}
	binary.LittleEndian.PutUint64(b[12:], f.Sig)
	b[20] = byte(f.Flags)
}

// DecodeFooter decodes a 21-byte footer, or a 13-byte one when old is set.
func DecodeFooter(b []byte, old bool) (Footer, error) {
	var f Footer
	if err := f.Decode(b, old); err != nil {
		return Footer{}, err
	}
	return f, nil
}

// Decode is DecodeFooter into f, in place.
func (f *Footer) Decode(b []byte, old bool) error {
	n := FooterSize(!old)
	if len(b) < n {
		return short("ceph_msg_footer", n, len(b))
	}
	b = b[:n]
	f.FrontCRC = binary.LittleEndian.Uint32(b[0:])
	f.MiddleCRC = binary.LittleEndian.Uint32(b[4:])
	f.DataCRC = binary.LittleEndian.Uint32(b[8:])
	if old {
		f.Sig, f.Flags = 0, FooterFlags(b[12])
	} else {
		f.Sig = binary.LittleEndian.Uint64(b[12:])
		f.Flags = FooterFlags(b[20])
	}
	return nil
}

// Timespec is ceph_timespec, carried by KEEPALIVE2 and KEEPALIVE2_ACK.
type Timespec struct {
	Sec  uint32
	Nsec uint32
}

// TimespecOf converts a wall-clock time (seconds truncated to 32 bits, as Ceph does).
func TimespecOf(t time.Time) Timespec {
	return Timespec{Sec: uint32(t.Unix()), Nsec: uint32(t.Nanosecond())}
}

// Time converts back to a time.Time.
func (ts Timespec) Time() time.Time { return time.Unix(int64(ts.Sec), int64(ts.Nsec)) }

// Encode writes the 8-byte form into b.
func (ts Timespec) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], ts.Sec)
	binary.LittleEndian.PutUint32(b[4:TimespecLen], ts.Nsec)
}

// DecodeTimespec decodes an 8-byte ceph_timespec.
func DecodeTimespec(b []byte) (Timespec, error) {
	if len(b) < TimespecLen {
		return Timespec{}, short("ceph_timespec", TimespecLen, len(b))
	}
	return Timespec{Sec: binary.LittleEndian.Uint32(b), Nsec: binary.LittleEndian.Uint32(b[4:])}, nil
}

// Message is one msgr1 message: its header, its three payload sections and, once received,
// its footer. On send only the header fields an upper layer chooses matter (Type, Priority,
// Version, CompatVersion, Tid, DataOff); the messenger fills in Seq, Src, lengths and crcs.
type Message struct {
	Header Header
	Front  []byte
	Middle []byte
	Data   []byte
	Footer Footer
}

// NewMessage returns a message of the given type with a front section, version 1.
func NewMessage(typ uint16, front []byte) *Message {
	return &Message{Header: Header{Type: typ, Version: 1}, Front: front}
}

// String is a one-line summary: "MSG type=2 seq=1 prio=127 0+0+0 from client.-1".
func (m *Message) String() string {
	h := &m.Header
	return fmt.Sprintf("MSG type=%d seq=%d tid=%d prio=%d %d+%d+%d from %v", h.Type, h.Seq, h.Tid,
		h.Priority, len(m.Front), len(m.Middle), len(m.Data), h.Src)
}

// SealFooter computes the footer crcs of m's sections. headerCRC covers front and middle,
// dataCRC the data section (Ceph's ms_crc_header and ms_crc_data); without dataCRC the
// NOCRC flag is set. COMPLETE is always set.
func (m *Message) SealFooter(headerCRC, dataCRC bool) {
	// SealFooterSum's body, without its call (a sender seals every message).
	f := &m.Footer // in place: mark is kept
	f.Sig, f.FrontCRC, f.MiddleCRC, f.DataCRC, f.Flags = 0, 0, 0, 0, FooterComplete
	if headerCRC {
		f.FrontCRC = sectionCRC(m.Front)
		f.MiddleCRC = sectionCRC(m.Middle)
	}
	if dataCRC {
		if len(m.Data) > smallCRCMax {
			f.DataCRC = CRC32C(0, m.Data) // without sectionCRCBytes in between
		} else {
			f.DataCRC = sectionCRC(m.Data)
		}
	} else {
		f.Flags |= FooterNoCRC
	}
}

// SealFooterSum is SealFooter for a writer that computed the data crc itself: dataSum is
// CRC32C(0, m.Data), which a writer may compute a chunk at a time, each chunk continuing from
// the crc of the ones before it (CRC32C(CRC32C(0, a), b) = CRC32C(0, a+b)), right before it
// writes the chunk. Without dataCRC, dataSum is ignored and NOCRC is set, as SealFooter does.
func (m *Message) SealFooterSum(headerCRC, dataCRC bool, dataSum uint32) {
	f := &m.Footer // in place: mark is kept
	f.Sig, f.FrontCRC, f.MiddleCRC, f.DataCRC, f.Flags = 0, 0, 0, 0, FooterComplete
	if headerCRC {
		f.FrontCRC = sectionCRC(m.Front)
		f.MiddleCRC = sectionCRC(m.Middle)
	}
	if dataCRC {
		f.DataCRC = dataSum
	} else {
		f.Flags |= FooterNoCRC
	}
}

// checksData reports whether a receiver with ms_crc_data (dataCRC) checks the data crc of a
// message with footer f: unless the sender set NOCRC, as Ceph does; but a footer that says
// NOCRC and still carries a data crc is checked anyway. A sender that computed no crc leaves
// the field 0 (Ceph's does), while the flags byte is covered by no crc: one flipped bit there
// would otherwise turn off the check of a data section corrupted on the same path (found by the
// simulator, quirk Q13). A message whose true crc is 0 keeps Ceph's behaviour.
func (f *Footer) checksData(dataCRC bool) bool {
	return dataCRC && (f.Flags&FooterNoCRC == 0 || f.DataCRC != 0)
}

// VerifyFooter checks m's sections against its footer: COMPLETE must be set; front and middle
// crcs are checked when headerCRC is set, the data crc when dataCRC is set and the sender did
// not set NOCRC (or set it yet sent a crc: see checksData).
func (m *Message) VerifyFooter(headerCRC, dataCRC bool) error {
	var sums [3]uint32
	if headerCRC {
		sums[0], sums[1] = sectionCRC(m.Front), sectionCRC(m.Middle)
	}
	if m.Footer.checksData(dataCRC) {
		sums[2] = sectionCRC(m.Data)
	}
	return m.VerifyFooterSums(sums, headerCRC, dataCRC)
}

// DecodeFooterSums decodes m's footer from b, 21 bytes or 13 when old is set, as
// Footer.Decode does, and checks it against the crc32c of m's sections as VerifyFooterSums
// does (the same errors): a receiver's footer in one call, the sums computed while the
// sections arrived. On error m.Footer holds what was decoded. (sums by pointer: an array of
// three is passed on the stack, copied at every call.)
func (m *Message) DecodeFooterSums(b []byte, old bool, sums *[3]uint32, headerCRC, dataCRC bool) error {
	n := FooterSize(!old)
	if len(b) < n {
		return short("ceph_msg_footer", n, len(b))
	}
	b = b[:n]
	f := &m.Footer
	f.FrontCRC = binary.LittleEndian.Uint32(b[0:])
	f.MiddleCRC = binary.LittleEndian.Uint32(b[4:])
	f.DataCRC = binary.LittleEndian.Uint32(b[8:])
	if old {
		f.Sig, f.Flags = 0, FooterFlags(b[12])
	} else {
		f.Sig = binary.LittleEndian.Uint64(b[12:])
		f.Flags = FooterFlags(b[20])
	}
	if f.Flags&FooterComplete == 0 ||
		headerCRC && (sums[0] != f.FrontCRC || sums[1] != f.MiddleCRC) ||
		f.checksData(dataCRC) && sums[2] != f.DataCRC {
		return m.VerifyFooterSums(*sums, headerCRC, dataCRC) // says what failed
	}
	return nil
}

// VerifyFooterSums is VerifyFooter with the crc32c of the front, middle and data sections
// already computed, as a reader does while the bytes arrive (while they are still in cache).
// Only the sums VerifyFooter would check are used.
func (m *Message) VerifyFooterSums(sums [3]uint32, headerCRC, dataCRC bool) error {
	f := &m.Footer
	if f.Flags&FooterComplete == 0 {
		return decodeErr("ceph_msg_footer flags", 0, ErrIncomplete)
	}
	if headerCRC {
		if got := sums[0]; got != f.FrontCRC {
			return decodeErr("front crc", 0, fmt.Errorf("%w: front crc %#08x, computed %#08x", ErrBadCRC, f.FrontCRC, got))
		}
		if got := sums[1]; got != f.MiddleCRC {
			return decodeErr("middle crc", 0, fmt.Errorf("%w: middle crc %#08x, computed %#08x", ErrBadCRC, f.MiddleCRC, got))
		}
	}
	if f.checksData(dataCRC) {
		if got := sums[2]; got != f.DataCRC {
			return decodeErr("data crc", 0, fmt.Errorf("%w: data crc %#08x, computed %#08x", ErrBadCRC, f.DataCRC, got))
		}
	}
	return nil
}
