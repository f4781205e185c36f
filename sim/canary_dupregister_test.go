//go:build canary_dupregister

package sim

const canaryName, canaryWant = "dupregister", InvRegistryDup
