package simnet

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// Fault primitives. The simulator decides when to call them, from its own seed; the network
// applies them deterministically and draws nothing from its random source for them. See the
// package documentation (Faults) for the semantics in one place.

// ---- Clogs and partitions ----

// clog holds back the streams from hosts matching from to hosts matching to until until.
type clog struct {
	from, to netip.Addr // invalid: any host
	until    time.Duration
}

// link is a blocked direction; an invalid address matches any host.
type link struct{ from, to netip.Addr }

// matchIP reports whether ip matches pattern, where an invalid pattern matches any address.
func matchIP(pattern, ip netip.Addr) bool { return !pattern.IsValid() || pattern == ip }

// faultsChanged makes every connection recompute its clogs and partitions at its next scan.
func (n *Network) faultsChanged() {
	n.epoch++
	n.touchAll()
}

// Clog holds back every stream from a host matching from to a host matching to: nothing is
// delivered on it (data, FIN, or the reset that data arriving at a closed socket causes)
// before virtual time until. The bytes stay queued, so writers fill their send buffer and
// then see EAGAIN, as usual; at until the stream flows again, and NextEvent reports until
// for a clogged stream with a transfer due. A connect attempt between matching hosts, in
// either direction, is decided only when both directions are unclogged. An invalid (zero)
// from or to matches every host; loopback streams (from == to) match like any other.
//
// Several clogs may match one stream: it is held until the latest of their untils. Clog with
// the same from and to as an existing clog keeps the later until of the two (to shorten a
// clog, Unclog it first). A clog whose until has passed has no effect.
func (n *Network) Clog(from, to netip.Addr, until time.Duration) {
	from, to = from.Unmap(), to.Unmap()
	n.clogs = slices.DeleteFunc(n.clogs, func(c clog) bool { return c.until <= n.now() }) // Expired.
	for i := range n.clogs {
		if c := &n.clogs[i]; c.from == from && c.to == to {
			c.until = max(c.until, until)
			n.faultsChanged()
			return
		}
	}
	n.clogs = append(n.clogs, clog{from: from, to: to, until: until})
	n.faultsChanged()
}

// Unclog removes the clog set with exactly these from and to (wildcards included), if any.
// Other clogs that match the same streams stay.
func (n *Network) Unclog(from, to netip.Addr) {
	from, to = from.Unmap(), to.Unmap()
	for i, c := range n.clogs {
		if c.from == from && c.to == to {
			n.clogs = append(n.clogs[:i], n.clogs[i+1:]...)
			n.faultsChanged()
			return
		}
	}
}

// clogUntil returns until when the stream from→to is clogged (0 if it is not).
func (n *Network) clogUntil(from, to netip.Addr) time.Duration {
	var until time.Duration
	for _, c := range n.clogs {
		if matchIP(c.from, from) && matchIP(c.to, to) {
			until = max(until, c.until)
		}
	}
	return until
}

// Partition blocks the direction from→to (only that one: call it twice for a symmetric
// partition). On a blocked direction nothing is delivered, data, FIN or reset, as if every
// packet were lost and TCP kept retransmitting: the bytes stay queued, writers fill their
// send buffers and see EAGAIN, and the streams flow again, in order and complete, after Heal.
// A connect attempt between hosts blocked in either direction hangs: it is neither
// established nor refused until Heal (the connector's own timeout ends it), and NextEvent
// does not report it. An invalid (zero) from or to matches every host, so
// Partition(netip.Addr{}, h) cuts every host off from sending to h. Resets caused by Close,
// Reset or Crash are not held back: they take effect at once, as before.
func (n *Network) Partition(from, to netip.Addr) {
	l := link{from: from.Unmap(), to: to.Unmap()}
	for _, p := range n.parts {
		if p == l {
			return
		}
	}
	n.parts = append(n.parts, l)
	n.faultsChanged()
}

// Isolate blocks every direction to and from host, as Partition does, except traffic between
// the host and itself (loopback is not on the network).
func (n *Network) Isolate(host netip.Addr) {
	host = host.Unmap()
	for _, ip := range n.isolated {
		if ip == host {
			return
		}
	}
	n.isolated = append(n.isolated, host)
	n.faultsChanged()
}

// Heal removes every partition, isolation and clog. Held streams flow again and hanging
// connect attempts (hung by a partition, not by ConnectHang) are decided.
func (n *Network) Heal() {
	n.parts = n.parts[:0]
	n.isolated = n.isolated[:0]
	n.clogs = n.clogs[:0]
	n.faultsChanged()
}

// Blocked reports whether the direction from→to is blocked by a partition or an isolation.
func (n *Network) Blocked(from, to netip.Addr) bool {
	from, to = from.Unmap(), to.Unmap()
	for _, p := range n.parts {
		if matchIP(p.from, from) && matchIP(p.to, to) {
			return true
		}
	}
	if from == to {
		return false
	}
	for _, ip := range n.isolated {
		if ip == from || ip == to {
			return true
		}
	}
	return false
}

