package simnet

import "time"

// Sides of a connection: the end that connected and the end a listener accepted.
const (
	client = 0
	server = 1
)

// connState is the life cycle of a connection.
type connState uint8

const (
	connecting connState = iota // the Establish transfer has not run yet
	open                        // established; bytes flow (until both FINs are delivered)
	refused                     // the connect attempt was refused
	resetState                  // reset: every buffered and in-flight byte was dropped
	aborted                     // the client closed while connecting
)

// stream is one direction of a connection: the bytes one end wrote that the other has not
// read yet, in two stages.
type stream struct {
	out     byteQueue     // written, not yet delivered: the sender's send buffer
	segs    segQueue      // when the bytes in out become deliverable
	in      byteQueue     // delivered, not yet read: the receiver's receive buffer
	lastDue time.Duration // due time of the newest segment or FIN, to keep the stream in order
	fin     bool          // the sender shut down writing: a FIN follows the data
	finDue  time.Duration // when the FIN becomes deliverable
	eof     bool          // the FIN was delivered: the receiver reads EOF once in is drained
}

// due returns when bytes written now become deliverable: after the latency, and never before
// anything already queued, so the stream stays in order.
func (st *stream) due(now, latency time.Duration) time.Duration {
	d := max(now+latency, st.lastDue)
	st.lastDue = d
	return d
}

func (st *stream) clear(pool *chunkPool) {
	st.out.clear(pool)
	st.segs.clear()
	st.in.clear(pool)
}

// conn is one simulated TCP connection.
type conn struct {
	id      uint64
	net     *Network
	state   connState
	estDue  time.Duration // when the connect attempt is decided
	ends    [2]*Socket    // client, server (nil until established)
	streams [2]stream     // streams[i] flows from ends[i] to ends[1-i]
	active  bool          // listed in Network.active
}

func (n *Network) newConn() *conn {
	n.nextConn++
	return &conn{id: n.nextConn, net: n}
}

// reset drops every byte buffered or in flight in both directions and makes both ends fail
// with ECONNRESET. Resetting twice is a no-op.
func (c *conn) reset() {
	if c.state == resetState {
		return
	}
	n := c.net
	c.state = resetState
	c.streams[0].clear(&n.pool)
	c.streams[1].clear(&n.pool)
	n.stats.Resets++
	n.dirty = true
	c.notifyEnds()
}

// notifyEnds brings the poller readiness of both ends up to date.
func (c *conn) notifyEnds() {
	for _, s := range c.ends {
		if s != nil {
			notify(s)
		}
	}
}
