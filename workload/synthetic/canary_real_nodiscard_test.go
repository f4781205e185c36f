//go:build linux && canary_nodiscard

package synthetic_test

import "github.com/msgrsim/msgrsim/sim/check"

var realCanaryWant = []string{check.InvDuplicate}