// ---- Resets ----

// ResetHow says which way Reset breaks a connection.
type ResetHow uint8

// Ways to reset a connection. In all of them the connection is aborted at once: every byte in
// flight in both directions (written, not yet delivered) is lost, no transfer runs on it
// again, both ends' pollers report Read|Write (an error) at once, and every Read and Writev of
// both ends fails from then on (after the buffered bytes, where kept). They differ in what each
// end may still read and which error it sees. "e" is the end given to Reset, "p" its peer:
//
//	how        e reads                     e writes    p reads                     p writes
//	ResetBoth  ECONNRESET                  ECONNRESET  ECONNRESET                  ECONNRESET
//	ResetSend  buffered bytes, ECONNRESET  EPIPE       buffered bytes, ECONNRESET  ECONNRESET
//	ResetRecv  ECONNRESET                  ECONNRESET  buffered bytes, ECONNRESET  EPIPE
//
// ResetBoth is an RST seen by both ends (their receive buffers are dropped, as today's
// resets do). ResetSend is e's outgoing path failing: e's stack gives up sending (EPIPE),
// aborts, and its RST reaches p behind the bytes already delivered. ResetRecv is e's
// incoming path failing: e's stack aborts and drops what it had received but not read, and
// p, whose outgoing direction is the broken one, gets EPIPE on writes after reading what
// reached it.
const (
	ResetBoth ResetHow = iota
	ResetSend
	ResetRecv
)

var resetNames = [...]string{"both", "send", "recv"}

// String returns "both", "send" or "recv".
func (h ResetHow) String() string {
	if int(h) < len(resetNames) {
		return resetNames[h]
	}
	return fmt.Sprintf("reset(%d)", uint8(h))
}

// Reset resets connection conn now (see ResetHow), end naming the end e by the direction it
// sends (ClientToServer: the client; ServerToClient: the server; ignored for ResetBoth). A
// connection still waiting for its Establish transfer (including a hung one) is refused
// instead, whatever how: the client gets ECONNREFUSED, as from an RST answering its SYN.
// It returns false, doing nothing, if conn is not live (see Conns). Every reset is counted
// once in Stats.Resets. Reset panics on an invalid end or how: that is a simulator bug.
func (n *Network) Reset(conn uint64, end Dir, how ResetHow) bool {
	if end > ServerToClient || how > ResetRecv {
		panic(fmt.Sprintf("simnet: Reset(c%d, %v, %v)", conn, end, how))
	}
	c := n.lookup(conn)
	if c == nil {
		return false
	}
	if c.state == connecting {
		c.state, c.hung = refused, false
		n.stats.Resets++
		n.touch(c)
		c.ends[client].notify()
		return true
	}
	e, p := int(end), 1-int(end)
	var keep [2]bool
	rdErr := [2]error{netio.ErrReset, netio.ErrReset}
	wrErr := rdErr
	switch how {
	case ResetSend:
		keep[e], keep[p] = true, true
		wrErr[e] = netio.ErrBrokenPipe
	case ResetRecv:
		keep[p] = true
		wrErr[p] = netio.ErrBrokenPipe
	}
	c.abort(keep, rdErr, wrErr)
	return true
}

// ConnInfo describes a live connection.
type ConnInfo struct {
	ID         uint64         // as in Transfer.Conn
	Client     netip.AddrPort // the connecting end's address
	Server     netip.AddrPort // the address connected to
	ClientHost string         // the connecting host's name
	ServerHost string         // the name of the accepting host ("" while no host has the address)
	// Established is false while the Establish transfer has not run (or the attempt hangs).
	Established bool
	Bytes       [2]uint64 // bytes written so far per Dir (accepted by Writev)
}

// Conns returns the live connections in id order: connect attempts not yet decided, and
// established connections not reset and not closed at both ends (including those still in a
// listener's accept queue). It costs O(live connections) and allocates the result.
func (n *Network) Conns() []ConnInfo {
	n.pruneConns()
	out := make([]ConnInfo, 0, len(n.conns))
	for _, c := range n.conns {
		cl := c.ends[client]
		ci := ConnInfo{
			ID: c.id, Client: cl.local, Server: cl.remote, ClientHost: cl.host.name,
			Established: c.state == open,
			Bytes:       [2]uint64{c.streams[0].written, c.streams[1].written},
		}
		if srv := c.ends[server]; srv != nil {
			ci.ServerHost = srv.host.name
		} else if h := n.byIP[cl.remote.Addr()]; h != nil {
			ci.ServerHost = h.name
		}
		out = append(out, ci)
	}
	return out
}

