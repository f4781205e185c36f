//go:build linux && canary_norequeue

package synthetic_test

import "github.com/msgrsim/msgrsim/sim/check"

var realCanaryWant = []string{check.InvLosslessLoss, check.InvLiveness}
