//go:build linux && canary_nodiscard

package synthetic_test

import "github.com/msgrsim/msgrsim/sim"

var realCanaryWant = []string{sim.InvDuplicate}
