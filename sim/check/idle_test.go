package check

import (
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
)

// TestIdleTimeoutFailsPrematureFaults: an idle fault sooner than IdleTimeout after a read seen
// on the same connection fails idle-timeout; one that long after, or on a connection that read
// nothing seen, or after a read on another connection only, does not.
func TestIdleTimeoutFailsPrematureFaults(t *testing.T) {
	ms := int64(time.Millisecond)
	for _, tc := range []struct {
		name    string
		reads   []int64 // read times on connection a
		other   int64   // a read on connection b (0: none)
		faultAt int64
		want    int
	}{
		{"premature", []int64{10 * ms, 150 * ms}, 0, 237 * ms, 1},
		{"at-the-bound", []int64{10 * ms, 150 * ms}, 0, 250 * ms, 0},
		{"later", []int64{10 * ms}, 0, 400 * ms, 0},
		{"nothing-read", nil, 0, 50 * ms, 0},
		{"other-connection", []int64{10 * ms}, 200 * ms, 150 * ms, 0},
		{"same-instant", []int64{10 * ms, 200 * ms}, 0, 200 * ms, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := NewChecker()
			a, b := &msgr.Connection{}, &msgr.Connection{}
			for _, at := range tc.reads {
				k.ReadOn(a, at)
			}
			if tc.other != 0 {
				k.ReadOn(b, tc.other)
			}
			k.IdleFault(a, 100*time.Millisecond, tc.faultAt)
			if got := violated(k)[InvIdleTimeout]; got != tc.want {
				t.Fatalf("idle-timeout violations %d, want %d: %v", got, tc.want, k.Violations())
			}
			k.Reset()
			k.IdleFault(a, 100*time.Millisecond, tc.faultAt)
			if len(k.Violations()) != 0 {
				t.Fatalf("after Reset the reads are forgotten: %v", k.Violations())
			}
		})
	}
}
