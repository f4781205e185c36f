//go:build linux && (canary_norequeue || canary_nodiscard || canary_overack || canary_throttleleak)

package synthetic_test

import (
	"slices"
	"testing"
	"time"
)

// The real-stack checkers have teeth: a deliberately broken build (msgr/proto/canary_*_on.go,
// msgr/canary_*_on.go) fails a soak round over epoll loopback with the invariant that should
// catch it.
func TestRealCanaryIsCaught(t *testing.T) {
	for round := uint64(1); round <= 3; round++ {
		r := runReal(t, soakConfigs()[0], round, 15*time.Second)
		for _, v := range r.violations {
			if slices.Contains(realCanaryWant, v.Name) {
				t.Logf("caught over epoll by %s in round %d: %s", v.Name, round, v.Detail)
				return
			}
		}
		t.Logf("round %d: %v", round, r.violations)
	}
	t.Fatalf("not caught by %v over epoll in 3 rounds", realCanaryWant)
}
