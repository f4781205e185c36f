//go:build canary_noforget

package sim

const canaryName, canaryWant = "noforget", InvRegistryClosed
