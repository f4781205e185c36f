//go:build canary_nodedupe

package cluster

// canaryNoDedupe: a retried update is applied again (a deliberately broken build; the KV
// model must catch it).
const canaryNoDedupe = true
