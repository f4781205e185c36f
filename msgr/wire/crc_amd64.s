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
