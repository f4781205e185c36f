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
//   - Sessions is the protocol-conformance monitor (conform.go): fed the msgr1 elements the
//     simulator's frame tracker walks on every TCP connection (wire.Walker) and how far each
//     stream was read, it checks msgr1's handshake and session rules as Ceph implements them,
//     restated from the specification (never by calling msgr/proto), so that code wrong the
//     same way at both ends still fails. It also attributes every reset of a lossless session
//     to a cause (attrib.go): crash, mark-down, lossy-policy, never-opened, half-open-accept.
//
// The invariants, each with the name used in violations (InvariantDoc says what each
// requires):
//
//   - lossless-order, lossy-order: dispatch follows send order per (sender connection, priority);
//   - duplicate-delivery: nothing is dispatched twice to one incarnation of a receiver, but
//     for one named case, redelivery-after-mark-down (CaseRedelivery: msgr1 resending an
//     unacknowledged message after the receiver marked a lossless_peer session down on its
//     side only), counted (Checker.Excused);
//   - lossless-loss: every lossless message is dispatched, unless a reset or remote reset on
//     its connection attributed to a cause (not a spurious one), a mark-down, a crash or a
//     reported drop accounts for the loss;
//   - unknown-message, corrupt-delivery: only what was sent is dispatched, intact;
//   - drop-delivered: no message the messenger reported dropping (an error from SendMessage, a
//     TraceDrop event) is ever dispatched: a drop report means it never entered a send queue;
//   - message-fate: once every messenger shut down, every message a messenger accepted was
//     reported done with exactly once (acknowledged, dropped, or discarded unacknowledged:
//     TraceAcked, TraceDrop, TraceDiscard), but what a crashed sender held (fate.go);
//   - idle-timeout: a connection faults for idleness only IdleTimeout after the last read it
//     was seen to make (a message delivered, an acknowledgement heard: idle.go);
//   - ack-unreceived: an acknowledgement (ACK frame or SEQ exchange) never covers a message the
//     peer has not read; lossy-ack: lossy sessions never send ACKs (sim/fault's frame tracker
//     watches for them);
//   - registry-closed, registry-duplicate: no closed connection stays registered, no address
//     has two live registered connections;
//   - throttle-negative, throttle-leak, queue-leftover: throttles never go below zero, and a
//     shut-down messenger holds no throttle unit and has nothing left in its dispatch queue;
//   - listener-leftover: nothing listens on a shut-down messenger's address any more (asked
//     of the simulated network; not checked over real TCP);
//   - panic: the code under test never panics (PanicInvariant names a recovered panic);
//   - liveness-timeout, no-progress, shutdown-stalled: the run drains and finishes in bounds;
//   - synthetic-fifo, synthetic-payload, synthetic-dispatch: Ceph's own SyntheticWorkload checks;
//   - fifo-linearizability, kv-linearizability: the histories pass porcupine's FIFO and KV
//     models; kv-liveness, replica-divergence: the cluster workload's own;
//   - spurious-reset: every reset of a lossless session has a cause it can name, and only an
//     attributed reset excuses the loss of what was sent on the session (never-opened names
//     only a connection that accepted a socket: a lossless connector reconnects instead);
//   - global-seq: connects to one peer carry growing global_seqs, above RETRY_GLOBAL's reply;
//   - connect-seq: a fault while connecting never raises connect_seq; after RETRY_SESSION it is
//     the reply's, after RESETSESSION 0;
//   - open-connect-seq: READY and SEQ carry the connect's connect_seq + 1;
//   - wait-winner: only the race winner (the lower address) answers WAIT;
//   - ready-or-seq: SEQ only to a RECONNECT_SEQ connect, READY to one only for a new session;
//   - replace-retry-global: a lossless session reopened by a replace answers RETRY_GLOBAL first;
//   - seq-exchange: the in_seq sent in the SEQ exchange is at most what was read;
//   - msg-seq: message seqs on a connection grow by one, resends start after the peer's in_seq,
//     and a session reopened for a reset peer (READY to a RECONNECT_SEQ connect) starts at 1;
//   - ack-regress: ACKs never go backwards;
//   - event-order: no connection event follows a connection's reset;
//   - accept-dial: a connection that accepted a socket and opened no session never starts
//     connecting (a fault closes a half-open accepted connection).
//
// The checker's, the auditor's and the monitor's each have a test that fails them on a wrong
// history (invariants_test.go, conform_test.go), and canary builds (deliberately broken messengers, see sim's canary
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
