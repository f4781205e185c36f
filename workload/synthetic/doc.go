// Package synthetic is Ceph's SyntheticWorkload (src/test/msgr/test_msgr.cc,
// msgr1-protocol.md §9), ported to this messenger: a set of server messengers and client
// messengers with configurable policies, driven by a random mix of operations — open a
// connection from a random client to a random server, drop (mark down) a random connection,
// send a message on a random connection, sleep — with payloads of random sizes.
//
// A send is, 95% of the time, an MPing whose data carries a versioned Payload {who, seq, data};
// the receiver answers with a PONG carrying the same payload, and the originator checks, per
// connection, that PONGs come back in the order the PINGs went out (FIFO) and with the same
// data. The other 5% are MCommand messages at priority 200, to perturb the ordering. Pending
// PINGs are forgotten exactly where Ceph's test forgets them: when their connection is dropped
// or reset, and on connect, accept and remote-reset events. At the end the workload drains:
// every pending PING must be answered.
//
// The workload is written once over the messenger API and runs anywhere: deterministically in
// the simulator (synthsim, msgr-sim run -workload synthetic) and over real epoll loopback TCP (the
// soak and parity tests). It never starts a goroutine, sleeps or reads a clock: a driver
// calls Next/Do for each operation and waits (virtual or real time) when an operation says
// so. Everything it decides comes from the random source it is given.
//
// The invariants stronger than Ceph's own checks — exactly-once, in-order delivery of
// lossless messages unless a reset accounts for a loss, acknowledgements, throttles, the
// session registry — are not checked by the workload itself but by an Observer, Checker, that
// feeds a check.Checker (sim/check) with every message the workload sends and receives and
// every connection it drops, in the simulator and over real TCP alike. Checker does not lock:
// over real TCP its caller serializes it (the epoll runner of the soak and parity tests does),
// and the two calls that ask messengers something are split so that the lock is never held
// while a messenger is asked.
//
// The workload imports no simulator (sim/check only), so its real-TCP users link none; its
// simulator adapter is workload/synthetic/synthsim. Place in the import order (each package
// imports only those to its right; internal/lint's TestSimulatorLayers checks it):
//
//	sim → workload/… → sim/harness → sim/fault → sim/world, sim/check
package synthetic
