package wire

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every decode error wraps one of them; test with errors.Is.
var (
	// ErrShort: the buffer holds fewer bytes than the structure needs.
	ErrShort = errors.New("msgr1: short buffer")
	// ErrBadBanner: the first 9 bytes are not "ceph v027" (a msgr2 peer, or not Ceph).
	ErrBadBanner = errors.New("msgr1: bad banner")
	// ErrBadAddr: an entity_addr_t has an unknown marker or family, or non-zero padding.
	ErrBadAddr = errors.New("msgr1: bad entity_addr_t")
	// ErrBadTag: an unknown tag byte where a tag was expected.
	ErrBadTag = errors.New("msgr1: bad tag")
	// ErrBadCRC: a header, front, middle or data checksum does not match.
	ErrBadCRC = errors.New("msgr1: bad crc")
	// ErrTooLarge: a peer-supplied length exceeds the configured Limits.
	ErrTooLarge = errors.New("msgr1: length over limit")
	// ErrMalformed: a structure decoded but its content is inconsistent.
	ErrMalformed = errors.New("msgr1: malformed")
	// ErrIncomplete: a message footer lacks the COMPLETE flag (the sender aborted it).
	ErrIncomplete = errors.New("msgr1: message aborted by sender")
)

// DecodeError says which structure failed to decode, where, and why.
type DecodeError struct {
	What   string // structure or field, e.g. "ceph_msg_header" or "front crc"
	Offset int    // byte offset within the buffer handed to the decoder, when known
	Err    error  // one of the sentinels, possibly wrapped
}

// Error renders "decode <what> at <offset>: <cause>".
func (e *DecodeError) Error() string {
	return fmt.Sprintf("decode %s at %d: %v", e.What, e.Offset, e.Err)
}

// Unwrap returns the cause, so that errors.Is finds the sentinel.
func (e *DecodeError) Unwrap() error { return e.Err }

func decodeErr(what string, off int, err error) error {
	return &DecodeError{What: what, Offset: off, Err: err}
}

func short(what string, need, have int) error {
	return decodeErr(what, have, fmt.Errorf("%w: need %d bytes, have %d", ErrShort, need, have))
}
