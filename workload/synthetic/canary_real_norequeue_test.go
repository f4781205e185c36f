//go:build linux && canary_norequeue

package synthetic_test

import "github.com/msgrsim/msgrsim/sim"

var realCanaryWant = []string{sim.InvLosslessLoss, sim.InvLiveness}
