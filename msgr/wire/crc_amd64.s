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
// foldConstants; the reflected product carries one extra factor x, which the constants take
// out). The state then has the crc the bytes it replaced had, so the result is the CRC32
// instruction run over the 256 state bytes (from 0) and then over the tail of p.
TEXT ·crc32cFold(SB), $256-44
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
	VMOVDQU64 Z0, state-256(SP)
	VMOVDQU64 Z1, state-192(SP)
	VMOVDQU64 Z2, state-128(SP)
	VMOVDQU64 Z3, state-64(SP)
	VZEROUPPER
	XORL      AX, AX
	LEAQ      state-256(SP), DI
	MOVQ      $32, BX

stateword:
	CRC32Q (DI), AX
	ADDQ   $8, DI
	DECQ   BX
	JNZ    stateword
	CMPQ   CX, $8
	JB     tailbytes

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
