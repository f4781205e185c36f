//go:build !canary_doublerelease

package msgr

const canaryDoubleRelease = false
