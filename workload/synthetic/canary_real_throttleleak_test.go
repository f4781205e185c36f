//go:build linux && canary_throttleleak

package synthetic_test

import "github.com/msgrsim/msgrsim/sim"

var realCanaryWant = []string{sim.InvThrottleLeak}
