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
// Run builds nodes, drives a workload — the default OSD-and-client scenario, or Ceph's
// SyntheticWorkload (Options.Workload, package workload/synthetic) — under the seed's faults,
// and checks, after every step, the always-on invariants, each with a name used in violations:
//
//   - lossless-order, lossy-order: dispatch follows send order per (sender connection, priority);
//   - duplicate-delivery: nothing is dispatched twice to one incarnation of a receiver;
//   - lossless-loss: every lossless message is dispatched, unless a reset or remote reset on
//     its connection, a mark-down, a crash or a reported drop accounts for the loss;
//   - unknown-message, corrupt-delivery: only what was sent is dispatched, intact;
//   - ack-unreceived: an acknowledgement (ACK frame or SEQ exchange) never covers a message the
//     peer has not read; lossy-ack: lossy sessions never send ACKs;
//   - registry-closed, registry-duplicate: no closed connection stays registered, no address
//     has two live registered connections;
//   - throttle-negative, throttle-leak, queue-leftover: throttles never go below zero, and a
//     shut-down messenger holds no throttle unit and has nothing left in its dispatch queue;
//   - panic: the code under test never panics;
//   - liveness-timeout, no-progress, shutdown-stalled: the run drains and finishes in bounds;
//   - synthetic-fifo, synthetic-payload, synthetic-dispatch: Ceph's own SyntheticWorkload checks.
//
// Checker (delivery) and Auditor (registry, throttles, queues) implement them; each has a test
// that fails it on a wrong history, and a canary build (go test -tags canary_<name>) that the
// simulator must catch. synthetic.Checker feeds them from a synthetic workload in the
// simulator and over real TCP alike.
package sim
