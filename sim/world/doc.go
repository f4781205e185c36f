// Package world is the simulated world, and nothing else: ONE goroutine, a virtual clock, a
// virtual network (simnet), a family of seeded random sources, the scheduler that decides
// what happens next, and the trace that folds every decision into a hash.
//
// A World is both the messengers' event.Runtime (it registers their centers instead of
// starting goroutines) and the scheduler: at each step it picks, with its seeded random
// source, one of the things that can happen now — a center with pending work steps, the
// network moves some bytes, or a job scheduled for now runs — and when nothing can happen it
// advances virtual time to the next timer, delivery or job. Every step is folded into the
// Trace, tagged with what it was (TagCenterStep, TagNetTransfer, TagAdvanceClock, TagJob;
// messengers' own events are folded in as TagMsgrEvent by whoever installs their tracer), so
// two runs of one seed end with the same hash exactly when they made the same decisions.
// A panic in the code under test is recovered and returned as a *PanicError.
//
// The world knows no invariant, no fault and no workload: those are sim/check, sim/fault and
// workload/…, wired together by sim/harness. Its place in the import order (each package
// imports only those to its right; internal/lint's TestSimulatorLayers checks it):
//
//	sim → workload/… → sim/harness → sim/fault → sim/world, sim/check
//
// msgr's own tests use a World directly to run messengers deterministically.
package world
