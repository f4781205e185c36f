// Package fuzzing is what the project's fuzz targets share, so that each target's check runs
// unchanged under `go test -fuzz` and under go-fuzz or libFuzzer.
//
// Every target keeps its check in a harness package under fuzz/ (fuzz/wirefuzz,
// fuzz/protofuzz, fuzz/simfuzz: never in a production package), returning an error: nil when
// the input passed, an error wrapping ErrSkip when the input is out of the target's scope, any
// other error when a property failed. The native target (FuzzXxx in a _test.go file beside the
// code it tests) hands that error to Report; the go-fuzz entry point (FuzzXxxGo, in the
// harness package's gofuzz.go, built only with the gofuzz tag) hands it to GoFuzz. go-fuzz
// entry points take a single byte slice, so targets with several arguments split it with an
// Input.
package fuzzing

import (
	"errors"
	"fmt"
)

// ErrSkip marks an input the target does not cover (too large, or not in the shape it
// wants): the native target skips it, go-fuzz keeps it out of its corpus.
var ErrSkip = errors.New("fuzzing: input out of scope")

// Skipf returns an error wrapping ErrSkip that says why.
func Skipf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSkip, fmt.Sprintf(format, args...))
}

// TB is the part of testing.TB a native target reports through.
type TB interface {
	Helper()
	Skip(args ...any)
	Fatal(args ...any)
}

// Report ends one native fuzz iteration with the check's verdict.
func Report(t TB, err error) {
	t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, ErrSkip):
		t.Skip(err)
	default:
		t.Fatal(err)
	}
}

// GoFuzz turns the check's verdict into go-fuzz's convention: 0 for an ordinary input, -1 for
// one that must not enter the corpus (ErrSkip), and a panic — which go-fuzz and libFuzzer
// record as a crasher — for a failed property.
func GoFuzz(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrSkip):
		return -1
	}
	panic(err)
}

// Input splits one byte slice into the several arguments of a native target, for go-fuzz
// entry points. Reads past the end give zero values; nothing panics.
type Input struct {
	data []byte
}

// NewInput returns an Input reading data from its start.
func NewInput(data []byte) *Input { return &Input{data: data} }

// Len is the number of bytes left.
func (in *Input) Len() int { return len(in.data) }

// Byte takes one byte (0 past the end).
func (in *Input) Byte() byte {
	if len(in.data) == 0 {
		return 0
	}
	b := in.data[0]
	in.data = in.data[1:]
	return b
}

// Bool takes one byte and returns its low bit.
func (in *Input) Bool() bool { return in.Byte()&1 == 1 }

// Bytes takes a slice whose length is given by the next two bytes (big-endian), capped at
// what is left.
func (in *Input) Bytes() []byte {
	n := int(in.Byte())<<8 | int(in.Byte())
	n = min(n, len(in.data))
	p := in.data[:n:n]
	in.data = in.data[n:]
	return p
}

// Rest takes everything that is left.
func (in *Input) Rest() []byte {
	p := in.data
	in.data = nil
	return p
}
