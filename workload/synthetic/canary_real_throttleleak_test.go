//go:build linux && canary_throttleleak

package synthetic_test

import "github.com/msgrsim/msgrsim/sim/check"

var realCanaryWant = []string{check.InvThrottleLeak}
