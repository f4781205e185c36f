package wire

import (
	"encoding/binary"
	"hash/crc32"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C is Ceph's ceph_crc32c(seed, p): the Castagnoli CRC with the register initialised to
// seed and neither pre- nor post-inversion. The CRC of an empty buffer is the seed. Go's
// crc32.Update inverts on the way in and out, so the seed and the result are complemented.
// From foldMin bytes on, on a CPU with AVX-512 VPCLMULQDQ, it folds the data by carry-less
// multiplication (crc32cFold), several times faster than hash/crc32's CRC32 instruction
// streams (BenchmarkCRC32C); Ceph computes its crc32c the same way through ISA-L.
func CRC32C(seed uint32, p []byte) uint32 {
	if hasFold && len(p) >= foldMin {
		return crc32cFold(seed, p, &foldK)
	}
	return ^crc32.Update(^seed, castagnoli, p)
}

// foldMin is the shortest input CRC32C folds (crc32cFold needs 256 bytes, and its fixed
// cost, the CRC32 instruction over its 256-byte state, is repaid from about 512).
const foldMin = 512

// foldK holds crc32cFold's constants, each a pair per 16-byte lane: x^(d+63) and x^(d-1)
// modulo the Castagnoli polynomial, bit-reflected into 64 bits (x^m at bit 63-m), to fold a
// lane d bits forward. Folding a lane d bits forward multiplies its high-degree quadword by
// x^(d+64) and its other quadword by x^d; a carry-less product of two reflected quadwords
// comes out multiplied by x, hence the exponents one lower. The rows: 2048 bits (the loop,
// every lane 256 bytes on); 1536, 1024 and 512 (the state's first three 64-byte blocks onto
// its last); then per lane 384, 256, 128 and none (that block's lanes onto its last lane).
var foldK = foldKeys{
	foldConstants(2048, 2048, 2048, 2048),
	foldConstants(1536, 1536, 1536, 1536),
	foldConstants(1024, 1024, 1024, 1024),
	foldConstants(512, 512, 512, 512),
	foldConstants(384, 256, 128, 0),
}

// foldKeys are crc32cFold's constants: five rows of four lanes' pairs (see foldK).
type foldKeys [5][8]uint64

// foldConstants is a row of foldKeys: lane i folded by bits[i] bits (0: multiplied by 0).
func foldConstants(bits ...int) [8]uint64 {
	var row [8]uint64
	for i, d := range bits {
		if d > 0 {
			row[2*i], row[2*i+1] = reflect64(xPowMod(d+63)), reflect64(xPowMod(d-1))
		}
	}
	return row
}

// xPowMod is x^n modulo the Castagnoli polynomial, bit m holding the coefficient of x^m.
func xPowMod(n int) uint64 {
	const poly = 1<<32 | 0x1EDC6F41
	r := uint64(1)
	for range n {
		r <<= 1
		if r&(1<<32) != 0 {
			r ^= poly
		}
	}
	return r
}

// reflect64 moves the coefficient of x^m (bit m) to bit 63-m.
func reflect64(k uint64) uint64 {
	var r uint64
	for m := range 64 {
		r |= (k >> m & 1) << (63 - m)
	}
	return r
}

// sectionCRC is CRC32C(0, p), without a call for an empty section (whose crc is the seed, 0).
// Sections up to smallCRCMax bytes go to the CRC32 instruction directly (BenchmarkCRC32CSmall:
// hash/crc32's dispatch costs more than the crc itself there); longer ones to hash/crc32, whose
// three interleaved streams win from about 1 KiB.
func sectionCRC(p []byte) uint32 {
	if len(p) == 0 { // inlined: most messages have no front or middle
		return 0
	}
	return sectionCRCBytes(p)
}

// sectionCRCBytes is sectionCRC of a non-empty section.
func sectionCRCBytes(p []byte) uint32 {
	if hasCRC32 && len(p) <= smallCRCMax {
		return crc32cHW(0, p)
	}
	return CRC32C(0, p)
}

// smallCRCMax is the longest section sectionCRC checksums with crc32cHW.
const smallCRCMax = 256

// castagnoli8 holds the tables of the slicing-by-8 algorithm for the Castagnoli polynomial.
var castagnoli8 = makeSlicing8(castagnoli)

func makeSlicing8(t *crc32.Table) *[8][256]uint32 {
	var s [8][256]uint32
	s[0] = *t
	for i := range 256 {
		crc := t[i]
		for j := 1; j < 8; j++ {
			crc = t[crc&0xff] ^ (crc >> 8)
			s[j][i] = crc
		}
	}
	return &s
}

// crc32cNoEscape is CRC32C in plain Go (slicing by 8). It is slower than CRC32C on large
// inputs, but unlike crc32.Update, which calls through a function variable, it does not make p
// escape to the heap: a header held in a stack array is checksummed without an allocation.
// It is crc32cSmall's fallback where the CPU has no CRC32 instruction (crc_amd64.go).
func crc32cNoEscape(crc uint32, p []byte) uint32 {
	t := castagnoli8
	for len(p) >= 8 {
		crc ^= binary.LittleEndian.Uint32(p)
		crc = t[0][p[7]] ^ t[1][p[6]] ^ t[2][p[5]] ^ t[3][p[4]] ^
			t[4][crc>>24] ^ t[5][(crc>>16)&0xff] ^ t[6][(crc>>8)&0xff] ^ t[7][crc&0xff]
		p = p[8:]
	}
	for _, v := range p {
		crc = t[0][byte(crc)^v] ^ (crc >> 8)
	}
	return crc
}
