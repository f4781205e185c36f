// Package event is the EventCenter: the single-threaded loop that owns a set of connections
// and runs everything that touches their protocol state (Ceph's EventCenter and Worker).
//
// A Center multiplexes three kinds of events:
//
//   - file events: readiness of file descriptors, reported by a netio.Poller;
//   - time events: callbacks due at a virtual or real time, kept in a heap, cancellable by id;
//   - external events: callbacks posted from other goroutines (or, in simulation, from the
//     simulator) through a mutex-guarded FIFO, which wakes the poller.
//
// Step runs one bounded iteration and is what the simulator calls when its scheduler picks
// this center; Run loops over Step and is what the production runtime runs on a goroutine.
// Who drives a center is decided by a Runtime: GoRuntime in production, the simulator's
// scheduler in simulation. The messenger never starts goroutines itself.
//
// A Pool is a fixed set of centers (Ceph's ms_async_op_threads workers); new connections go to
// the least-loaded one.
package event
