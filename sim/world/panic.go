package world

import (
	"fmt"
	"runtime/debug"
)

// PanicError is a panic raised by the code under test during a simulation step, with the
// stack where it happened: World.Step recovers it and returns it as its error.
type PanicError struct {
	Value any
	Stack string
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v\n%s", e.Value, e.Stack) }

func newPanicError(v any) *PanicError { return &PanicError{Value: v, Stack: string(debug.Stack())} }
