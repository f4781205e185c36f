// Package synthsim runs Ceph's SyntheticWorkload (package workload/synthetic) in the
// simulator (msgr-sim run -workload synthetic): each of its messengers on a simulated host of
// its own (with the workload's or the seed's socket failures), traced into the run's trace
// hash and checked by check.Checker through synthetic.Checker and by the auditor after every
// step, configured by the run's configuration knobs (harness.Knobs: feature bits per node,
// buffers, workers, throttles, timeouts, backoff, keepalives; not message sizes or
// priorities, which are the workload's own); the seed's faults (crashes excepted) during the
// operations; then a drain that must answer every pending PING and deliver every lossless
// message; then a shutdown that must leave nothing held.
//
// It is a package of its own, and not part of workload/synthetic, so that the workload's
// real-TCP users (the soak and parity tests, over epoll) do not link the simulator.
//
// Place in the import order (each package imports only those to its right; internal/lint's
// TestSimulatorLayers checks it):
//
//	sim → workload/… → sim/harness → sim/fault → sim/world, sim/check
package synthsim
