//go:build linux && canary_overack

package synthetic_test

import "github.com/msgrsim/msgrsim/sim/check"

var realCanaryWant = []string{check.InvAckUnreceived}
