//go:build canary_nodiscard

package sim

const canaryName, canaryWant = "nodiscard", InvDuplicate
