//go:build gofuzz

package wire

import "github.com/msgrsim/msgrsim/internal/fuzzing"

// Entry points for go-fuzz and libFuzzer (go-fuzz-build -func FuzzXxxGo, see NOTES-fuzz.md):
// one per native target of wire_fuzz_test.go, running the same check. Targets with several
// arguments take them from the input in order (fuzzing.Input).

// FuzzDecodeHeaderGo is FuzzDecodeHeader for go-fuzz.
func FuzzDecodeHeaderGo(data []byte) int { return fuzzing.GoFuzz(checkDecodeHeader(data)) }

// FuzzDecodeLegacyAddrGo is FuzzDecodeLegacyAddr for go-fuzz.
func FuzzDecodeLegacyAddrGo(data []byte) int { return fuzzing.GoFuzz(checkDecodeLegacyAddr(data)) }

// FuzzDecodeAddrGo is FuzzDecodeAddr for go-fuzz.
func FuzzDecodeAddrGo(data []byte) int { return fuzzing.GoFuzz(checkDecodeAddr(data)) }

// FuzzDecodeConnectGo is FuzzDecodeConnect for go-fuzz.
func FuzzDecodeConnectGo(data []byte) int { return fuzzing.GoFuzz(checkDecodeConnect(data)) }

// FuzzDecodeConnectReplyGo is FuzzDecodeConnectReply for go-fuzz.
func FuzzDecodeConnectReplyGo(data []byte) int {
	return fuzzing.GoFuzz(checkDecodeConnectReply(data))
}

// FuzzDecodeFooterGo is FuzzDecodeFooter for go-fuzz: the first byte's low bit says old.
func FuzzDecodeFooterGo(data []byte) int {
	in := fuzzing.NewInput(data)
	old := in.Bool()
	return fuzzing.GoFuzz(checkDecodeFooter(in.Rest(), old))
}

// FuzzDecodeMAuthGo is FuzzDecodeMAuth for go-fuzz.
func FuzzDecodeMAuthGo(data []byte) int { return fuzzing.GoFuzz(checkDecodeMAuth(data)) }

// FuzzDecodeMAuthReplyGo is FuzzDecodeMAuthReply for go-fuzz.
func FuzzDecodeMAuthReplyGo(data []byte) int { return fuzzing.GoFuzz(checkDecodeMAuthReply(data)) }

// FuzzDecodeFrameGo is FuzzDecodeFrame for go-fuzz: the first byte's low bit says old.
func FuzzDecodeFrameGo(data []byte) int {
	in := fuzzing.NewInput(data)
	old := in.Bool()
	return fuzzing.GoFuzz(checkDecodeFrame(in.Rest(), old))
}

// FuzzDissectGo is FuzzDissect for go-fuzz: a length-prefixed client stream, then the server's.
func FuzzDissectGo(data []byte) int {
	in := fuzzing.NewInput(data)
	c2s := in.Bytes()
	return fuzzing.GoFuzz(checkDissect(c2s, in.Rest()))
}

// FuzzMessageRoundTripGo is FuzzMessageRoundTrip for go-fuzz: a flags byte (old, data crc),
// then length-prefixed header, front and middle, then the data section.
func FuzzMessageRoundTripGo(data []byte) int {
	in := fuzzing.NewInput(data)
	flags := in.Byte()
	hdr, front, middle := in.Bytes(), in.Bytes(), in.Bytes()
	return fuzzing.GoFuzz(checkMessageRoundTrip(hdr, front, middle, in.Rest(), flags&1 != 0, flags&2 != 0))
}
