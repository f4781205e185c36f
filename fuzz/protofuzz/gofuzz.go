//go:build gofuzz

package protofuzz

import "github.com/msgrsim/msgrsim/internal/fuzzing"

// Entry points for go-fuzz and libFuzzer (go-fuzz-build -func FuzzXxxGo; the README's
// fuzzing section shows how), running the checks of the native targets of
// msgr/proto/fuzz_test.go on the same input format.

// FuzzAcceptorGo is FuzzAcceptor for go-fuzz.
func FuzzAcceptorGo(data []byte) int { return fuzzing.GoFuzz(CheckAcceptor(data)) }

// FuzzConnectorGo is FuzzConnector for go-fuzz.
func FuzzConnectorGo(data []byte) int { return fuzzing.GoFuzz(CheckConnector(data)) }

// FuzzDecideGo is FuzzDecide for go-fuzz.
func FuzzDecideGo(data []byte) int { return fuzzing.GoFuzz(CheckDecide(data)) }
