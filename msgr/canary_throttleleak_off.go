//go:build !canary_throttleleak

package msgr

const canaryThrottleLeak = false
