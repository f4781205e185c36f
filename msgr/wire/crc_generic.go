//go:build !amd64 || purego

package wire

// hasCRC32 is false: no assembly crc on this architecture.
const hasCRC32 = false

// crc32cHW is never called where hasCRC32 is false; it exists so that tests compile everywhere.
func crc32cHW(crc uint32, p []byte) uint32 { return crc32cNoEscape(crc, p) }

// crc32cHeader is never called where hasCRC32 is false, as crc32cHW.
func crc32cHeader(p *[HeaderCRCLen]byte) uint32 { return crc32cNoEscape(0, p[:]) }

// crc32cSmall is crc32cNoEscape: the table-driven crc in plain Go.
func crc32cSmall(crc uint32, p []byte) uint32 { return crc32cNoEscape(crc, p) }

// hasFold is false: crc32cFold has no assembly here.
const hasFold = false

// crc32cFold is never called where hasFold is false; it exists so that the code compiles.
func crc32cFold(crc uint32, p []byte, _ *foldKeys) uint32 { return crc32cNoEscape(crc, p) }
