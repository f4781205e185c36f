package proto

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
)

// A transport fault's error is what fmt.Errorf("%w: %w", ErrTransport, err) would be (and
// "%w: connect: %w" for a failed connect): the same message, matching both errors.
func TestTransportErrorsAsFmt(t *testing.T) {
	cause := syscall.ECONNRESET
	for _, sep := range []string{": ", ": connect: "} {
		got, want := transportErr(sep, cause), fmt.Errorf("%w"+sep+"%w", ErrTransport, cause)
		if got.Error() != want.Error() || !errors.Is(got, ErrTransport) || !errors.Is(got, syscall.ECONNRESET) {
			t.Fatalf("transport error %q (is transport %v, is reset %v), want %q", got, errors.Is(got, ErrTransport), errors.Is(got, cause), want)
		}
	}
	if got, want := transportErr(": ", nil).Error(), fmt.Errorf("%w: %w", ErrTransport, nil).Error(); got != want {
		t.Fatalf("nil cause: %q, want %q", got, want)
	}
}
