//go:build gofuzz

package wirefuzz

import "github.com/msgrsim/msgrsim/internal/fuzzing"

// Entry points for go-fuzz and libFuzzer (go-fuzz-build -func FuzzXxxGo; the README's fuzzing
// section shows how): one per native target of msgr/wire/wire_fuzz_test.go, running the same
// check. Targets with several
// arguments take them from the input in order (fuzzing.Input).

// FuzzDecodeHeaderGo is FuzzDecodeHeader for go-fuzz.
func FuzzDecodeHeaderGo(data []byte) int { return fuzzing.GoFuzz(CheckDecodeHeader(data)) }

// FuzzDecodeLegacyAddrGo is FuzzDecodeLegacyAddr for go-fuzz.
func FuzzDecodeLegacyAddrGo(data []byte) int { return fuzzing.GoFuzz(CheckDecodeLegacyAddr(data)) }

// FuzzDecodeAddrGo is FuzzDecodeAddr for go-fuzz.
func FuzzDecodeAddrGo(data []byte) int { return fuzzing.GoFuzz(CheckDecodeAddr(data)) }

// FuzzDecodeConnectGo is FuzzDecodeConnect for go-fuzz.
func FuzzDecodeConnectGo(data []byte) int { return fuzzing.GoFuzz(CheckDecodeConnect(data)) }

// FuzzDecodeConnectReplyGo is FuzzDecodeConnectReply for go-fuzz.
func FuzzDecodeConnectReplyGo(data []byte) int {
	return fuzzing.GoFuzz(CheckDecodeConnectReply(data))
}

// FuzzDecodeFooterGo is FuzzDecodeFooter for go-fuzz: the first byte's low bit says old.
func FuzzDecodeFooterGo(data []byte) int {
	in := fuzzing.NewInput(data)
	old := in.Bool()
	return fuzzing.GoFuzz(CheckDecodeFooter(in.Rest(), old))
}

// FuzzDecodeMAuthGo is FuzzDecodeMAuth for go-fuzz.
func FuzzDecodeMAuthGo(data []byte) int { return fuzzing.GoFuzz(CheckDecodeMAuth(data)) }

// FuzzDecodeMAuthReplyGo is FuzzDecodeMAuthReply for go-fuzz.
func FuzzDecodeMAuthReplyGo(data []byte) int { return fuzzing.GoFuzz(CheckDecodeMAuthReply(data)) }

// FuzzDecodeFrameGo is FuzzDecodeFrame for go-fuzz: the first byte's low bit says old.
func FuzzDecodeFrameGo(data []byte) int {
	in := fuzzing.NewInput(data)
	old := in.Bool()
	return fuzzing.GoFuzz(CheckDecodeFrame(in.Rest(), old))
}

// FuzzDissectGo is FuzzDissect for go-fuzz: a length-prefixed client stream, then the server's.
func FuzzDissectGo(data []byte) int {
	in := fuzzing.NewInput(data)
	c2s := in.Bytes()
	return fuzzing.GoFuzz(CheckDissect(c2s, in.Rest()))
}

// FuzzMessageRoundTripGo is FuzzMessageRoundTrip for go-fuzz: a flags byte (old, data crc),
// then length-prefixed header, front and middle, then the data section.
func FuzzMessageRoundTripGo(data []byte) int {
	in := fuzzing.NewInput(data)
	flags := in.Byte()
	hdr, front, middle := in.Bytes(), in.Bytes(), in.Bytes()
	return fuzzing.GoFuzz(CheckMessageRoundTrip(hdr, front, middle, in.Rest(), flags&1 != 0, flags&2 != 0))
}

// FuzzWalkGo is FuzzWalk for go-fuzz: a length-prefixed client stream, an 8-byte chunking
// seed (big-endian, zeros past the end), then the server's stream.
func FuzzWalkGo(data []byte) int {
	in := fuzzing.NewInput(data)
	c2s := in.Bytes()
	var seed uint64
	for range 8 {
		seed = seed<<8 | uint64(in.Byte())
	}
	return fuzzing.GoFuzz(CheckWalk(c2s, in.Rest(), seed))
}
