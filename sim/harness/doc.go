// Package harness wires one simulated run together, once, for every workload: the world
// (sim/world), the checks (sim/check: the checker, the auditor after every step, the
// histories) and the fault injector (sim/fault), with their random sources forked from the
// run's root in a fixed order, and ONE path for every messenger trace event (Run.Trace: into
// the trace hash, the coverage, the histories, the checker, the readable trace).
//
// A Workload — pingpong, the Ceph-shaped cluster, Ceph's SyntheticWorkload — implements the
// phases of a run; Run.Drive calls them in order: build, the faults scheduled, safety (the
// workload under faults), liveness (healed: everything must arrive), the end-of-run checks,
// shutdown, and the model checks of the recorded histories. The helpers the phases share
// (Heal, ShutdownAll, Unsettled, StepFailed, StepFailedWith, Sockets for socket-failure
// injection across a process's incarnations) live here too, so that a workload only says
// what is its own.
//
// A run whose code under test panics in a step (Run.Panicked) ends in that phase with the
// panic as its violation: its messengers may hold a lock the panic left locked, so no later
// phase runs, the workload asks them nothing more, and Release drops the run instead of
// recycling it. A panic outside a step — in a stage of Drive (the workload's build, its
// phases' driver code and done conditions, the checks, shutdown, the model checks), in
// Run.Report or in Release — is recovered the same way and names its stage (Run.Stage).
//
// The phase driver lives here rather than in sim so that each workload package's own tests
// can run whole simulated runs of it (sim imports the workloads; they cannot import sim).
//
// Place in the import order (each package imports only those to its right; internal/lint's
// TestSimulatorLayers checks it):
//
//	sim → workload/… → sim/harness → sim/fault → sim/world, sim/check
package harness
