//go:build linux

package synthetic_test

import (
	"slices"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/canary"
)

// The real-stack checkers have teeth: each deliberate bug of internal/canary's table that names
// invariants over real TCP, selected in turn, fails a soak round over epoll loopback with one
// of them. The subtests select a global canary: none of them may run in parallel.
func TestCanaries(t *testing.T) {
	if !canary.Enabled {
		t.Skip("the canaries need a build with -tags canary (go test -tags canary -run TestCanaries ./workload/synthetic)")
	}
	for _, c := range canary.All {
		if len(c.Real) == 0 {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			prev := canary.Set(c.Kind)
			defer canary.Set(prev)
			realCanaryIsCaught(t, c.Real)
		})
	}
}

// realCaughtRounds bounds the soak rounds a canary over real TCP may take. Whether a bug shows
// in a round depends on the kernel's timing: overack shows only when an ACK overtakes the
// message it wrongly covers, which a quiet loopback makes rare (seen: round 1, round 2, and
// three rounds in a row without it); each round draws a new schedule.
const realCaughtRounds = 10

// realCanaryIsCaught requires a violation of one of want within realCaughtRounds soak rounds.
func realCanaryIsCaught(t *testing.T, want []string) {
	for round := uint64(1); round <= realCaughtRounds; round++ {
		r := runReal(t, soakConfigs()[0], round, 15*time.Second)
		for _, v := range r.violations {
			if slices.Contains(want, v.Name) {
				t.Logf("caught over epoll by %s in round %d: %s", v.Name, round, v.Detail)
				return
			}
		}
		t.Logf("round %d: %v", round, r.violations)
	}
	t.Fatalf("not caught by %v over epoll in %d rounds", want, realCaughtRounds)
}
