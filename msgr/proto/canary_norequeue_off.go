//go:build !canary_norequeue

package proto

const canaryNoRequeue = false