// Unplug removes the host with address ip from the network without telling anyone, as a
// machine that loses power: no reset, FIN or refusal reaches its peers. Its connections stay
// open at the other end; what the peers write is still delivered to the unplugged host's
// sockets, which nothing reads any more (the caller stops what ran there), and the peers learn
// nothing until they close. Connects to ip reach the host AddHost puts there next (a restarted
// machine), which, as RemoveHost's, takes its ports after the old host's. It panics if no host
// has the address.
func (n *Network) Unplug(ip netip.Addr) {
	ip = ip.Unmap()
	n.detach(ip, n.hostAt(ip, "Unplug"))
}

// hostAt is the host with address ip (unmapped); op names the caller in the panic if there is
// none.
func (n *Network) hostAt(ip netip.Addr, op string) *Host {
	h := n.byIP[ip]
	if h == nil {
		panic(fmt.Sprintf("simnet: %s(%v): no such host", op, ip))
	}
	return h
}

// detach takes host h off address ip: AddHost may put another host there, which takes its
// ports after h's.
func (n *Network) detach(ip netip.Addr, h *Host) {
	delete(n.byIP, ip)
	for i, x := range n.hosts {
		if x == h {
			n.hosts = append(n.hosts[:i], n.hosts[i+1:]...)
			break
		}
	}
	n.ports[ip] = h.nextPort
	n.faultsChanged()
}

// ---- Connect faults ----

// ConnectFault is what SetConnectFault's function decides for one connect attempt.
type ConnectFault uint8

// Connect faults.
const (
	// ConnectOK: no fault; the attempt is decided by the listener as usual.
	ConnectOK ConnectFault = iota
	// ConnectRefuse: the attempt is refused (ECONNREFUSED) even if a listener has room.
	ConnectRefuse
	// ConnectHang: the attempt is parked (a Hang transfer): it is neither established nor
	// refused, not runnable and not reported by NextEvent, until SetConnectFault is called
	// again; then it becomes runnable and the fault function then in place decides it anew.
	// The connector's own timeout is what normally ends it.
	ConnectHang
	// ConnectResetAfterAccept: the attempt is established and queued on the listener as
	// usual (so it needs a listener with room, else it is refused), but the first Deliver
	// transfer on either stream, data or FIN, becomes a Reset instead: the bytes in flight
	// are dropped and both ends get ECONNRESET, whether or not the server end was accepted
	// yet. Writes before that succeed; a connection on which nobody writes or shuts down
	// stays up.
	ConnectResetAfterAccept
)

var faultNames = [...]string{"ok", "refuse", "hang", "reset-after-accept"}

// String returns "ok", "refuse", "hang" or "reset-after-accept".
func (f ConnectFault) String() string {
	if int(f) < len(faultNames) {
		return faultNames[f]
	}
	return fmt.Sprintf("fault(%d)", uint8(f))
}

// SetConnectFault installs f to decide a fault for every connect attempt; nil means none.
// f is called once per attempt, with the client's address and the address connected to,
// when the attempt's Establish transfer runs (inside Run, after partitions and clogs let it
// run), before the listener is looked up. Calling SetConnectFault also releases every attempt
// parked by ConnectHang: each becomes runnable again and is decided by the new f.
func (n *Network) SetConnectFault(f func(from, to netip.AddrPort) ConnectFault) {
	n.connectFault = f
	for i, c := range n.hung {
		if c.hung && c.state == connecting {
			c.hung = false
			n.activate(c)
		}
		n.hung[i] = nil
	}
	n.hung = n.hung[:0]
	n.touchAll()
}

// ---- Corruption ----

// Corrupt flips bit (0..7; higher bits are ignored) of the next byte delivered on stream s at
// an absolute stream offset >= off: if the bytes from off on are still undelivered, exactly
// the byte at off; if some were delivered already, the first byte delivered after this call.
// The Deliver transfer that carries the flipped byte has Corrupt set and CorruptOffset = its
// offset, and Stats.Corruptions counts it. A delivery carries at most one corrupted byte:
// when two pending corruptions would land in one delivery, the delivery is cut short before
// the second one's byte, and a corruption whose byte is taken by an earlier one moves to the
// next byte. Bytes discarded after the receiver's ShutRead are not corrupted (the corruption
// waits), and a reset drops pending corruptions. Corrupt does nothing if s's connection is
// not live.
func (n *Network) Corrupt(s StreamID, off uint64, bit uint8) {
	c := n.lookup(s.Conn)
	if c == nil || s.Dir > ServerToClient {
		return
	}
	st := &c.streams[s.Dir]
	cr := corruption{off: off, bit: bit & 7}
	i := len(st.corrupt)
	for i > 0 && st.corrupt[i-1].off > off {
		i--
	}
	st.corrupt = append(st.corrupt, corruption{})
	copy(st.corrupt[i+1:], st.corrupt[i:])
	st.corrupt[i] = cr
}

