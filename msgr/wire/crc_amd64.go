//go:build amd64 && !purego

package wire

import "golang.org/x/sys/cpu"

// hasCRC32 reports the SSE4.2 CRC32 instruction (GOAMD64=v1 does not assume it).
var hasCRC32 = cpu.X86.HasSSE42

// crc32cHW is the crc register updated over p with the CRC32 instruction (crc_amd64.s). It
// requires SSE4.2. Being an assembly function declared noescape, it does not make p escape:
// unlike crc32.Update, which calls through a function variable.
//
//go:noescape
func crc32cHW(crc uint32, p []byte) uint32

// crc32cHeader is crc32cHW(0, p[:]) for the HeaderCRCLen bytes a header's crc covers, the
// loop unrolled (crc_amd64.s). It requires SSE4.2.
//
//go:noescape
func crc32cHeader(p *[HeaderCRCLen]byte) uint32

// hasFold reports what crc32cFold needs: AVX-512 with VPCLMULQDQ (and the OS saving the
// AVX-512 registers, which x/sys/cpu checks), and the CRC32 instruction for the state and
// the tail.
var hasFold = hasCRC32 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VPCLMULQDQ

// crc32cFold is the crc register updated over p, at least 256 bytes, by folding with
// carry-less multiplication (crc_amd64.s), k being foldK. It requires hasFold.
//
//go:noescape
func crc32cFold(crc uint32, p []byte, k *foldKeys) uint32

// crc32cSmall is crc32cNoEscape with the hardware instruction when the CPU has it.
func crc32cSmall(crc uint32, p []byte) uint32 {
	if hasCRC32 {
		return crc32cHW(crc, p)
	}
	return crc32cNoEscape(crc, p)
}
