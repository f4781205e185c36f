// Package epoll is the production implementation of the netio seam: Linux epoll and
// nonblocking TCP sockets, through golang.org/x/sys/unix. It starts no goroutines; each Poller
// belongs to the one goroutine that calls Wait, and only Wake may be called from elsewhere.
//
// # Level-triggered readiness
//
// The Poller registers every descriptor level-triggered (no EPOLLET), for three reasons and at
// one cost:
//
//   - It has the same semantics as simnet, whose readiness is computed from socket buffers at
//     each Wait: "readable" means "there is something to read now". Code above the seam sees
//     the same contract in both worlds, and the netiotest suite checks it in both.
//   - Fairness caps are free. An EventCenter may read a bounded number of bytes from a
//     connection per iteration and move on; whatever it left behind is reported again by the
//     next Wait, with no re-queue list to maintain (gnet must re-queue in edge-triggered mode).
//   - It removes the kernel half of the lost-wakeup class behind Ceph quirk Q1. With edge
//     triggering, a read loop that returns early (after a bare KEEPALIVE, or at a fairness
//     cap) strands whatever is left in the kernel until the peer sends more; with level
//     triggering those bytes are reported by the next Wait. Bytes already pulled into a
//     user-space prefetch buffer are invisible to any poller, so the code that owns such a
//     buffer must still consume it before it yields.
//   - The cost: a writable socket is reported by every Wait, so Write interest must be armed
//     only while output is blocked (after a short write or EAGAIN) and disarmed once the
//     out-queue drains. netio.Poller documents this contract.
//
// Readiness maps to netio.Events as Ceph's EpollDriver does: EPOLLIN, EPOLLRDHUP, EPOLLHUP and
// EPOLLERR report Read; EPOLLOUT, EPOLLHUP and EPOLLERR report Write. Errors and hang-ups are
// therefore reported as Read|Write whatever the interest mask, so that the next read or write
// observes the error itself.
//
// # Wakeups
//
// Wake writes to an eventfd registered in the epoll set, but only the first Wake since the
// last drain does so: an atomic flag deduplicates concurrent wakeups (the gnet Trigger pattern,
// Ceph PR #28388). Wait drains the eventfd, clears the flag and never reports the eventfd as an
// event. Options.SpinWait makes Wait poll with epoll_wait(…, 0) for a bounded time before it
// blocks, which avoids the 25–35 µs cost of sleeping and waking a thread in ping-pong traffic.
// Wait rounds its timeout up to whole milliseconds, so a 100 µs timer does not spin.
//
// # The run loop
//
// A Wait parks its goroutine in Go's netpoller (the epoll descriptor is itself watched by the
// runtime), and each Wait begins with a non-blocking epoll_wait, because the runtime forgets
// what it saw of the descriptor when a new wait on it begins. Poller.RunLoop, which
// event.Center.Run uses, avoids that poll: it runs the center's steps inside one wait of the
// runtime, so whatever the kernel signals while a step runs makes the next park return at
// once. After a step that settled every descriptor it handled (read until the socket had less
// than asked or would block, wrote until done or blocked, changed no interest; the
// connection's handler says so with event.Center.Settled), nothing is left ready that the
// kernel will not signal anew, and the loop parks straight away: one epoll_wait per wakeup
// instead of two. Level triggering does not signal the runtime again for a descriptor that a
// previous epoll_wait reported and the step left ready (checked on Linux 6.18), so a step that
// stops at a fairness cap, or a handler that does not call Settled, polls before parking as
// before. A loop that watches a single descriptor (a client's event loop with its one
// connection) does not poll after a wakeup at all unless a Wake came: only that descriptor
// can have woken it, so the step gets it as ready for its interest mask and finds out what
// is there by reading and writing (BENCHMARKS.md, "The loop per wakeup").
//
// # Errors
//
// Errors are errno values, so errors.Is(err, netio.ErrWouldBlock) and friends work. On the data
// path (Socket.Read, Socket.Writev) EAGAIN is returned as netio.ErrWouldBlock and
// connection-state errors (ECONNRESET, EPIPE, ETIMEDOUT, ECONNREFUSED, …) as the bare
// syscall.Errno, without allocating; unexpected errno values (EFAULT, EINVAL, ENOMEM, …) are
// wrapped with os.NewSyscallError. Setup calls (socket, bind, listen, epoll_ctl, …) always wrap
// with os.NewSyscallError and, where useful, the address involved.
//
// # Connect
//
// Stack.Connect returns an error only when no socket could be set up (socket(2) or setsockopt
// failed, or the address is invalid). Every outcome of the connection attempt itself, including
// one that connect(2) reports at once (ECONNREFUSED, ENETUNREACH, EADDRNOTAVAIL, …), is
// reported later by Socket.ConnectError; the socket then polls as Read|Write (EPOLLHUP), so the
// caller's single "connect finished" path runs in both worlds.
//
// # Closing
//
// Close on a Socket, Listener or Poller is idempotent: the second and later calls return nil.
// Other methods on a closed Socket return netio.ErrBadFD, and its FD is -1.
package epoll
