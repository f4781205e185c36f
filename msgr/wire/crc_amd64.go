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

// crc32cSmall is crc32cNoEscape with the hardware instruction when the CPU has it.
func crc32cSmall(crc uint32, p []byte) uint32 {
	if hasCRC32 {
		return crc32cHW(crc, p)
	}
	return crc32cNoEscape(crc, p)
}
