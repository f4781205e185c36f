package simnet

import (
	"fmt"
	"math/bits"
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
	// Reset delivered bytes to a socket that was closed, or made the first delivery of a
	// connection established under ConnectResetAfterAccept: they were dropped and the
	// connection was reset (RST set; Bytes is what was in flight in that direction).
	Reset
	// Hang decided a connect attempt under ConnectHang: it was parked, and stays pending until
	// SetConnectFault is called again.
	Hang
)

var kindNames = [...]string{"?", "deliver", "establish", "refuse", "reset", "hang"}

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
	// Corrupt says a bit of one delivered byte was flipped (see Network.Corrupt); the byte's
	// stream offset is CorruptOffset.
	Corrupt       bool
	CorruptOffset uint64
}

// String renders the transfer for traces, e.g. "c3 deliver 10.0.0.1:40000>10.0.0.2:6789 512B",
// with " corrupt@<offset>" appended when a byte was corrupted.
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
	if t.Corrupt {
		fmt.Fprintf(&b, " corrupt@%d", t.CorruptOffset)
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
	n.touch(c)
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
// A stream can deliver when its oldest byte is due (written at least the connection's latency
// ago, plus jitter) and the receiver has room, or has shut down reading, or is closed (then
// the delivery resets the connection). A FIN can be delivered when it is due and all data
// before it was delivered. A connect attempt is decided one latency after Connect. Nothing is
// runnable on a clogged stream before the clog ends, nor on a partitioned one; a connect
// attempt waits for both directions (see the package documentation, Faults).
//
// The cost is O(connections with undelivered bytes or pending connects), and nothing when
// nothing changed since the last call.
func (n *Network) Runnable() int {
	n.refresh()
	return n.nrunnable
}

// NextEvent returns the earliest virtual time after Now at which a transfer that is waiting
// only for time becomes runnable (a latency-delayed delivery, FIN or connect attempt, or one
// held by a clog, which becomes runnable when the clog ends). It returns false if there is
// none. Transfers waiting for a reader to make room are not counted: only a Read can release
// them. Nor are transfers held by a partition or a hung connect: only Heal or
// SetConnectFault releases them.
func (n *Network) NextEvent() (time.Duration, bool) {
	n.refresh()
	return n.nextDue, n.hasNext
}

// Run performs the i-th runnable transfer (0 <= i < Runnable()) and returns what it did. A
// delivery moves a chunk drawn from the random source: everything deliverable with
// probability 1/2, otherwise a uniform count in [1, deliverable], where deliverable is the
// due bytes limited by the receiver's free buffer space (or what the Chunker chooses). i
// indexes the list as Runnable would return it now; Run panics if i is out of range.
func (n *Network) Run(i int) Transfer {
	n.refresh()
	if i < 0 || i >= n.nrunnable {
		panic(fmt.Sprintf("simnet: Run(%d) with %d runnable", i, n.nrunnable))
	}
	t := n.task(i)
	var tr Transfer
	t.c.held &^= heldClog<<(2*t.slot) | heldPart<<(2*t.slot)
	if t.slot == slotEstablish {
		tr = n.establish(t.c)
	} else {
		n.deliver(t.c, int(t.slot-slotClientToServer), &tr)
	}
	n.touch(t.c)
	n.stats.Transfers++
	if n.tracer != nil {
		n.tracer(tr)
	}
	return tr
}

// task returns the i-th runnable transfer (0 <= i < nrunnable): connections in id order, and
// within one its tasks in slot order.
func (n *Network) task(i int) task {
	for _, c := range n.active {
		k := bits.OnesCount8(c.tasks)
		if i >= k {
			i -= k
			continue
		}
		t := c.tasks
		for range i {
			t &= t - 1 // drop the lowest slot
		}
		return task{c: c, slot: uint8(bits.TrailingZeros8(t))}
	}
	panic("simnet: runnable count out of step with the active connections")
}

// touch makes the next refresh scan c again: something its transfers depend on changed.
func (n *Network) touch(c *conn) {
	n.dirty = true
	if !c.queued {
		c.queued = true
		n.touched = append(n.touched, c)
	}
}

// touchAll makes the next refresh scan every active connection again (faults changed).
func (n *Network) touchAll() {
	n.allStale = true
	n.dirty = true
}

// never is a time no clock reaches.
const never = time.Duration(1<<63 - 1)

// refresh brings the runnable list and the next event up to date if anything changed since
// the last computation, dropping idle connections from the active list on the way. Only the
// connections touched since (something they depend on changed) and those whose wake time came
// (the clock reached a time their last scan compared with it) are scanned again: the others'
// scans would find the same, and count no new hold. The result is what scanning every active
// connection finds (checkScans checks it).
func (n *Network) refresh() {
	now := n.now()
	if !n.dirty && n.cacheNow == now {
		return
	}
	if n.allStale {
		n.rescanAll(now)
	} else {
		n.rescanChanged(now)
	}
	n.dirty = false
	n.allStale = false
	n.cacheNow = now
	if n.checkScans {
		n.checkAll(now)
	}
}

// rescanAll scans every active connection and rebuilds the runnable list and the time heaps.
func (n *Network) rescanAll(now time.Duration) {
	for _, c := range n.touched {
		c.queued = false
	}
	clear(n.touched)
	n.touched = n.touched[:0]
	n.nrunnable = 0
	clear(n.wakes)
	n.wakes = n.wakes[:0]
	clear(n.futs)
	n.futs = n.futs[:0]
	keep := n.active[:0]
	for _, c := range n.active {
		n.scanConn(c, now)
		if !c.pend {
			c.forget()
			continue
		}
		keep = append(keep, c)
		n.nrunnable += bits.OnesCount8(c.tasks)
		if c.wake < never {
			n.wakes.push(timeOf{c.wake, c})
		}
		if c.hasFut {
			n.futs.push(timeOf{c.fut, c})
		}
	}
	clear(n.active[len(keep):])
	n.active = keep
	n.nextFut()
}

// rescanChanged scans the touched connections and those whose wake time came, and updates
// the runnable list, the active list and the time heaps for them.
func (n *Network) rescanChanged(now time.Duration) {
	for len(n.wakes) > 0 && n.wakes[0].t <= now {
		w := n.wakes.pop()
		if w.c.active && w.c.wake == w.t {
			n.touch(w.c)
		}
	}
	for i, c := range n.touched {
		n.touched[i] = nil
		c.queued = false
		if !c.active {
			continue
		}
		oldTasks, oldWake, oldFut, oldHas := c.tasks, c.wake, c.fut, c.hasFut
		n.scanConn(c, now)
		if c.tasks != oldTasks {
			n.nrunnable += bits.OnesCount8(c.tasks) - bits.OnesCount8(oldTasks)
		}
		if !c.pend {
			c.forget()
			n.removeActive(c)
			continue
		}
		if c.wake < never && c.wake != oldWake {
			n.wakes.push(timeOf{c.wake, c})
		}
		if c.hasFut && (!oldHas || c.fut != oldFut) {
			n.futs.push(timeOf{c.fut, c})
		}
	}
	n.touched = n.touched[:0]
	n.nextFut()
}

// forget clears the scan of c, which has no pending work and leaves the active list: its
// times in the heaps become stale, and its next scan pushes its times again.
func (c *conn) forget() {
	c.active, c.tasks, c.wake, c.hasFut, c.fut = false, 0, never, false, 0
}

// nextFut sets the next event from the heap of future times, dropping stale entries.
func (n *Network) nextFut() {
	for len(n.futs) > 0 {
		f := n.futs[0]
		if f.c.active && f.c.hasFut && f.c.fut == f.t {
			n.nextDue, n.hasNext = f.t, true
			return
		}
		n.futs.pop()
	}
	n.nextDue, n.hasNext = 0, false
}

// appendTasks appends c's runnable transfers, in slot order, to dst.
func (c *conn) appendTasks(dst []task) []task {
	for slot := uint8(slotEstablish); slot <= slotServerToClient; slot++ {
		if c.tasks&(1<<slot) != 0 {
			dst = append(dst, task{c: c, slot: slot})
		}
	}
	return dst
}

// removeActive takes c out of the active list.
func (n *Network) removeActive(c *conn) {
	a := n.active
	lo, hi := 0, len(a)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if a[mid].id < c.id {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(a) && a[lo] == c {
		copy(a[lo:], a[lo+1:])
		a[len(a)-1] = nil
		n.active = a[:len(a)-1]
	}
}

// scanConn finds c's runnable transfers, its earliest future one and whether it has pending
// work, and keeps them in c.
func (n *Network) scanConn(c *conn, now time.Duration) {
	c.tasks, c.hasFut, c.fut, c.wake = 0, false, 0, never
	c.pend = n.scanConnWork(c, now)
}

// checkAll panics unless the kept lists are what scanning every active connection finds now
// (checkScans): the same scans (and no new hold), runnable transfers and next event.
func (n *Network) checkAll(now time.Duration) {
	var want []task
	var next time.Duration
	has := false
	for _, c := range n.active {
		if !c.active {
			panic(fmt.Sprintf("simnet: c%d listed as active but not marked", c.id))
		}
		kept, stats, held := *c, n.stats, c.held
		n.scanConn(c, now)
		if c.tasks != kept.tasks || c.pend != kept.pend || c.hasFut != kept.hasFut || c.fut != kept.fut || c.wake != kept.wake || n.stats != stats || c.held != held {
			panic(fmt.Sprintf("simnet: c%d at %v: kept scan (tasks %b, pending %v, future %v %v) differs from a new one (tasks %b, pending %v, future %v %v, stats changed %v)",
				c.id, now, kept.tasks, kept.pend, kept.hasFut, kept.fut, c.tasks, c.pend, c.hasFut, c.fut, n.stats != stats || c.held != held))
		}
		want = c.appendTasks(want)
		if c.hasFut && (!has || c.fut < next) {
			next, has = c.fut, true
		}
	}
	if len(want) != n.nrunnable || has != n.hasNext || next != n.nextDue {
		panic(fmt.Sprintf("simnet: at %v kept %d runnable, next %v %v; a scan finds %d, next %v %v", now, n.nrunnable, n.hasNext, n.nextDue, len(want), has, next))
	}
	for i, t := range want {
		if n.task(i) != t {
			panic(fmt.Sprintf("simnet: at %v runnable transfer %d is c%d/%d, a scan finds c%d/%d", now, i, n.task(i).c.id, n.task(i).slot, t.c.id, t.slot))
		}
	}
}

// timeOf is a connection's wake or future time in a heap.
type timeOf struct {
	t time.Duration
	c *conn
}

// timeHeap is a binary min-heap of times; entries whose connection moved on are left in it
// and dropped when they reach the top.
type timeHeap []timeOf

func (h *timeHeap) push(x timeOf) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].t <= s[i].t {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *timeHeap) pop() timeOf {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = timeOf{}
	s = s[:last]
	for i := 0; ; {
		c := 2*i + 1
		if c >= len(s) {
			break
		}
		if c+1 < len(s) && s[c+1].t < s[c].t {
			c++
		}
		if s[i].t <= s[c].t {
			break
		}
		s[i], s[c] = s[c], s[i]
		i = c
	}
	*h = s
	return top
}

// scanConnWork lists c's runnable transfers and reports whether c has any pending work.
func (n *Network) scanConnWork(c *conn, now time.Duration) bool {
	switch c.state {
	case connecting:
		if c.hung {
			return false // Listed again by SetConnectFault.
		}
		c.linkFaults()
		if c.blocked[0] || c.blocked[1] {
			n.hold(c, slotEstablish, heldPart, c.estDue, now)
			return true
		}
		n.considerClogged(c, slotEstablish, c.estDue, max(c.clogged[0], c.clogged[1]), now)
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
	var due time.Duration
	switch {
	case st.out.n > 0:
		due = st.segs.headDue()
		if due <= now && !n.canReceive(c.ends[1-i], st) {
			return true // Only a Read can release it.
		}
	case st.fin && !st.eof:
		due = st.finDue
	default:
		return false
	}
	c.linkFaults()
	if c.blocked[i] {
		n.hold(c, slot, heldPart, due, now)
		return true
	}
	n.considerClogged(c, slot, due, c.clogged[i], now)
	return true
}

// considerClogged lists a transfer due at due on a link clogged until until: runnable once
// both times passed, else a future event at the later one. A transfer due now but held by
// the clog is counted in Stats.Clogged, once until it runs.
func (n *Network) considerClogged(c *conn, slot uint8, due, until, now time.Duration) {
	c.watch(due, now)
	c.watch(until, now)
	if until > now && due <= now {
		n.hold(c, slot, heldClog, due, now)
	}
	n.consider(c, slot, max(due, until), now)
}

// hold counts, once until it runs, a transfer due now but held back by a fault of kind bit.
func (n *Network) hold(c *conn, slot uint8, bit uint8, due, now time.Duration) {
	c.watch(due, now)
	b := bit << (2 * slot)
	if due > now || c.held&b != 0 {
		return
	}
	c.held |= b
	if bit == heldClog {
		n.stats.Clogged++
	} else {
		n.stats.Partitioned++
	}
}

// consider lists a transfer that depends only on time: runnable if due, else a future event.
func (n *Network) consider(c *conn, slot uint8, due, now time.Duration) {
	if due <= now {
		c.tasks |= 1 << slot
		return
	}
	c.watch(due, now)
	if !c.hasFut || due < c.fut {
		c.fut, c.hasFut = due, true
	}
}

// watch notes that c's scan compared t with now: the scan must be made again when the
// clock reaches t.
func (c *conn) watch(t, now time.Duration) {
	if t > now && t < c.wake {
		c.wake = t
	}
}

// canReceive reports whether data on st can move to to now.
func (n *Network) canReceive(to *Socket, st *stream) bool {
	return to.closed || to.rdShut || st.in.n < n.cfg.RecvBuf
}

// establish decides the connect attempt of c: first the connect fault, if a fault function
// is set, then the listener bound now at its target.
func (n *Network) establish(c *conn) Transfer {
	cl := c.ends[client]
	tr := Transfer{Kind: Establish, Conn: c.id, From: cl.local, To: cl.remote}
	fault := ConnectOK
	if n.connectFault != nil {
		fault = n.connectFault(cl.local, cl.remote)
	}
	switch fault {
	case ConnectHang:
		c.hung = true
		n.hung = append(n.hung, c)
		n.stats.ConnectHung++
		tr.Kind = Hang
		return tr
	case ConnectRefuse:
		n.stats.ConnectRefusedInjected++
		return n.refuse(c, tr)
	}
	l := n.listenerFor(cl.remote)
	if l == nil || len(l.queue) >= l.backlog {
		return n.refuse(c, tr)
	}
	srv := n.newSocket()
	*srv = Socket{host: l.host, local: cl.remote, remote: cl.local}
	srv.join(c, server)
	c.ends[server] = srv
	c.state = open
	c.resetOnDeliver = fault == ConnectResetAfterAccept
	l.enqueue(srv)
	n.stats.Established++
	cl.notify()
	return tr
}

func (n *Network) refuse(c *conn, tr Transfer) Transfer {
	c.state = refused
	n.stats.Refused++
	tr.Kind = Refuse
	c.ends[client].notify()
	return tr
}

// deliver performs the next delivery of c.streams[i]: a FIN, a chunk of data, or a reset if
// data reaches a closed receiver or the connection was established under
// ConnectResetAfterAccept.
func (n *Network) deliver(c *conn, i int, tr *Transfer) {
	st := &c.streams[i]
	from, to := c.ends[i], c.ends[1-i]
	tr.Kind, tr.Conn, tr.From, tr.To = Deliver, c.id, from.local, from.remote
	switch {
	case c.resetOnDeliver || (to.closed && st.out.n > 0):
		tr.Kind, tr.RST, tr.Bytes = Reset, true, st.out.n
		c.reset()
	case st.out.n == 0:
		st.eof = true
		tr.FIN = true
		c.notifyEnds()
	case to.rdShut:
		tr.Bytes = n.chunkOp(c, i, OpDeliver, st.dlv, st.segs.ready(n.now()))
		n.moved(st, from, nil, tr.Bytes)
	default:
		ready := st.segs.ready(n.now())
		tr.Bytes = n.chunkOp(c, i, OpDeliver, st.dlv, min(ready, n.cfg.RecvBuf-st.in.n))
		if len(st.corrupt) > 0 {
			tr.Bytes = n.corruptChunk(st, tr.Bytes, tr)
		}
		n.moved(st, from, to, tr.Bytes)
	}
}

// moved moves k >= 1 due bytes of st out of the send buffer, into the receive buffer of to
// (or discarded, for a nil to), and brings the readiness of the ends up to date where it can
// change: the sender's if its send buffer was full (writable again), the receiver's if its
// receive buffer was empty (readable now). Nothing else of either end's readiness depends
// on it.
func (n *Network) moved(st *stream, from, to *Socket, k int) {
	wasFull := st.out.n >= n.cfg.SendBuf
	wasEmpty := st.in.n == 0
	if to == nil {
		st.discardOut(k, &n.pool)
	} else {
		st.deliverBytes(k)
	}
	st.segs.consume(k)
	st.dlv += uint64(k)
	n.stats.BytesDelivered += uint64(k)
	if wasFull {
		from.notify()
	}
	if to != nil && wasEmpty {
		to.notify()
	}
}
