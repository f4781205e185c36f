package simnet

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// TransferKind says what a Transfer did.
type TransferKind uint8

// Transfer kinds.
const (
	// Deliver moved bytes from a sender's send buffer to the receiver's receive buffer, or
	// (FIN set, Bytes 0) delivered the sender's FIN after all its data.
	Deliver TransferKind = iota + 1
	// Establish decided a connect attempt: a listener accepted it into its queue.
	Establish
	// Refuse decided a connect attempt: no listener, or its backlog was full.
	Refuse
	// Reset delivered bytes to a socket that was closed: they were dropped and the
	// connection was reset (RST set; Bytes is what was in flight in that direction).
	Reset
)

var kindNames = [...]string{"?", "deliver", "establish", "refuse", "reset"}

// String returns the lower-case name of the kind.
func (k TransferKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Transfer is one step the network performed, as returned by Run.
type Transfer struct {
	Kind TransferKind
	Conn uint64         // connection id, counting from 1 in the order of Connect calls
	From netip.AddrPort // sending end (the client for Establish and Refuse)
	To   netip.AddrPort // receiving end (the address connected to for Establish and Refuse)
	// Bytes is how many bytes were delivered (Deliver) or dropped (Reset).
	Bytes int
	FIN   bool // the sender's FIN was delivered
	RST   bool // the connection was reset
}

// String renders the transfer for traces, e.g. "c3 deliver 10.0.0.1:40000>10.0.0.2:6789 512B".
func (t Transfer) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "c%d %v %v>%v", t.Conn, t.Kind, t.From, t.To)
	if t.Bytes > 0 {
		fmt.Fprintf(&b, " %dB", t.Bytes)
	}
	if t.FIN {
		b.WriteString(" FIN")
	}
	if t.RST {
		b.WriteString(" RST")
	}
	return b.String()
}

// Task slots within a connection, in the order Runnable lists them.
const (
	slotEstablish = iota
	slotClientToServer
	slotServerToClient
)

// task is one runnable transfer: a connection and what to do on it.
type task struct {
	c    *conn
	slot uint8
}

// activate lists c among the connections that may have work, keeping the list sorted by id.
// It is called whenever c gains pending work (a connect, written bytes, a FIN); connections
// are dropped from the list lazily, when a scan finds them idle.
func (n *Network) activate(c *conn) {
	n.dirty = true
	if c.active {
		return
	}
	c.active = true
	i := len(n.active)
	for i > 0 && n.active[i-1].id > c.id {
		i-- // Usually c is the newest connection and this loop does not run.
	}
	n.active = append(n.active, nil)
	copy(n.active[i+1:], n.active[i:])
	n.active[i] = c
}

// Runnable returns how many transfers can run now. They are numbered in a fixed order: by
// connection id (the order of Connect calls across the network), and within a connection
// the connect attempt, then the client-to-server stream, then the server-to-client stream.
// Each stream offers at most one transfer: its next delivery (or FIN, or reset).
//
// A stream can deliver when its oldest byte is due (written at least Config.Latency ago) and
// the receiver has room, or has shut down reading, or is closed (then the delivery resets the
// connection). A FIN can be delivered when it is due and all data before it was delivered.
// A connect attempt is decided Config.Latency after Connect.
//
// The cost is O(connections with undelivered bytes or pending connects), and nothing when
// nothing changed since the last call.
func (n *Network) Runnable() int {
	n.refresh()
	return len(n.runnable)
}

// NextEvent returns the earliest virtual time after Now at which a transfer that is waiting
// only for time becomes runnable (a latency-delayed delivery, FIN or connect attempt). It
// returns false if there is none. Transfers waiting for a reader to make room are not
// counted: only a Read can release them.
func (n *Network) NextEvent() (time.Duration, bool) {
	n.refresh()
	return n.nextDue, n.hasNext
}

// Run performs the i-th runnable transfer (0 <= i < Runnable()) and returns what it did. A
// delivery moves a chunk drawn from the random source: everything deliverable with
// probability 1/2, otherwise a uniform count in [1, deliverable], where deliverable is the
// due bytes limited by the receiver's free buffer space. i indexes the list as Runnable would
// return it now; Run panics if i is out of range.
func (n *Network) Run(i int) Transfer {
	n.refresh()
	if i < 0 || i >= len(n.runnable) {
		panic(fmt.Sprintf("simnet: Run(%d) with %d runnable", i, len(n.runnable)))
	}
	t := n.runnable[i]
	var tr Transfer
	if t.slot == slotEstablish {
		tr = n.establish(t.c)
	} else {
		tr = n.deliver(t.c, int(t.slot-slotClientToServer))
	}
	n.dirty = true
	n.stats.Transfers++
	if n.tracer != nil {
		n.tracer(tr)
	}
	return tr
}

