package synthetic

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Who says which way a Payload travels.
type Who uint8

// Payload directions (Ceph's Payload::PING and Payload::PONG).
const (
	Ping Who = 0
	Pong Who = 1
)

func (w Who) String() string {
	switch w {
	case Ping:
		return "PING"
	case Pong:
		return "PONG"
	}
	return fmt.Sprintf("who(%d)", uint8(w))
}

// Payload is the body of the workload's MPing (in the message's data section), encoded the
// way Ceph's DENC encodes its Payload struct: a versioned envelope (struct_v 1, compat 1,
// u32 length) around {u8 who, u64 seq, u32 length + data}.
type Payload struct {
	Who  Who
	Seq  uint64
	Data []byte
}

// Envelope and field sizes.
const (
	payloadVersion = 1
	payloadCompat  = 1
	envelopeLen    = 1 + 1 + 4 // struct_v, struct_compat, struct_len
	fixedLen       = 1 + 8 + 4 // who, seq, data length
)

// Errors from DecodePayload.
var (
	ErrPayloadShort   = errors.New("synthetic: payload truncated")
	ErrPayloadVersion = errors.New("synthetic: payload version not understood")
	ErrPayloadLength  = errors.New("synthetic: payload lengths inconsistent")
	ErrPayloadWho     = errors.New("synthetic: payload neither PING nor PONG")
)

// EncodedLen is the size of p encoded.
func (p Payload) EncodedLen() int { return envelopeLen + fixedLen + len(p.Data) }

// Encode returns p encoded.
func (p Payload) Encode() []byte {
	b := make([]byte, p.EncodedLen())
	b[0], b[1] = payloadVersion, payloadCompat
	binary.LittleEndian.PutUint32(b[2:], uint32(fixedLen+len(p.Data)))
	b[6] = byte(p.Who)
	binary.LittleEndian.PutUint64(b[7:], p.Seq)
	binary.LittleEndian.PutUint32(b[15:], uint32(len(p.Data)))
	copy(b[19:], p.Data)
	return b
}

// DecodePayload decodes a Payload. Data aliases b: nothing is allocated, whatever the lengths
// inside claim. A newer struct_v is accepted when its compat version is one we understand
// (fields it appended are skipped, as DENC does).
func DecodePayload(b []byte) (Payload, error) {
	if len(b) < envelopeLen {
		return Payload{}, fmt.Errorf("%w: %d bytes, want at least %d", ErrPayloadShort, len(b), envelopeLen)
	}
	if b[1] > payloadVersion {
		return Payload{}, fmt.Errorf("%w: struct_v %d compat %d", ErrPayloadVersion, b[0], b[1])
	}
	body := b[envelopeLen:]
	n := binary.LittleEndian.Uint32(b[2:])
	if uint64(n) > uint64(len(body)) {
		return Payload{}, fmt.Errorf("%w: struct_len %d with %d bytes left", ErrPayloadShort, n, len(body))
	}
	body = body[:n]
	if len(body) < fixedLen {
		return Payload{}, fmt.Errorf("%w: struct_len %d below the %d fixed bytes", ErrPayloadLength, n, fixedLen)
	}
	p := Payload{Who: Who(body[0]), Seq: binary.LittleEndian.Uint64(body[1:])}
	dl := binary.LittleEndian.Uint32(body[9:])
	if uint64(dl) > uint64(len(body)-fixedLen) {
		return Payload{}, fmt.Errorf("%w: data length %d with %d bytes left", ErrPayloadLength, dl, len(body)-fixedLen)
	}
	if p.Who != Ping && p.Who != Pong {
		return Payload{}, fmt.Errorf("%w: who %d", ErrPayloadWho, body[0])
	}
	p.Data = body[fixedLen : fixedLen+int(dl)]
	return p, nil
}
