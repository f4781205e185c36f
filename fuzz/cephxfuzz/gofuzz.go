//go:build gofuzz

package cephxfuzz

import "github.com/msgrsim/msgrsim/internal/fuzzing"

// Entry points for go-fuzz and libFuzzer (go-fuzz-build -func FuzzXxxGo; the README's fuzzing
// section shows how): one per native target of msgr/auth/cephx/fuzz_test.go, running the same
// check. Targets with several arguments take them from the input in order (fuzzing.Input:
// two-byte big-endian lengths).

// FuzzParseKeyringGo is FuzzParseKeyring for go-fuzz.
func FuzzParseKeyringGo(data []byte) int { return fuzzing.GoFuzz(CheckParseKeyring(data)) }

// FuzzParseKeyGo is FuzzParseKey for go-fuzz.
func FuzzParseKeyGo(data []byte) int { return fuzzing.GoFuzz(CheckParseKey(string(data))) }

// FuzzDecodeAuthorizerGo is FuzzDecodeAuthorizer for go-fuzz.
func FuzzDecodeAuthorizerGo(data []byte) int { return fuzzing.GoFuzz(CheckDecodeAuthorizer(data)) }

// FuzzSealedAuthorizerGo is FuzzSealedAuthorizer for go-fuzz: a length-prefixed ticket
// plaintext, a length-prefixed CephXAuthorize plaintext, then 8 bytes of global id.
func FuzzSealedAuthorizerGo(data []byte) int {
	in := fuzzing.NewInput(data)
	tp, ap := in.Bytes(), in.Bytes()
	var gid uint64
	for range 8 {
		gid = gid<<8 | uint64(in.Byte())
	}
	return fuzzing.GoFuzz(CheckSealedAuthorizer(tp, ap, gid))
}

// FuzzAuthorizerReplyGo is FuzzAuthorizerReply for go-fuzz: a length-prefixed raw reply,
// then the plaintext.
func FuzzAuthorizerReplyGo(data []byte) int {
	in := fuzzing.NewInput(data)
	raw := in.Bytes()
	return fuzzing.GoFuzz(CheckAuthorizerReply(raw, in.Rest()))
}

// FuzzDecodeRequestGo is FuzzDecodeRequest for go-fuzz.
func FuzzDecodeRequestGo(data []byte) int { return fuzzing.GoFuzz(CheckDecodeRequest(data)) }

// FuzzDecodeResponseGo is FuzzDecodeResponse for go-fuzz.
func FuzzDecodeResponseGo(data []byte) int { return fuzzing.GoFuzz(CheckDecodeResponse(data)) }

// FuzzDecodePlainGo is FuzzDecodePlain for go-fuzz: a kind byte, then the plaintext.
func FuzzDecodePlainGo(data []byte) int {
	in := fuzzing.NewInput(data)
	kind := in.Byte()
	return fuzzing.GoFuzz(CheckPlain(kind, in.Rest()))
}

// FuzzClientGo is FuzzClient for go-fuzz: three length-prefixed MAuthReply fronts.
func FuzzClientGo(data []byte) int {
	in := fuzzing.NewInput(data)
	a, b := in.Bytes(), in.Bytes()
	return fuzzing.GoFuzz(CheckClient([][]byte{a, b, in.Rest()}))
}

// FuzzMonitorGo is FuzzMonitor for go-fuzz: three length-prefixed MAuth fronts.
func FuzzMonitorGo(data []byte) int {
	in := fuzzing.NewInput(data)
	a, b := in.Bytes(), in.Bytes()
	return fuzzing.GoFuzz(CheckMonitor([][]byte{a, b, in.Rest()}))
}

// FuzzServerAuthGo is FuzzServerAuth for go-fuzz: 4 bytes of protocol, 8 of features (big
// endian), a length-prefixed first authorizer, then the second.
func FuzzServerAuthGo(data []byte) int {
	in := fuzzing.NewInput(data)
	var protocol uint32
	var features uint64
	for range 4 {
		protocol = protocol<<8 | uint32(in.Byte())
	}
	for range 8 {
		features = features<<8 | uint64(in.Byte())
	}
	a := in.Bytes()
	return fuzzing.GoFuzz(CheckServerAuth(protocol, features, a, in.Rest()))
}