// refresh recomputes the runnable list and the next event if anything changed since the
// last computation, dropping idle connections from the active list on the way.
func (n *Network) refresh() {
	now := n.now()
	if !n.dirty && n.cacheNow == now {
		return
	}
	clear(n.runnable)
	n.runnable = n.runnable[:0]
	n.nextDue, n.hasNext = 0, false
	keep := n.active[:0]
	for _, c := range n.active {
		if n.scanConn(c, now) {
			keep = append(keep, c)
		} else {
			c.active = false
		}
	}
	clear(n.active[len(keep):])
	n.active = keep
	n.dirty = false
	n.cacheNow = now
}

// scanConn lists c's runnable transfers and reports whether c has any pending work.
func (n *Network) scanConn(c *conn, now time.Duration) bool {
	switch c.state {
	case connecting:
		n.consider(c, slotEstablish, c.estDue, now)
		return true
	case open:
		a := n.scanStream(c, client, now)
		b := n.scanStream(c, server, now)
		return a || b
	}
	return false
}

// scanStream lists the next transfer of c.streams[i] if it can run now, and reports whether
// the stream has pending work.
func (n *Network) scanStream(c *conn, i int, now time.Duration) bool {
	st := &c.streams[i]
	slot := uint8(slotClientToServer + i)
	switch {
	case st.out.n > 0:
		due := st.segs.headDue()
		if due > now {
			n.future(due)
		} else if n.canReceive(c.ends[1-i], st) {
			n.runnable = append(n.runnable, task{c: c, slot: slot})
		}
		return true
	case st.fin && !st.eof:
		n.consider(c, slot, st.finDue, now)
		return true
	}
	return false
}

// consider lists a transfer that depends only on time: runnable if due, else a future event.
func (n *Network) consider(c *conn, slot uint8, due, now time.Duration) {
	if due <= now {
		n.runnable = append(n.runnable, task{c: c, slot: slot})
		return
	}
	n.future(due)
}

func (n *Network) future(due time.Duration) {
	if !n.hasNext || due < n.nextDue {
		n.nextDue, n.hasNext = due, true
	}
}

// canReceive reports whether data on st can move to to now.
func (n *Network) canReceive(to *Socket, st *stream) bool {
	return to.closed || to.rdShut || st.in.n < n.cfg.RecvBuf
}

// establish decides the connect attempt of c against the listener bound now at its target.
func (n *Network) establish(c *conn) Transfer {
	cl := c.ends[client]
	tr := Transfer{Kind: Establish, Conn: c.id, From: cl.local, To: cl.remote}
	l := n.listenerFor(cl.remote)
	if l == nil || len(l.queue) >= l.backlog {
		c.state = refused
		n.stats.Refused++
		tr.Kind = Refuse
		notify(cl)
		return tr
	}
	srv := &Socket{host: l.host, c: c, side: server, local: cl.remote, remote: cl.local}
	c.ends[server] = srv
	c.state = open
	l.enqueue(srv)
	n.stats.Established++
	notify(cl)
	return tr
}

// deliver performs the next delivery of c.streams[i]: a FIN, a chunk of data, or a reset if
// the receiver is closed.
func (n *Network) deliver(c *conn, i int) Transfer {
	st := &c.streams[i]
	from, to := c.ends[i], c.ends[1-i]
	tr := Transfer{Kind: Deliver, Conn: c.id, From: from.local, To: from.remote}
	switch {
	case st.out.n == 0:
		st.eof = true
		tr.FIN = true
	case to.closed:
		tr.Kind, tr.RST, tr.Bytes = Reset, true, st.out.n
		c.reset()
		return tr
	case to.rdShut:
		tr.Bytes = n.chunk(st.segs.ready(n.now(), st.out.n))
		st.out.discard(tr.Bytes, &n.pool)
	default:
		ready := st.segs.ready(n.now(), st.out.n)
		tr.Bytes = n.chunk(min(ready, n.cfg.RecvBuf-st.in.n))
		st.out.moveTo(&st.in, tr.Bytes, &n.pool)
	}
	st.segs.consume(tr.Bytes)
	n.stats.BytesDelivered += uint64(tr.Bytes)
	c.notifyEnds()
	return tr
}
