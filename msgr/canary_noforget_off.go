//go:build !canary_noforget

package msgr

const canaryNoForget = false