// corruptChunk applies the first pending corruption of st if it falls within the next k
// bytes to deliver, flipping its bit in the send buffer, and returns how many bytes this
// delivery moves: k, or fewer so that no second corruption falls within it.
func (n *Network) corruptChunk(st *stream, k int, tr *Transfer) int {
	first := st.corrupt[0]
	at := max(first.off, st.dlv)
	if at >= st.dlv+uint64(k) {
		return k
	}
	if len(st.corrupt) > 1 {
		next := max(st.corrupt[1].off, at+1)
		k = min(k, int(next-st.dlv))
	}
	*st.outAt(int(at - st.dlv)) ^= 1 << first.bit
	st.corrupt = st.corrupt[1:]
	if len(st.corrupt) == 0 {
		st.corrupt = nil
	}
	tr.Corrupt, tr.CorruptOffset = true, at
	n.stats.Corruptions++
	return k
}

// ---- Tampering ----

// Undelivered returns a copy of the bytes [off, off+k) of stream s when all of them were
// written and none delivered yet (they sit in the sender's send buffer, on the path).
func (n *Network) Undelivered(s StreamID, off uint64, k int) ([]byte, bool) {
	st := n.pathBytes(s, off, k)
	if st == nil {
		return nil, false
	}
	p := make([]byte, k)
	for i := range p {
		p[i] = *st.outAt(int(off-st.dlv) + i)
	}
	return p, true
}

// Tamper overwrites the bytes of stream s from offset off with p, when all of them were
// written and none delivered yet: an attacker on the path who changes bytes in flight (and,
// unlike Corrupt, may rewrite several, a crc included). The Observer saw the original bytes;
// the reader reads p. It returns whether the bytes were changed; Stats.Tampered counts it.
func (n *Network) Tamper(s StreamID, off uint64, p []byte) bool {
	st := n.pathBytes(s, off, len(p))
	if st == nil {
		return false
	}
	for i, b := range p {
		*st.outAt(int(off-st.dlv) + i) = b
	}
	n.stats.Tampered++
	return true
}

// pathBytes is stream s when its bytes [off, off+k) are all written and undelivered.
func (n *Network) pathBytes(s StreamID, off uint64, k int) *stream {
	c := n.lookup(s.Conn)
	if c == nil || s.Dir > ServerToClient || k <= 0 {
		return nil
	}
	st := &c.streams[s.Dir]
	if off < st.dlv || off+uint64(k) > st.dlv+uint64(st.out.n) {
		return nil
	}
	return st
}

// ---- Crashes ----

// Crash makes the host fail as a machine does: every socket and listener of the host
// vanishes at once. Every live connection with an end on the host is reset (Stats.Resets):
// the bytes in flight are lost and the peers' Read and Writev fail with ECONNRESET from now on
// (their pollers report it at once); connect attempts from the host are abandoned, and those
// to it are refused when decided (no listener), or reach the host that replaces it. Every
// descriptor of the host is closed (its sockets return EBADF, its pollers report nothing and
// forget pending Wakes) and Connect, Listen and NewPoller give ENETUNREACH. Crashing twice
// is a no-op. To restart the host, RemoveHost it and AddHost a new one with the same IP.
func (h *Host) Crash() {
	if h.crashed {
		return
	}
	n := h.net
	h.crashed = true
	n.stats.Crashes++
	for _, c := range n.conns {
		switch {
		case c.state == connecting && c.ends[client].host == h:
			c.state, c.hung = aborted, false
		case c.state == open && (c.ends[client].host == h || c.ends[server].host == h):
			c.reset()
		}
	}
	for fd := firstFD; fd < h.nextFD; fd++ {
		switch f := h.file(fd).(type) {
		case *Socket:
			f.closed = true
			f.inStream().clearIn(&n.pool)
			h.uninstall(f)
		case *Listener:
			_ = f.Close() // Its queue was reset above.
		}
	}
	for _, p := range h.pollers {
		p.woken = false
	}
	n.touchAll()
}

// Crashed reports whether Crash was called.
func (h *Host) Crashed() bool { return h.crashed }

// RemoveHost removes the host with address ip from the network, crashing it first if it was
// not crashed, so that AddHost may take the address again (a restarted machine). It panics if
// no host has the address: building the topology wrongly is a bug in the simulator.
// Partitions and clogs name addresses, not hosts: they stay in force for the new host.
func (n *Network) RemoveHost(ip netip.Addr) {
	ip = ip.Unmap()
	h := n.hostAt(ip, "RemoveHost")
	h.Crash()
	n.detach(ip, h)
}
