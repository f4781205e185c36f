//go:build !canary_nodedupe

package cluster

// canaryNoDedupe breaks the cluster workload's OSDs on purpose (build tag canary_nodedupe):
// a retried update is applied again instead of being found by client and tid.
const canaryNoDedupe = false
