package cluster

import "github.com/msgrsim/msgrsim/internal/canary"

// canaryNoDedupe breaks the cluster workload's OSDs on purpose (internal/canary): a retried
// update is applied again instead of being found by client and tid. A constant false without
// -tags canary.
func canaryNoDedupe() bool { return canary.Enabled && canary.On(canary.NoDedupe) }
