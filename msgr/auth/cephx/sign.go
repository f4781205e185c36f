package cephx

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Message signatures (CephxSessionHandler): on a session opened with a cephx authorizer, the
// sender puts a 64-bit signature in the msgr1 footer's sig field and sets FooterSigned; the
// receiver recomputes it before dispatching. The signature covers the header crc (and so,
// through it, the whole header: seq, type, lengths, source), the front, middle and data crcs,
// and with CEPHX_V2 the three section lengths and the low 32 bits of seq again:
//
//	without CEPHX_V2: seal (envelope: u8 1, le64 magic) le32 16, header crc, front crc,
//	                  middle crc, data crc — 29 bytes, one 32-byte ciphertext — and take
//	                  its first 8 bytes as a little-endian number; in CBC mode those depend
//	                  only on the first 16 plaintext bytes, so this signature covers just the
//	                  low 24 bits of the header crc (the weakness CEPHX_V2 fixed);
//	with CEPHX_V2:    encrypt (no envelope) header crc, front crc, front len, middle crc,
//	                  middle len, data crc, data len, seq (low 32 bits), each le32 — 32
//	                  bytes, 48 with padding — and XOR the first four 8-byte words.
//
// A receiver checks only when MSG_AUTH was negotiated (without it the footer has no sig
// field); a message whose signature does not match is dropped and the session faulted.

// ErrBadSignature: a message's footer signature does not match its contents.
var ErrBadSignature = errors.New("cephx: bad message signature")

// SignatureInput is the part of a message a signature covers.
type SignatureInput struct {
	HeaderCRC uint32
	FrontCRC  uint32
	MiddleCRC uint32
	DataCRC   uint32
	FrontLen  uint32
	MiddleLen uint32
	DataLen   uint32
	Seq       uint64
}

// SignatureInputOf takes the covered fields from a message whose header crc and footer crcs
// are final (a received message, or one sealed for sending).
func SignatureInputOf(h *wire.Header, f *wire.Footer) SignatureInput {
	return SignatureInput{
		HeaderCRC: h.CRC, FrontCRC: f.FrontCRC, MiddleCRC: f.MiddleCRC, DataCRC: f.DataCRC,
		FrontLen: h.FrontLen, MiddleLen: h.MiddleLen, DataLen: h.DataLen, Seq: h.Seq,
	}
}

// Signature computes the signature of a message under a session key; features are the
// session's negotiated features (CEPHX_V2 selects the newer scheme).
func Signature(sessionKey Key, in SignatureInput, features uint64) (uint64, error) {
	if features&wire.FeatureCephxV2 == 0 {
		return legacySignature(sessionKey, in)
	}
	var b [32]byte
	for i, v := range []uint32{in.HeaderCRC, in.FrontCRC, in.FrontLen, in.MiddleCRC, in.MiddleLen,
		in.DataCRC, in.DataLen, uint32(in.Seq)} {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	ct, err := Encrypt(sessionKey, b[:])
	if err != nil {
		return 0, fmt.Errorf("cephx: sign: %w", err)
	}
	var sig uint64
	for i := 0; i < 32; i += 8 {
		sig ^= binary.LittleEndian.Uint64(ct[i:])
	}
	return sig, nil
}

func legacySignature(sessionKey Key, in SignatureInput) (uint64, error) {
	var b [20]byte
	binary.LittleEndian.PutUint32(b[0:], 16)
	binary.LittleEndian.PutUint32(b[4:], in.HeaderCRC)
	binary.LittleEndian.PutUint32(b[8:], in.FrontCRC)
	binary.LittleEndian.PutUint32(b[12:], in.MiddleCRC)
	binary.LittleEndian.PutUint32(b[16:], in.DataCRC)
	ct, err := Seal(sessionKey, b[:])
	if err != nil {
		return 0, fmt.Errorf("cephx: sign: %w", err)
	}
	return binary.LittleEndian.Uint64(ct), nil
}

// Sign sets the footer's signature and FooterSigned for a message whose header crc and footer
// crcs are final (after sealing, with seq assigned).
func Sign(sessionKey Key, m *wire.Message, features uint64) error {
	sig, err := Signature(sessionKey, SignatureInputOf(&m.Header, &m.Footer), features)
	if err != nil {
		return err
	}
	m.Footer.Sig = sig
	m.Footer.Flags |= wire.FooterSigned
	return nil
}

// CheckSignature verifies a received message's signature. Without MSG_AUTH in features there
// is no signature to check and it returns nil, as Ceph does. The FooterSigned flag is not
// required: Ceph only logs its absence; the signature decides.
func CheckSignature(sessionKey Key, m *wire.Message, features uint64) error {
	if features&wire.FeatureMsgAuth == 0 {
		return nil
	}
	sig, err := Signature(sessionKey, SignatureInputOf(&m.Header, &m.Footer), features)
	if err != nil {
		return err
	}
	if sig != m.Footer.Sig {
		return fmt.Errorf("%w: seq %d type %d: footer has %#x, computed %#x", ErrBadSignature,
			m.Header.Seq, m.Header.Type, m.Footer.Sig, sig)
	}
	return nil
}
