//go:build linux && canary_overack

package synthetic_test

import "github.com/msgrsim/msgrsim/sim"

var realCanaryWant = []string{sim.InvAckUnreceived}
