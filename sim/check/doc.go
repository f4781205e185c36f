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
// None of them locks: they belong to one goroutine at a time. Over real TCP, where messenger
// workers report concurrently, the caller serializes them (workload/synthetic's epoll runner
// does). Counter is how a caller counts invariant evaluations (the simulator's coverage).
//
// Place in the import order (each package imports only those to its right):
//
//	sim → workload/… → sim/harness → sim/fault → sim/world, sim/check
package check
