// Package netio is the seam between the messenger and the network.
//
// Everything nondeterministic that the messenger needs — sockets, readiness, time — is reached
// through the small interfaces here: Poller, Socket, Listener, Stack and Clock. Production uses
// msgr/netio/epoll (Linux epoll and nonblocking sockets) and SystemClock; the simulator uses
// simnet, a seeded virtual network with a virtual clock. Nothing above this package imports
// either implementation, and msgr/netio/netiotest runs one conformance suite against both.
//
// Errors are errno values (ErrWouldBlock is EAGAIN, ErrRefused is ECONNREFUSED, …) so the
// connection code has a single error path in both worlds; compare with errors.Is.
package netio
