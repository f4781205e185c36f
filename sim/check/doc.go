// Package check holds the invariants: their names (Inv*, InvariantDoc) and the code that
// checks them, by observing messengers from outside — what was sent, read, dispatched,
// acknowledged, dropped, reset — never by reaching into them. It knows nothing of the
// simulated world (it imports neither sim/world nor simnet), so the same checks run in the
// simulator and over real TCP:
//
//   - Checker verifies delivery per stream: exactly once, in order per sender connection and
//     priority, intact, and every lossless message dispatched unless a reset, crash,
//     mark-down or reported drop accounts for its loss; an acknowledgement never covers a
//     message the peer has not read.
//   - Auditor checks each messenger's registry, throttles and dispatch queue after every step
//     (or, over real TCP, once everything shut down).
//   - Histories records every lossless session as a porcupine history; CheckModels (a
//     *_postrun.go file: porcupine starts goroutines) checks them, and a key-value history,
//     once the run is over.
//
// The invariants, each with the name used in violations (InvariantDoc says what each
// requires):
//
//   - lossless-order, lossy-order: dispatch follows send order per (sender connection, priority);
//   - duplicate-delivery: nothing is dispatched twice to one incarnation of a receiver;
//   - lossless-loss: every lossless message is dispatched, unless a reset or remote reset on
//     its connection, a mark-down, a crash or a reported drop accounts for the loss;
//   - unknown-message, corrupt-delivery: only what was sent is dispatched, intact;
//   - ack-unreceived: an acknowledgement (ACK frame or SEQ exchange) never covers a message the
//     peer has not read; lossy-ack: lossy sessions never send ACKs (sim/fault's frame tracker
//     watches for them);
//   - registry-closed, registry-duplicate: no closed connection stays registered, no address
//     has two live registered connections;
//   - throttle-negative, throttle-leak, queue-leftover: throttles never go below zero, and a
//     shut-down messenger holds no throttle unit and has nothing left in its dispatch queue;
//   - panic: the code under test never panics (PanicInvariant names a recovered panic);
//   - liveness-timeout, no-progress, shutdown-stalled: the run drains and finishes in bounds;
//   - synthetic-fifo, synthetic-payload, synthetic-dispatch: Ceph's own SyntheticWorkload checks;
//   - fifo-linearizability, kv-linearizability: the histories pass porcupine's FIFO and KV
//     models; kv-liveness, replica-divergence: the cluster workload's own.
//
// The checker's and the auditor's each have a test that fails them on a wrong history
// (invariants_test.go), and canary builds (deliberately broken messengers, see sim's canary
// tests) show the simulator catching real bugs with them.
//
// None of them locks: they belong to one goroutine at a time. Over real TCP, where messenger
// workers report concurrently, the caller serializes them (workload/synthetic's epoll runner
// does). Counter is how a caller counts invariant evaluations (the simulator's coverage).
//
// Place in the import order (each package imports only those to its right; internal/lint's
// TestSimulatorLayers checks it):
//
//	sim → workload/… → sim/harness → sim/fault → sim/world, sim/check
package check
