// Package proto is ProtocolV1 without I/O: the per-connection state machine of Ceph's
// AsyncMessenger (msgr1) and the accept side's decision table.
//
// A Conn consumes received bytes and produces bytes to write; it never touches a socket, a
// clock or a goroutine. Its driver (package msgr, or a test, or a fuzzer) does the I/O:
//
//	for {
//		buf := c.ReadBuf()        // nil: not reading now (throttled, handshake decision, closed)
//		n := read(socket, buf)
//		c.Received(n)             // parses, may call Host.Deliver, Host.Event, …
//		n = writev(socket, c.Output())
//		c.Wrote(n)
//		if at, ok := c.NextDeadline(); ok { arm a timer that calls c.Tick() at at }
//	}
//
// Per message the driver pays few calls: Send (or SendBatch for a batch of messages) queues,
// one Output encodes every due message, TakeWritten says how many, and the acknowledged ones
// come back per ACK (AckObserver.Acked with the covered run).
//
// Everything else the core needs — time, randomness, a new socket, the messenger's registry
// and policies, delivering a message, reporting an event — goes through the Host interface,
// called synchronously. States carry Ceph's names (ProtocolV1.h) so every transition maps onto
// Ceph's code; Decide is the accept-side table of msgr1-protocol.md §3.2 as a pure function.
//
// Reading is "need exactly N bytes, then continue with a handler", tolerant of any chunking;
// large payload sections are read in place. Writing goes through an output batch (writev
// iovecs) that tolerates any short write. Where Ceph crashes or stalls (msgr1-protocol.md §10,
// quirks Q1–Q10), this core faults the connection cleanly instead; the comments at each site
// name the quirk.
//
// Rare paths (races, replaces, resends, old messages, throttle stalls, timeouts, each reply
// tag) are named probes (Probe), reported to a Host that implements Reacher — the simulator's,
// which counts them against its reachability goals; other hosts pay a nil check.
package proto
