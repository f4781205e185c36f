// Package protofuzz holds the checks behind the fuzz targets of the protocol core
// (msgr/proto): one connection driven by a fuzzer's bytes (FuzzAcceptor, FuzzConnector) and
// the accept decision table driven through a model of the registry (FuzzDecide).
//
// The native targets live beside the code they test, in msgr/proto's external tests
// (fuzz_test.go); the go-fuzz and libFuzzer entry points are in this package, built with the
// gofuzz tag (gofuzz.go). Both call CheckAcceptor, CheckConnector and CheckDecide, and report
// their verdict through internal/fuzzing.
//
// A fuzzed connection runs on msgr/proto/prototest's Host, in a quiet one-connection World:
// the fuzzer's bytes choose the configuration, the valid prefix of the peer's stream, a
// schedule of actions (reads in chunk sizes, clock advances, writes, sends, keepalives,
// socket failures, dials answered or refused, mark-downs) and the rest of the peer's bytes.
// The properties checked are listed with the input format in conn.go and decide.go; the
// README's fuzzing section has the table of every target.
package protofuzz
