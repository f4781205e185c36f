//go:build !canary_lossyack

package proto

const canaryLossyAck = false
