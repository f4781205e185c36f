package fuzzing

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// recorder is a TB that remembers how an iteration ended.
type recorder struct {
	skipped, failed bool
}

func (r *recorder) Helper()           {}
func (r *recorder) Skip(args ...any)  { r.skipped = true }
func (r *recorder) Fatal(args ...any) { r.failed = true }

func TestReport(t *testing.T) {
	for _, tc := range []struct {
		err           error
		skip, failure bool
	}{
		{nil, false, false},
		{Skipf("too long: %d", 5), true, false},
		{fmt.Errorf("wrapped: %w", Skipf("x")), true, false},
		{errors.New("re-encoded differently"), false, true},
	} {
		var r recorder
		Report(&r, tc.err)
		if r.skipped != tc.skip || r.failed != tc.failure {
			t.Errorf("Report(%v): skipped %v failed %v, want %v %v", tc.err, r.skipped, r.failed, tc.skip, tc.failure)
		}
	}
}

func TestGoFuzz(t *testing.T) {
	if got := GoFuzz(nil); got != 0 {
		t.Errorf("GoFuzz(nil) = %d", got)
	}
	if got := GoFuzz(Skipf("big")); got != -1 {
		t.Errorf("GoFuzz(skip) = %d", got)
	}
	bad := errors.New("property failed")
	defer func() {
		if r := recover(); r != bad {
			t.Errorf("GoFuzz(failure) recovered %v, want a panic with the error", r)
		}
	}()
	GoFuzz(bad)
	t.Error("GoFuzz(failure) returned")
}

func TestInputSplits(t *testing.T) {
	in := NewInput([]byte{7, 0, 3, 'a', 'b', 'c', 0xff, 0xff, 'd', 'e'})
	if in.Len() != 10 {
		t.Errorf("Len = %d", in.Len())
	}
	if b := in.Byte(); b != 7 {
		t.Errorf("Byte = %d", b)
	}
	if p := in.Bytes(); !bytes.Equal(p, []byte("abc")) {
		t.Errorf("Bytes = %q", p)
	}
	if p := in.Bytes(); !bytes.Equal(p, []byte("de")) {
		t.Errorf("Bytes past the end = %q, want what is left", p)
	}
	if in.Bool() || in.Byte() != 0 || len(in.Bytes()) != 0 || len(in.Rest()) != 0 {
		t.Error("an exhausted Input gave something other than zero values")
	}
	in = NewInput([]byte{1, 2, 3})
	if !in.Bool() || !bytes.Equal(in.Rest(), []byte{2, 3}) || in.Rest() != nil {
		t.Error("Bool/Rest")
	}
}
