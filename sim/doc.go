// Package sim is the deterministic simulator's front: a whole cluster of messengers on ONE
// goroutine over a seeded virtual network and a virtual clock, so that one uint64 seed
// reproduces a run exactly — every byte boundary, every reset, every dispatch.
//
// Run takes Options (the seed, the workload and its size, the fault mix, where the decisions
// come from) and returns a Result: it builds a run (sim/harness), puts the chosen workload on
// it — the default pingpong of OSDs and clients (workload/pingpong), the Ceph-shaped cluster
// (workload/cluster) or Ceph's SyntheticWorkload (workload/synthetic/synthsim) — and drives it
// through its phases: safety (the workload under the seed's faults), liveness (every fault
// healed: everything sent must arrive), shutdown (nothing may be left held), then the model
// checks of the recorded histories. Every invariant (their names and what they require are in
// sim/check's documentation) is checked after every step and at the end; a broken one is a
// Violation of the Result.
//
// Around Run, this package keeps what is about runs as a whole: tapes (a run written down
// decision by decision, replayed exactly), the shrinker (a failing tape made small), coverage
// (what a run or a sweep exercised of the protocol), the reachability goals of the messenger's
// probes (ProbeGoals: which rare paths a sweep must reach, docs/reach.md), and the determinism
// self-check (CheckDeterminism: run twice, compare the trace hashes, and point at the first
// event that differs).
//
// The simulator is split by job, one package per room; imports run one way, left to right
// (internal/lint's TestSimulatorLayers holds them to it):
//
//	sim → workload/… → sim/harness → sim/fault → sim/world, sim/check
//
// The rooms:
//
//   - sim/world: the world — the one goroutine, the virtual clock, the seeded scheduler, the
//     trace (named tags) and its hash. Knows no invariant.
//   - sim/check: the invariants, the delivery checker, the auditor, the histories and their
//     porcupine checks. Observes messengers only, so the same checks run over real TCP.
//   - sim/fault: fault kinds and mixes, the injector, the msgr1 frame tracker.
//   - sim/harness: one run wired once (world, checks, faults, the one path of a messenger's
//     trace events), the Workload interface and the phase driver.
//   - workload/pingpong, workload/cluster, workload/synthetic/synthsim: the workloads.
//
// The names of the invariants, fault kinds, statistics, phases and the synthetic workload's
// helpers that moved to those packages are repeated here (aliases), so that msgr-sim, the
// fuzz targets and the tests name them as before.
package sim
