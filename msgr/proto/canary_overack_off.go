//go:build !canary_overack

package proto

const canaryOverAck = 0
