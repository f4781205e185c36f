// Package sim is the deterministic simulator: a whole cluster of messengers on ONE goroutine
// over a seeded virtual network (simnet) and a virtual clock, so that one uint64 seed
// reproduces a run exactly — every byte boundary, every reset, every dispatch.
//
// A World is both the messengers' event.Runtime (it registers their centers instead of
// starting goroutines) and the scheduler: at each step it picks, with its seeded random
// source, one of the things that can happen now — a center with pending work steps, or the
// network moves some bytes — and when nothing can happen it advances virtual time to the next
// timer or delivery. Every step is folded into a running trace hash; two runs of one seed must
// end with the same hash (the simulator checks this about itself).
//
// Scenario builds nodes, drives a workload and checks that lossless sessions deliver every
// message exactly once and in order, and lossy ones at most once and in order.
package sim
