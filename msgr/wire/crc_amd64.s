//go:build amd64 && !purego

#include "textflag.h"

// func crc32cHW(crc uint32, p []byte) uint32
//
// The Castagnoli crc register updated over p with the SSE4.2 CRC32 instruction, eight bytes
// at a time and then one at a time; no inversion on either side (Ceph's convention).
TEXT ·crc32cHW(SB), NOSPLIT, $0-36
	MOVL crc+0(FP), AX
	MOVQ p_base+8(FP), SI
	MOVQ p_len+16(FP), CX
	CMPQ CX, $8
	JB   bytes

words:
	CRC32Q (SI), AX
	ADDQ   $8, SI
	SUBQ   $8, CX
	CMPQ   CX, $8
	JAE    words

bytes:
	TESTQ CX, CX
	JZ    done

onebyte:
	CRC32B (SI), AX
	INCQ   SI
	DECQ   CX
	JNZ    onebyte

done:
	MOVL AX, ret+32(FP)
	RET

// func crc32cFold(crc uint32, p []byte, k *[8]uint64) uint32
//
// The Castagnoli crc register updated over p (at least 256 bytes) by carry-less
// multiplication (AVX-512 VPCLMULQDQ), no inversion. The first 256 bytes, with crc xored into
// their first four, are the state: sixteen 16-byte lanes in Z0-Z3. Each round folds every
// lane forward by 2048 bits onto the lane 256 bytes further on: a lane whose low and high
// quadwords hold the polynomials H and L (H the higher-degree half) stands for H·x^64 + L,
// and H·k[0] xor L·k[1] is congruent to it times x^2048 modulo the polynomial (k: see
// foldK; the reflected product carries one extra factor x, which the constants take out).
// The state then has the crc the bytes it replaced had. It is folded the same way, with
// shorter distances, down to its last 16 bytes, so the result is the CRC32 instruction run
// over those 16 bytes (from 0) and then over the tail of p.
TEXT ·crc32cFold(SB), NOSPLIT, $0-44
	MOVL crc+0(FP), AX
	MOVQ p_base+8(FP), SI
	MOVQ p_len+16(FP), CX
	MOVQ k+32(FP), DX
	VMOVDQU64 (DX), Z4
	VMOVDQU64 0(SI), Z0
	VMOVDQU64 64(SI), Z1
	VMOVDQU64 128(SI), Z2
	VMOVDQU64 192(SI), Z3
	VMOVD     AX, X5
	VPXORQ    Z5, Z0, Z0
	ADDQ      $256, SI
	SUBQ      $256, CX
	CMPQ      CX, $256
	JB        folded

fold:
	VPCLMULQDQ $0x00, Z4, Z0, Z5
	VPCLMULQDQ $0x11, Z4, Z0, Z0
	VPCLMULQDQ $0x00, Z4, Z1, Z6
	VPCLMULQDQ $0x11, Z4, Z1, Z1
	VPCLMULQDQ $0x00, Z4, Z2, Z7
	VPCLMULQDQ $0x11, Z4, Z2, Z2
	VPCLMULQDQ $0x00, Z4, Z3, Z8
	VPCLMULQDQ $0x11, Z4, Z3, Z3
	VPTERNLOGQ $0x96, 0(SI), Z5, Z0
	VPTERNLOGQ $0x96, 64(SI), Z6, Z1
	VPTERNLOGQ $0x96, 128(SI), Z7, Z2
	VPTERNLOGQ $0x96, 192(SI), Z8, Z3
	ADDQ       $256, SI
	SUBQ       $256, CX
	CMPQ       CX, $256
	JAE        fold

folded:
	// Z0, Z1 and Z2 folded onto Z3 (192, 128 and 64 bytes further on), then Z3's first
	// three lanes onto its last (48, 32 and 16 bytes further on): 16 bytes with the crc of
	// all the bytes folded so far, checksummed by two CRC32 instructions instead of 32.
	VMOVDQU64  64(DX), Z5
	VMOVDQU64  128(DX), Z6
	VMOVDQU64  192(DX), Z7
	VPCLMULQDQ $0x00, Z5, Z0, Z8
	VPCLMULQDQ $0x11, Z5, Z0, Z0
	VPCLMULQDQ $0x00, Z6, Z1, Z9
	VPCLMULQDQ $0x11, Z6, Z1, Z1
	VPCLMULQDQ $0x00, Z7, Z2, Z10
	VPCLMULQDQ $0x11, Z7, Z2, Z2
	VPTERNLOGQ $0x96, Z8, Z0, Z3
	VPTERNLOGQ $0x96, Z9, Z1, Z3
	VPTERNLOGQ $0x96, Z10, Z2, Z3
	VMOVDQU64  256(DX), Z5
	VPCLMULQDQ $0x00, Z5, Z3, Z8
	VPCLMULQDQ $0x11, Z5, Z3, Z9
	VPXORQ     Z9, Z8, Z8
	VEXTRACTI64X4 $1, Z8, Y9
	VPXOR      Y9, Y8, Y8
	VEXTRACTI128 $1, Y8, X9
	VPXOR      X9, X8, X8
	VEXTRACTI32X4 $3, Z3, X9
	VPXOR      X9, X8, X8
	VMOVQ      X8, BX
	VPEXTRQ    $1, X8, DI
	VZEROUPPER
	XORL       AX, AX
	CRC32Q     BX, AX
	CRC32Q     DI, AX
	CMPQ       CX, $8
	JB         tailbytes

tailword:
	CRC32Q (SI), AX
	ADDQ   $8, SI
	SUBQ   $8, CX
	CMPQ   CX, $8
	JAE    tailword

tailbytes:
	TESTQ CX, CX
	JZ    foldret

tailbyte:
	CRC32B (SI), AX
	INCQ   SI
	DECQ   CX
	JNZ    tailbyte

foldret:
	MOVL AX, ret+40(FP)
	RET

// func crc32cHeader(p *[HeaderCRCLen]byte) uint32
//
// crc32cHW(0, p[:49]) for the 49 bytes a message header's crc covers, unrolled: six words and
// one byte, without crc32cHW's loop (two headers per message, one encoded, one decoded).
TEXT ·crc32cHeader(SB), NOSPLIT, $0-12
	MOVQ   p+0(FP), SI
	XORL   AX, AX
	CRC32Q 0(SI), AX
	CRC32Q 8(SI), AX
	CRC32Q 16(SI), AX
	CRC32Q 24(SI), AX
	CRC32Q 32(SI), AX
	CRC32Q 40(SI), AX
	CRC32B 48(SI), AX
	MOVL   AX, ret+8(FP)
	RET
