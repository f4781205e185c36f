//go:build !canary_dupregister

package msgr

const canaryDupRegister = false
