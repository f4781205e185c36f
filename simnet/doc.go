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
// Bytes written at virtual time t are deliverable from t+L+j, where L is the connection's
// latency (Config.Latency plus an extra drawn once per connection, at Connect, uniformly in
// [0, Config.LatencySpread]) and j a jitter drawn per Writev (and per FIN) uniformly in
// [0, Config.Jitter]; but never before the bytes written earlier on the same stream, so
// bytes within a stream stay in order (that is TCP). Nothing else is ordered: the simulator
// may run the transfers of different connections in any order.
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
// A Chunker (Network.SetChunker) takes over these choices: it is told the stream (StreamID:
// connection and Dir), the operation (OpWrite, OpDeliver, OpRead), the stream offset where
// the operation starts and how many bytes are possible, and returns the chunk size, so the
// simulator can aim byte boundaries at chosen offsets (for example, split every header). An
// Observer (Network.SetObserver) sees every byte accepted by Writev, per stream, in order,
// before it can be delivered, so a checker knows exactly what each stream carries.
//
// # Scheduling
//
// Network.Runnable lists the transfers that can run now, in a fixed order (connection id, then
// connect attempt, client-to-server, server-to-client); Network.Run performs one of them;
// Network.NextEvent tells when the next latency-delayed transfer becomes due, so the
// simulator can advance the Clock. Transfers are: Deliver (data or FIN), Establish and Refuse
// (a connect attempt decided), Hang (a connect attempt parked by a connect fault), Reset
// (data reached a closed socket, or a connection doomed by a connect fault). The cost of
// Runnable is proportional to the connections with work pending (including work held back
// by clogs and partitions), not to all connections.
//
// # Connections
//
// Connect returns at once with EINPROGRESS; the attempt is decided one latency later (the
// connection's: Config.Latency plus its spread) by a transfer, unless a fault holds it. If a listener is bound at the target address and its backlog has room, the
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
// Without help the network injects short writes, partial deliveries, short reads, latency,
// refused connects (no listener or a full backlog) and the resets that follow from Close.
// The simulator injects the rest by calling the primitives below, when its own seed says so;
// simnet applies them deterministically and draws nothing for them. Stats counts them.
//
// Latency spread and jitter (Config.LatencySpread, Config.Jitter) vary the delay per
// connection and per write, as described under Model; a stream is never reordered.
//
// Clogs (Network.Clog, Unclog) hold back every stream from hosts matching from to hosts
// matching to (an invalid address matches any host) until a virtual time: nothing is
// delivered on it before then, data, FIN or the reset of data reaching a closed socket; the
// bytes stay queued, so writers fill their send buffers and see EAGAIN. A stream matching
// several clogs waits for the latest until. A connect attempt waits until neither direction
// is clogged. NextEvent reports when a clogged transfer becomes runnable, so time can jump
// there.
//
// Partitions (Network.Partition, Isolate, Heal, Blocked) block directions: Partition(a, b)
// blocks a→b only; Isolate(h) blocks every direction to and from h except loopback. A blocked
// stream delivers nothing, as if every packet were lost while TCP keeps retransmitting: the
// bytes stay queued and flow again, complete and in order, after Heal. A connect attempt
// between hosts blocked in either direction hangs until Heal; the connector's own timeout
// ends it. NextEvent ignores held transfers: only Heal releases them. Heal also removes
// every clog.
//
// Resets (Network.Reset) abort one live connection at once, losing every byte in flight in
// both directions, in one of three ways (ResetHow): ResetBoth, an RST at both ends (reads
// and writes fail with ECONNRESET, receive buffers dropped); ResetSend, the given end's
// outgoing path failing (its writes fail with EPIPE; both ends read what they had received,
// then ECONNRESET; the peer's writes fail with ECONNRESET); ResetRecv, the given end's
// incoming path failing (its reads and writes fail with ECONNRESET at once, its receive
// buffer dropped; the peer reads what it had received, then ECONNRESET, and its writes fail
// with EPIPE). Both ends' pollers report the error at once, so neither end can hang
// silently. Resetting a connect attempt not yet decided refuses it. Network.Conns lists the
// live connections, to choose from.
//
// Connect faults (Network.SetConnectFault) are decided by a function of the simulator's,
// called once per attempt when its Establish transfer runs: ConnectOK; ConnectRefuse
// (ECONNREFUSED even though a listener has room); ConnectHang (a Hang transfer parks the
// attempt, which is never decided until SetConnectFault is called again; the connector's
// timeout ends it); ConnectResetAfterAccept (established and queued on the listener as
// usual, but the first delivery on either stream, data or FIN, resets the connection
// instead, so both ends get ECONNRESET once anyone writes or shuts down).
//
// Corruption (Network.Corrupt) flips one given bit of the next byte delivered on a stream at
// or after a given offset. The Deliver transfer carrying it reports Corrupt and
// CorruptOffset; the reader sees the flipped byte, the Observer saw the original. A delivery
// carries at most one corrupted byte.
//
// Crashes (Host.Crash) make every socket and listener of a host vanish at once: every live
// connection with an end there is reset (the peers get ECONNRESET; bytes in flight are
// lost), connect attempts from the host are abandoned, its descriptors are closed (EBADF)
// and its pollers report nothing. A restart is Network.RemoveHost then AddHost with the same
// IP: the new host starts with fresh descriptors and takes ephemeral ports after the old
// one's.
//
// # Determinism
//
// Everything runs on the caller's goroutine; there are no goroutines, channels, locks or real
// time in this package. Every random choice is drawn from the one *detrand.Rand, in the order
// of the API calls that need it (Connect for the latency spread, Writev, Shutdown and Close
// for jitter, Read and Run, and only when there is a choice to make and no Chunker makes it).
// Maps serve lookups only and are never iterated; every ordered collection is a slice kept in
// creation or descriptor order.
package simnet
