//go:build !canary_nodiscard

package proto

const canaryNoDiscard = false
