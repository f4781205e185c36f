//go:build gofuzz

package proto

import "github.com/msgrsim/msgrsim/internal/fuzzing"

// Entry points for go-fuzz and libFuzzer (go-fuzz-build -func FuzzXxxGo, see NOTES-fuzz.md),
// running the checks of the native targets in fuzz_test.go on the same input format.

// FuzzAcceptorGo is FuzzAcceptor for go-fuzz.
func FuzzAcceptorGo(data []byte) int { return fuzzing.GoFuzz(checkConnFuzz(data, true)) }

// FuzzConnectorGo is FuzzConnector for go-fuzz.
func FuzzConnectorGo(data []byte) int { return fuzzing.GoFuzz(checkConnFuzz(data, false)) }

// FuzzDecideGo is FuzzDecide for go-fuzz.
func FuzzDecideGo(data []byte) int { return fuzzing.GoFuzz(checkDecide(data)) }
