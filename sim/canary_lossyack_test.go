//go:build canary_lossyack

package sim

const canaryName, canaryWant = "lossyack", InvLossyAck
