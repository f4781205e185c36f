package wire

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// grow extends dst by n zeroed bytes and returns the extended slice and the new n bytes.
// It allocates only when dst lacks the capacity.
func grow(dst []byte, n int) (all, tail []byte) {
	l := len(dst)
	dst = slices.Grow(dst, n)[:l+n]
	tail = dst[l:]
	clear(tail)
	return dst, tail
}

// encoder appends Ceph-encoded values (little-endian integers, le32-length-prefixed strings
// and bufferlists, le32-count-prefixed vectors) to a byte slice.
type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }

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

// u32s writes a std::vector<uint32_t>: le32 count, then the elements.
func (e *encoder) u32s(v []uint32) {
	e.u32(uint32(len(v)))
	for _, x := range v {
		e.u32(x)
	}
}

// entityName writes Ceph's EntityName (the auth name): le32 type, then the id as a string.
func (e *encoder) entityName(n AuthEntityName) {
	e.u32(n.Type)
	e.str(n.ID)
}

// decoder reads Ceph-encoded values from a byte slice with bounds checks. The first error
// sticks: later reads return zero values, and err reports the first failure with the offset
// and field where it happened. Lengths read from the input are checked against the remaining
// bytes and against a limit before anything is allocated; byte slices alias the input.
type decoder struct {
	b    []byte
	off  int
	what string // the structure being decoded, for errors
	err  error
}

// remaining is the number of bytes not yet read.
func (d *decoder) remaining() int { return len(d.b) - d.off }

// take returns the next n bytes, or nil after recording an error when fewer remain.
func (d *decoder) take(n int, field string) []byte {
	if d.err != nil {
		return nil
	}
	if n > d.remaining() {
		d.err = decodeErr(d.what+" "+field, d.off,
			fmt.Errorf("%w: need %d bytes, have %d", ErrShort, n, d.remaining()))
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

// count reads an le32 length or element count and checks count*size against the remaining
// bytes and count against limit. It returns -1 after recording an error.
func (d *decoder) count(field string, size int, limit uint32) int {
	start := d.off
	n := d.u32(field)
	if d.err != nil {
		return -1
	}
	if n > limit {
		d.err = decodeErr(d.what+" "+field, start, fmt.Errorf("%w: %s length %d > %d", ErrTooLarge, field, n, limit))
		return -1
	}
	if uint64(n)*uint64(size) > uint64(d.remaining()) {
		d.err = decodeErr(d.what+" "+field, d.off,
			fmt.Errorf("%w: %s needs %d bytes, have %d", ErrShort, field, uint64(n)*uint64(size), d.remaining()))
		return -1
	}
	return int(n)
}

// bytes reads a bufferlist (le32 length + bytes) of at most limit bytes; the result aliases
// the input and is nil, not empty, for length 0.
func (d *decoder) bytes(field string, limit uint32) []byte {
	n := d.count(field, 1, limit)
	if n <= 0 {
		return nil
	}
	return d.take(n, field)
}

// str reads a std::string (le32 length + bytes) of at most limit bytes.
func (d *decoder) str(field string, limit uint32) string {
	n := d.count(field, 1, limit)
	if n <= 0 {
		return ""
	}
	return string(d.take(n, field))
}

// u32s reads a std::vector<uint32_t> of at most limit elements; nil for count 0.
func (d *decoder) u32s(field string, limit uint32) []uint32 {
	n := d.count(field, 4, limit)
	if n <= 0 {
		return nil
	}
	v := make([]uint32, n)
	for i := range v {
		v[i] = d.u32(field)
	}
	return v
}

// entityName reads Ceph's EntityName: le32 type, then the id as a string.
func (d *decoder) entityName(field string) AuthEntityName {
	return AuthEntityName{Type: d.u32(field), ID: d.str(field, MaxEntityIDLen)}
}

// expect records a malformed-input error when got differs from want (a version byte).
func (d *decoder) expect(field string, got, want uint8) {
	if d.err == nil && got != want {
		d.err = decodeErr(d.what+" "+field, d.off-1, fmt.Errorf("%w: %s %d, want %d", ErrMalformed, field, got, want))
	}
}

// finish returns the first error, or an error if bytes are left over: every structure here
// must fill its buffer exactly, so that what is accepted re-encodes to the same bytes.
func (d *decoder) finish() error {
	if d.err == nil && d.remaining() != 0 {
		d.err = decodeErr(d.what, d.off, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, d.remaining()))
	}
	return d.err
}
