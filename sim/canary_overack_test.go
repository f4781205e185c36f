//go:build canary_overack

package sim

const canaryName, canaryWant = "overack", InvAckUnreceived
