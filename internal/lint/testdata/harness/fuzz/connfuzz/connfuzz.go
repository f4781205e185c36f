// Package connfuzz is a harness: it may use the test Host and internal/fuzzing.
package connfuzz

import (
	_ "github.com/msgrsim/msgrsim/internal/fuzzing"
	_ "github.com/msgrsim/msgrsim/msgr/proto/prototest"
)
