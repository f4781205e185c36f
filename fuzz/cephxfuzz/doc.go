// Package cephxfuzz holds the checks behind the fuzz targets of msgr/auth/cephx: the keyring
// parser, base64 keys, authorizers (raw, and built from fuzzed plaintexts sealed with real
// keys), authorizer replies and challenges, the cephx payloads of MAuth and MAuthReply, the
// decrypted structures, and the client state machine fed MAuthReply sequences.
//
// The checks state: no input makes a decoder, the verifier or the client panic; what a
// decoder accepts re-encodes to its bytes (through CBC, to bytes that decode the same: Ceph's
// cipher has no integrity beyond the envelope's magic number); nothing is accepted that should
// not be (an authorizer only after a challenge round and with the right answer, a reply or a
// challenge exactly when its plaintext is right, a client done only with a global id and a
// session key). A check returns nil when the input passed, an error wrapping
// internal/fuzzing.ErrSkip when it is out of scope, and otherwise an error naming the property
// that failed.
//
// The fixed keys are those of the real cluster msgr/auth/cephx/testdata/vectors.json was
// captured from, so that seeds taken from it decrypt and the fuzzer starts inside the
// encrypted structures (cephx's TestFuzzKeysMatchVectors keeps them in step). Only the
// package's exported API is used. The native targets (FuzzParseKeyring, …, FuzzClient) live in
// msgr/auth/cephx's external tests (fuzz_test.go); the go-fuzz and libFuzzer entry points are
// here, built with the gofuzz tag (gofuzz.go).
package cephxfuzz
