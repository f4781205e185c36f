//go:build canary_norequeue

package sim

const canaryName, canaryWant = "norequeue", InvLosslessLoss
