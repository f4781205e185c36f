// Package wirefuzz holds the checks behind the fuzz targets of the msgr1 codec (msgr/wire):
// every decoder (header, legacy and MSG_ADDR2 addresses, connect, connect reply, footer,
// MAuth, MAuthReply, frame), the dissector, the conversation walker (walk.go) and the message
// encoder.
//
// Each check states the same two things: no input makes a decoder panic, and whatever a
// decoder accepts re-encodes to exactly the bytes it consumed (plus, where it applies: lengths
// over the limits refused, a sealed message decodes back to itself, a dissected conversation
// re-encodes to its input or, when refused, to a prefix of it). A check returns nil when the
// input passed, an error wrapping internal/fuzzing.ErrSkip when it is out of scope, and an
// error describing the first property that failed otherwise.
//
// The native targets (FuzzDecodeHeader, …, FuzzWalk) live beside the code they test, in
// msgr/wire's external tests (wire_fuzz_test.go, walk_fuzz_test.go); the go-fuzz and libFuzzer
// entry points are in this package, built with the gofuzz tag (gofuzz.go).
package wirefuzz
