//go:build canary_doublerelease

package sim

const canaryName, canaryWant = "doublerelease", InvThrottleNeg
