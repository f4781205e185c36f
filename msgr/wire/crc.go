package wire

import (
	"encoding/binary"
	"hash/crc32"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C is Ceph's ceph_crc32c(seed, p): the Castagnoli CRC with the register initialised to
// seed and neither pre- nor post-inversion. The CRC of an empty buffer is the seed. Go's
// crc32.Update inverts on the way in and out, so the seed and the result are complemented.
func CRC32C(seed uint32, p []byte) uint32 {
	return ^crc32.Update(^seed, castagnoli, p)
}

// sectionCRC is CRC32C(0, p), without a call for an empty section (whose crc is the seed, 0).
// Sections up to smallCRCMax bytes go to the CRC32 instruction directly (BenchmarkCRC32CSmall:
// hash/crc32's dispatch costs more than the crc itself there); longer ones to hash/crc32, whose
// three interleaved streams win from about 1 KiB.
func sectionCRC(p []byte) uint32 {
	if len(p) == 0 {
		return 0
	}
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
