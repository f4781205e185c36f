package cephx

import (
	"encoding/binary"
	"fmt"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Bounds on what a peer can make a decoder accept. Every structure here is small in practice;
// the bounds keep a hostile blob from making a decoder loop or allocate much. Byte strings
// alias their input, so the only allocations are decrypted plaintexts (never longer than the
// ciphertext that arrived) and the bounded slices below.
const (
	MaxBlobLen     = 1 << 20 // bytes in one bufferlist or string inside a cephx structure
	MaxTickets     = 64      // tickets in one service ticket reply (Ceph has 6 service types)
	MaxRotating    = 64      // secrets in one RotatingSecrets (Ceph keeps 3)
	MaxEntityIDLen = wire.MaxEntityIDLen
)

// encoder appends Ceph-encoded values: little-endian integers, le32-length-prefixed byte
// strings.
type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }

func (e *encoder) bool(v bool) {
	if v {
		e.u8(1)
		return
	}
	e.u8(0)
}

// bytes writes a bufferlist: le32 length, then the bytes.
func (e *encoder) bytes(p []byte) {
	e.u32(uint32(len(p)))
	e.b = append(e.b, p...)
}

// str writes a std::string: le32 length, then the bytes.
func (e *encoder) str(s string) {
	e.u32(uint32(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) utime(t Utime) {
	e.u32(t.Sec)
	e.u32(t.Nsec)
}

func (e *encoder) name(n wire.AuthEntityName) {
	e.u32(n.Type)
	e.str(n.ID)
}

// decoder reads Ceph-encoded values with bounds checks. The first error sticks: later reads
// return zero values and err keeps the first failure (a *wire.DecodeError naming the structure,
// the field and the offset, wrapping one of wire's sentinels). Byte strings alias the input.
type decoder struct {
	b    []byte
	off  int
	what string
	err  error
}

func newDecoder(b []byte, what string) *decoder { return &decoder{b: b, what: what} }

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) fail(field string, err error) {
	if d.err == nil {
		d.err = &wire.DecodeError{What: d.what + " " + field, Offset: d.off, Err: err}
	}
}

// take returns the next n bytes, or nil after recording an error when fewer remain.
func (d *decoder) take(n int, field string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > d.remaining() {
		d.fail(field, fmt.Errorf("%w: need %d bytes, have %d", wire.ErrShort, n, d.remaining()))
		return nil
	}
	p := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return p
}

func (d *decoder) u8(field string) uint8 {
	if p := d.take(1, field); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u16(field string) uint16 {
	if p := d.take(2, field); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) u32(field string) uint32 {
	if p := d.take(4, field); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64(field string) uint64 {
	if p := d.take(8, field); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

// bool reads a u8 as Ceph decodes a bool: any non-zero value is true.
func (d *decoder) bool(field string) bool { return d.u8(field) != 0 }

// length reads an le32 length and checks it against limit and the remaining bytes.
func (d *decoder) length(field string, limit int) int {
	n := d.u32(field)
	if d.err != nil {
		return 0
	}
	if uint64(n) > uint64(limit) {
		d.fail(field, fmt.Errorf("%w: %s length %d > %d", wire.ErrTooLarge, field, n, limit))
		return 0
	}
	if int(n) > d.remaining() {
		d.fail(field, fmt.Errorf("%w: %s needs %d bytes, have %d", wire.ErrShort, field, n, d.remaining()))
		return 0
	}
	return int(n)
}

// count reads an le32 element count, bounded by limit and by the remaining bytes divided by
// the smallest encoded element (minSize), so that no slice is sized from a peer's number
// alone.
func (d *decoder) count(field string, limit, minSize int) int {
	n := d.u32(field)
	if d.err != nil {
		return 0
	}
	if uint64(n) > uint64(limit) {
		d.fail(field, fmt.Errorf("%w: %s count %d > %d", wire.ErrTooLarge, field, n, limit))
		return 0
	}
	if uint64(n)*uint64(minSize) > uint64(d.remaining()) {
		d.fail(field, fmt.Errorf("%w: %d %s need at least %d bytes, have %d", wire.ErrShort, n, field,
			uint64(n)*uint64(minSize), d.remaining()))
		return 0
	}
	return int(n)
}

// bytes reads a bufferlist of at most MaxBlobLen bytes; nil for length 0.
func (d *decoder) bytes(field string) []byte {
	n := d.length(field, MaxBlobLen)
	if n == 0 {
		return nil
	}
	return d.take(n, field)
}

// str reads a std::string of at most limit bytes.
func (d *decoder) str(field string, limit int) string {
	n := d.length(field, limit)
	if n == 0 {
		return ""
	}
	return string(d.take(n, field))
}

func (d *decoder) utime(field string) Utime {
	return Utime{Sec: d.u32(field), Nsec: d.u32(field)}
}

func (d *decoder) name(field string) wire.AuthEntityName {
	return wire.AuthEntityName{Type: d.u32(field), ID: d.str(field, MaxEntityIDLen)}
}

// version reads a struct_v byte and records an error unless min <= v <= max.
func (d *decoder) version(field string, lo, hi uint8) uint8 {
	v := d.u8(field)
	if d.err == nil && (v < lo || v > hi) {
		d.off--
		d.fail(field, fmt.Errorf("%w: %s %d, want %d..%d", wire.ErrMalformed, field, v, lo, hi))
	}
	return v
}

// finish returns the first error, or an error if bytes are left over.
func (d *decoder) finish() error {
	if d.err == nil && d.remaining() != 0 {
		d.fail("end", fmt.Errorf("%w: %d trailing bytes", wire.ErrMalformed, d.remaining()))
	}
	return d.err
}
