//go:build gofuzz

package simfuzz

import "github.com/msgrsim/msgrsim/internal/fuzzing"

// FuzzSimGo is FuzzSim for go-fuzz and libFuzzer (go-fuzz-build -func FuzzSimGo; the README's
// fuzzing section shows how): the input is the simulation's decision tape; a failing run's
// tape is written to $MSGRSIM_FUZZ_TAPES (or the temporary directory) and named in the panic.
func FuzzSimGo(data []byte) int { return fuzzing.GoFuzz(Check(data)) }
