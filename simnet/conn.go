package simnet

import (
	"time"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

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
	// buf holds the stream's bytes in order: first those in the receiver's receive buffer
	// (in: delivered, not yet read), then those in the sender's send buffer (out: written,
	// not yet delivered). A delivery moves the boundary, not the bytes.
	buf     byteQueue
	in, out span
	segs    segQueue      // when the bytes in out become deliverable
	lastDue time.Duration // due time of the newest segment or FIN, to keep the stream in order
	fin     bool          // the sender shut down writing: a FIN follows the data
	finDue  time.Duration // when the FIN becomes deliverable
	eof     bool          // the FIN was delivered: the receiver reads EOF once in is drained
	written uint64        // bytes accepted by Writev so far (the offset of the next one)
	dlv     uint64        // bytes delivered or discarded so far (the offset of out's first byte)
	corrupt []corruption  // pending Corrupt requests, by offset (then in request order)
}

// corruption is a pending Corrupt: flip bit of the first byte delivered at offset >= off.
type corruption struct {
	off uint64
	bit uint8
}

// due returns when bytes written now become deliverable: after the latency, and never before
// anything already queued, so the stream stays in order.
func (st *stream) due(now, latency time.Duration) time.Duration {
	d := max(now+latency, st.lastDue)
	st.lastDue = d
	return d
}

// span is a part of a stream's buf: n bytes.
type span struct{ n int }

// readOff is the stream offset of the first byte in the receive buffer.
func (st *stream) readOff() uint64 { return st.dlv - uint64(st.in.n) }

// write appends the first k bytes of bufs to the send buffer.
func (st *stream) write(bufs [][]byte, k int, pool *chunkPool) {
	st.buf.writev(bufs, k, pool)
	st.out.n += k
}

// deliverBytes moves the first k bytes of the send buffer to the receive buffer.
func (st *stream) deliverBytes(k int) {
	st.out.n -= k
	st.in.n += k
}

// discardOut drops the first k bytes of the send buffer; the receive buffer must be empty
// (the receiver shut down reading, which emptied it, and nothing is delivered into it since).
func (st *stream) discardOut(k int, pool *chunkPool) {
	if st.in.n != 0 {
		panic("simnet: discarding undelivered bytes behind unread ones")
	}
	st.buf.discard(k, pool)
	st.out.n -= k
}

// read moves the first len(p) bytes of the receive buffer (len(p) <= in.n) into p.
func (st *stream) read(p []byte, pool *chunkPool) {
	st.buf.read(p, pool)
	st.in.n -= len(p)
}

// clearIn empties the receive buffer.
func (st *stream) clearIn(pool *chunkPool) {
	st.buf.discard(st.in.n, pool)
	st.in.n = 0
}

// outAt is the i-th byte of the send buffer (i < out.n).
func (st *stream) outAt(i int) *byte { return st.buf.at(st.in.n + i) }

// drop loses every undelivered byte and the FIN; the receive buffer is kept.
func (st *stream) drop(pool *chunkPool) {
	st.buf.truncate(st.in.n, pool)
	st.out.n = 0
	st.segs.clear()
	st.corrupt = nil
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
	latency time.Duration // one-way latency: Config.Latency plus this connection's spread

	// Faults.
	hung           bool // parked by ConnectHang until SetConnectFault is called again
	resetOnDeliver bool // ConnectResetAfterAccept: the first delivery resets instead
	held           uint8
	epoch          uint64           // Network.epoch+1 when blocked and clogged were computed
	blocked        [2]bool          // stream i's direction is partitioned
	clogged        [2]time.Duration // stream i is clogged until then

	// The last scan of c (see Network.refresh), valid until c is touched or the clock reaches
	// wake: which transfers were runnable (bit slot), whether c had pending work, and the
	// earliest future time of a transfer (when hasFut).
	queued bool // in Network.touched
	tasks  uint8
	pend   bool
	hasFut bool
	fut    time.Duration
	wake   time.Duration // the earliest time after the scan that a scan compared with now
}

// held bits: a transfer found due but held back, counted once in Stats until it runs.
const (
	heldClog = 1 << iota
	heldPart
)

func (n *Network) newConn() *conn {
	n.nextConn++
	if len(n.connBuf) == cap(n.connBuf) {
		n.connBuf = make([]conn, 0, blockSize(cap(n.connBuf)))
	}
	n.connBuf = n.connBuf[:len(n.connBuf)+1]
	c := &n.connBuf[len(n.connBuf)-1]
	c.id, c.net = n.nextConn, n
	if n.live = max(n.live, 32); len(n.conns) >= 2*n.live {
		n.pruneConns()
	}
	n.conns = append(n.conns, c)
	return c
}

// pruneConns drops connections that are no longer live from n.conns.
func (n *Network) pruneConns() {
	keep := n.conns[:0]
	for _, c := range n.conns {
		if c.live() {
			keep = append(keep, c)
		}
	}
	clear(n.conns[len(keep):])
	n.conns = keep
	n.live = len(keep)
}

// lookup returns the live connection with the given id, or nil.
func (n *Network) lookup(id uint64) *conn {
	lo, hi := 0, len(n.conns)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if n.conns[mid].id < id {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(n.conns) && n.conns[lo].id == id && n.conns[lo].live() {
		return n.conns[lo]
	}
	return nil
}

// live reports whether c can still do anything: a connect pending, or established and not
// closed at both ends.
func (c *conn) live() bool {
	switch c.state {
	case connecting:
		return true
	case open:
		srv := c.ends[server]
		return !c.ends[client].closed || srv == nil || !srv.closed
	}
	return false
}

// reset drops every byte buffered or in flight in both directions and makes both ends fail
// with ECONNRESET. Resetting twice is a no-op.
func (c *conn) reset() {
	c.abort([2]bool{}, [2]error{netio.ErrReset, netio.ErrReset}, [2]error{netio.ErrReset, netio.ErrReset})
}

// abort resets c: every byte in flight in both directions is lost. End i keeps the bytes
// already in its receive buffer if keep[i] (its reads return them before failing), then its
// reads fail with rdErr[i] and its writes with wrErr[i]. Aborting twice is a no-op.
func (c *conn) abort(keep [2]bool, rdErr, wrErr [2]error) {
	if c.state == resetState {
		return
	}
	n := c.net
	c.state = resetState
	for i := range 2 {
		st := &c.streams[i] // Received by end 1-i.
		st.drop(&n.pool)
		if !keep[1-i] {
			st.clearIn(&n.pool)
		}
		if s := c.ends[i]; s != nil {
			s.keepIn, s.rdErr, s.wrErr = keep[i], rdErr[i], wrErr[i]
		}
	}
	n.stats.Resets++
	n.touch(c)
	c.notifyEnds()
}

// linkFaults brings c.blocked and c.clogged up to date with the network's partitions and
// clogs. They are recomputed only when those changed (Network.epoch), so scheduling pays
// nothing for faults when none are set.
func (c *conn) linkFaults() {
	n := c.net
	if c.epoch == n.epoch+1 {
		return
	}
	c.epoch = n.epoch + 1
	a, b := c.ends[client].local.Addr(), c.ends[client].remote.Addr()
	c.blocked = [2]bool{n.Blocked(a, b), n.Blocked(b, a)}
	c.clogged = [2]time.Duration{n.clogUntil(a, b), n.clogUntil(b, a)}
}

// notifyEnds brings the poller readiness of both ends up to date.
func (c *conn) notifyEnds() {
	for _, s := range c.ends {
		if s != nil {
			s.notify()
		}
	}
}
