// Package simnet is a seeded, single-goroutine virtual TCP network: the simulation side of the
// msgr/netio seam. A Host implements netio.Stack, so the messenger runs on it unchanged; the
// simulator owns the Network and decides, step by step, which transfer happens next and when
// virtual time moves. Given the same seed (the *detrand.Rand passed to New) and the same
// sequence of calls, a Network behaves identically, byte for byte.
//
// # Model
//
// A Network holds hosts (one IP each), a virtual Clock and one random source. A connection
// has two streams, client-to-server and server-to-client. Each stream has two stages:
//
//	writer --Writev--> out (send buffer, Config.SendBuf) --Run: Deliver--> in (receive buffer,
//	Config.RecvBuf) --Read--> reader
//
// Bytes written at virtual time t are deliverable from t+Config.Latency, and bytes within a
// stream stay in order (that is TCP). Nothing else is ordered: the simulator may run the
// transfers of different connections in any order.
//
// # Chunking
//
// Every operation that moves bytes moves a chunk drawn from the random source: everything
// possible with probability 1/2, otherwise a uniform count in [1, possible]. Writev accepts a
// short prefix this way (possible = what fits in the send buffer; a full buffer gives
// EAGAIN), a Deliver moves a chunk of the due bytes that fit in the receiver's buffer, and
// Read returns a chunk of the buffered bytes. So short writes, partial deliveries and reads
// down to one byte all happen, as the seed decides.
//
// # Scheduling
//
// Network.Runnable lists the transfers that can run now, in a fixed order (connection id, then
// connect attempt, client-to-server, server-to-client); Network.Run performs one of them;
// Network.NextEvent tells when the next latency-delayed transfer becomes due, so the
// simulator can advance the Clock. Transfers are: Deliver (data or FIN), Establish and Refuse
// (a connect attempt decided), Reset (data reached a closed socket). The cost of Runnable is
// proportional to the connections with work pending, not to all connections.
//
// # Connections
//
// Connect returns at once with EINPROGRESS; the attempt is decided Config.Latency later by a
// transfer. If a listener is bound at the target address and its backlog has room, the
// server-side socket joins the accept queue and the client becomes connected; otherwise the
// client gets ECONNREFUSED. Close with unread input (buffered or in flight towards the
// socket) resets the connection: both directions lose every byte and the peer gets
// ECONNRESET. Otherwise Close sends a FIN after the remaining data, and data the peer sends
// afterwards resets the connection when it arrives, as in TCP. Closing a listener resets the
// connections in its accept queue.
//
// # Readiness
//
// A Poller belongs to one host and is level-triggered: readiness is computed from the
// buffers. A socket is readable when bytes are buffered, at EOF, after ShutRead, after a
// reset or a refused connect; writable when connected with room in its send buffer, after
// ShutWrite, after a reset or a refused connect. Errors and hang-ups are reported as
// Read|Write whatever the interest mask, as epoll reports them. A listener is readable while
// its accept queue is not empty. Each file knows the poller watching it and updates that
// poller's ready list when its state changes, so Wait and HasReady cost O(ready). Wait never
// blocks and ignores its timeout.
//
// # Descriptors and ports
//
// Descriptor numbers are per host, start at 3 and are never reused, so traces stay readable.
// An accepted socket gets its number from Accept. Client sockets take ephemeral ports counting
// up from 40000 per host; Listen with port 0 takes one too.
//
// # Faults
//
// Today the network injects short writes, partial deliveries, short reads, latency, refused
// connects (no listener or a full backlog) and the resets that follow from Close. Resets at
// arbitrary points, partitions, clogged links, hanging connects, byte corruption and process
// crashes are planned, driven by the same random source.
//
// # Determinism
//
// Everything runs on the caller's goroutine; there are no goroutines, channels, locks or real
// time in this package. Every random choice is drawn from the one *detrand.Rand, in the order
// of the API calls that need it (Writev, Read and Run, and only when there is a choice to make).
// Maps serve lookups only and are never iterated; every ordered collection is a slice kept in
// creation or descriptor order.
package simnet
