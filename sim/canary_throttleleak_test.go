//go:build canary_throttleleak

package sim

const canaryName, canaryWant = "throttleleak", InvThrottleLeak
