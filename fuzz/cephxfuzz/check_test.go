package cephxfuzz

import (
	"testing"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// lax is a session that signs nothing and accepts everything.
type lax struct{}

func (lax) Sign(*wire.Message, uint64) error  { return nil }
func (lax) Check(*wire.Message, uint64) error { return nil }

// TestCheckSessionCatchesLaxSession: CheckServerAuth's session check fails a session that
// does not refuse a changed signature.
func TestCheckSessionCatchesLaxSession(t *testing.T) {
	if err := checkSession(lax{}); err == nil {
		t.Fatal("a session accepting any signature passed the check")
	}
}
