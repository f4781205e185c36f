package simnet

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/netio"
)

// The model test drives a network with a random workload (connects, accepts, writes, reads,
// transfers, time, shutdowns, closes, listener restarts, polls) mixed, for most seeds, with
// random faults (resets of every kind, clogs, partitions, isolations, heals, connect faults,
// corruptions, host crashes and restarts, a Chunker and an Observer, latency spread and
// jitter) and checks after every step: the bytes read are exactly the bytes written, in order,
// except for the bits the network reported corrupting; errors are the ones the state allows;
// the pollers' incremental ready lists match readiness computed from scratch; the runnable
// list and NextEvent match a brute-force scan of every connection ever made, under the
// model's own record of clogs, partitions and hung connects; no byte is delivered before it
// is due or while its link is clogged or blocked; and the Chunker and Observer see the
// offsets and bytes the model predicts.

const modelPort = 6789

// modelConn is what the test knows about one connection.
type modelConn struct {
	id         uint64
	dst        int        // index of the target host
	ends       [2]*Socket // client, server (nil until accepted)
	written    [2]int     // bytes accepted on stream i (written by side i)
	read       [2]int     // bytes of stream i read by side 1-i
	shut       [2]bool    // side i shut down writing
	rdShut     [2]bool    // side i shut down reading
	closed     [2]bool
	eof        [2]bool // EOF seen on stream i
	maybeReset bool    // something happened that may reset the connection
	refused    bool
	delivered  [2]int       // bytes of stream i delivered (by the tracer)
	writes     [2][]written // when the bytes of stream i were written
	src        int          // index of the connecting host
	hung       bool         // parked by ConnectHang (model's record, from the trace)
	observed   [2]int       // bytes of stream i seen by the Observer
	pending    [2][]corruption
	flipped    [2]map[int]byte // stream offset -> xor mask the network reported applying
	rst        *resetRec       // the Reset call that reset this connection, if one did
}

// resetRec is a successful Reset call, from which the model predicts every later error.
type resetRec struct {
	end        int
	how        ResetHow
	connecting bool // the connect was pending: it is refused instead
}

// keeps reports whether side still reads its receive buffer after the reset.
func (r *resetRec) keeps(side int) bool {
	return r.how == ResetSend || r.how == ResetRecv && side != r.end
}

// writeErr is what side's writes fail with after the reset.
func (r *resetRec) writeErr(side int) error {
	switch {
	case r.connecting:
		return netio.ErrRefused
	case r.how == ResetSend && side == r.end, r.how == ResetRecv && side != r.end:
		return netio.ErrBrokenPipe
	}
	return netio.ErrReset
}

// noFault marks that the fault function was not called.
const noFault ConnectFault = 255

// mclog is the model's record of one Clog call.
type mclog struct {
	from, to netip.Addr
	until    time.Duration
}

// written records that the bytes of a stream before end were written by time at.
type written struct {
	end int
	at  time.Duration
}

// streamByte is the content of byte off of stream i of connection id.
func streamByte(id uint64, i, off int) byte {
	return byte(off*131+off>>9) ^ byte(id*7) ^ byte(i*13)
}

type model struct {
	t       testing.TB
	net     *Network
	rng     *detrand.Rand
	hosts   []*Host
	pollers []*Poller
	lis     []*Listener // per host; nil when not listening (host 2 never listens)
	conns   []*modelConn
	hash    uint64
	buf     []byte
	bufs    [][]byte
	evs     []netio.Event
	// complete counts the streams found complete by the final check.
	complete int

	// Faults, for the seeds that inject them (see newModel).
	faults    bool
	clogs     []mclog
	parts     [][2]netip.Addr
	isolated  []netip.Addr
	lastFault ConnectFault // the fault function's last decision
	chunk     int          // the Chunker's last (clamped) result, -1 when unknown
	chunker   bool
	observer  bool
}

// Chunk implements Chunker: it checks the offset against the model's counters and returns a
// random size, sometimes out of range to exercise the clamping.
func (m *model) Chunk(s StreamID, op Op, off uint64, avail int) int {
	mc := m.conns[s.Conn-1]
	i := int(s.Dir)
	var want int
	switch op {
	case OpWrite:
		want = mc.written[i]
	case OpDeliver:
		want = mc.delivered[i]
	case OpRead:
		want = mc.read[i]
	default:
		m.fail("chunker: op %v", op)
	}
	if off != uint64(want) || avail < 1 {
		m.fail("chunker: %v %v off %d avail %d, model offset %d", s, op, off, avail, want)
	}
	var k int
	switch r := m.rng.IntN(8); {
	case r == 0:
		k = 1
	case r == 1:
		k = -3 // Clamped to 1.
	case r == 2:
		k = avail + 7 // Clamped to avail.
	default:
		k = m.rng.Range(1, avail)
	}
	m.chunk = max(1, min(k, avail))
	return k
}

// Written implements Observer: the bytes must be the pattern, at the next offset.
func (m *model) Written(s StreamID, off uint64, p []byte) {
	mc := m.conns[s.Conn-1]
	i := int(s.Dir)
	if off != uint64(mc.observed[i]) || len(p) == 0 {
		m.fail("observer: %v off %d len %d, observed %d", s, off, len(p), mc.observed[i])
	}
	if mc.delivered[i] > mc.observed[i] {
		m.fail("observer: %v delivered %d before observing %d", s, mc.delivered[i], mc.observed[i])
	}
	for k, b := range p {
		if b != streamByte(mc.id, i, int(off)+k) {
			m.fail("observer: %v byte %d = %d", s, int(off)+k, b)
		}
	}
	mc.observed[i] += len(p)
}

// connectFault is the fault function the model installs: mostly no fault.
func (m *model) connectFault(from, to netip.AddrPort) ConnectFault {
	f := ConnectOK
	if r := m.rng.IntN(12); r < 3 {
		f = ConnectFault(r + 1)
	}
	m.lastFault = f
	m.mix(fmt.Sprintf("fault %v>%v %v", from, to, f))
	return f
}

func newModel(t testing.TB, seed uint64) *model {
	rng := detrand.NewSeeded(seed)
	cfg := Config{
		SendBuf: rng.Range(1, 3000),
		RecvBuf: rng.Range(1, 3000),
		Latency: time.Duration(rng.IntN(3)) * time.Millisecond,
		Backlog: rng.Range(1, 4),
	}
	faults := seed%4 != 0 // Swarm: a quarter of the seeds run without faults.
	if faults {
		cfg.LatencySpread = time.Duration(rng.IntN(3)) * time.Millisecond
		cfg.Jitter = time.Duration(rng.IntN(3)) * 500 * time.Microsecond
	}
	m := &model{
		t:      t,
		net:    New(NewClock(), detrand.NewSeeded(rng.Uint64()), cfg),
		rng:    rng,
		buf:    make([]byte, 8000),
		evs:    make([]netio.Event, 8),
		faults: faults,
		chunk:  -1,
	}
	m.net.checkScans = true
	if faults && rng.IntN(3) == 0 {
		m.chunker = true
		m.net.SetChunker(m)
	}
	if faults && rng.Bool() {
		m.observer = true
		m.net.SetObserver(m)
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "seed %d cfg %+v", seed, cfg)
	m.hash = h.Sum64()
	m.net.SetTracer(m.traced)
	for i, ip := range []netip.Addr{ipA, ipB, ipC} {
		host := m.net.AddHost(fmt.Sprintf("h%d", i), ip)
		m.hosts = append(m.hosts, host)
		m.pollers = append(m.pollers, mustPoller(t, host))
	}
	m.lis = make([]*Listener, len(m.hosts))
	m.listen(0)
	m.listen(1)
	return m
}

// traced checks every transfer: no byte arrives before it is due (the connection's latency
// after it was written), no transfer runs on a clogged or blocked link, and corruptions land
// where the model predicts.
func (m *model) traced(tr Transfer) {
	m.mix(tr.String())
	mc := m.conns[tr.Conn-1]
	cl := mc.ends[client]
	a, b := cl.LocalAddr().Addr(), cl.RemoteAddr().Addr()
	now := m.net.now()
	switch tr.Kind {
	case Establish, Refuse, Hang:
		if m.blocked(a, b) || m.blocked(b, a) || m.clogUntil(a, b) > now || m.clogUntil(b, a) > now {
			m.fail("c%d: connect decided (%v) on a clogged or blocked link", mc.id, tr.Kind)
		}
		if tr.Kind == Hang {
			mc.hung = true
		}
		if tr.Kind == Establish && m.lastFault == ConnectResetAfterAccept {
			mc.maybeReset = true
		}
		if (tr.Kind == Hang) != (m.lastFault == ConnectHang) ||
			m.lastFault == ConnectRefuse && tr.Kind != Refuse {
			m.fail("c%d: %v after the fault function said %v", mc.id, tr.Kind, m.lastFault)
		}
		return
	}
	i := server
	if tr.From == cl.LocalAddr() {
		i = client
	}
	from, to := a, b
	if i == server {
		from, to = b, a
	}
	if m.blocked(from, to) || m.clogUntil(from, to) > now {
		m.fail("c%d stream %d: %v on a clogged or blocked link", mc.id, i, tr)
	}
	if tr.Kind != Deliver || tr.Bytes == 0 {
		return
	}
	if m.chunker && m.chunk >= 0 && (tr.Bytes > m.chunk || tr.Bytes < m.chunk && !tr.Corrupt) {
		m.fail("c%d stream %d: delivered %d, chunker said %d", mc.id, i, tr.Bytes, m.chunk)
	}
	m.chunk = -1
	discard := mc.rdShut[1-i] && !mc.closed[1-i]
	m.checkCorrupt(mc, i, tr, discard)
	mc.delivered[i] += tr.Bytes
	last := mc.delivered[i] - 1
	for _, w := range mc.writes[i] {
		if last < w.end {
			if due := w.at + cl.c.latency; due > now {
				m.fail("c%d stream %d: byte %d delivered at %v, due %v", mc.id, i, last, now, due)
			}
			return
		}
	}
	m.fail("c%d stream %d: byte %d delivered but never written", mc.id, i, last)
}

// checkCorrupt checks a delivery of stream i against the model's pending corruptions: the
// first one lands on the first byte at or after its offset and no delivery carries two.
func (m *model) checkCorrupt(mc *modelConn, i int, tr Transfer, discard bool) {
	d, end := mc.delivered[i], mc.delivered[i]+tr.Bytes
	pend := mc.pending[i]
	if len(pend) == 0 || discard {
		if tr.Corrupt {
			m.fail("c%d stream %d: unexpected corruption %v", mc.id, i, tr)
		}
		return
	}
	at := max(int(pend[0].off), d)
	if !tr.Corrupt {
		if at < end {
			m.fail("c%d stream %d: corruption due at %d not applied in [%d, %d)", mc.id, i, at, d, end)
		}
		return
	}
	if int(tr.CorruptOffset) != at || at >= end {
		m.fail("c%d stream %d: corruption at %d, model says %d in [%d, %d)", mc.id, i, tr.CorruptOffset, at, d, end)
	}
	if mc.flipped[i] == nil {
		mc.flipped[i] = map[int]byte{}
	}
	mc.flipped[i][at] ^= 1 << pend[0].bit
	mc.pending[i] = pend[1:]
	if len(pend) > 1 && max(int(pend[1].off), at+1) < end {
		m.fail("c%d stream %d: two corruptions in one delivery [%d, %d)", mc.id, i, d, end)
	}
}

// blocked is the model's own evaluation of partitions and isolations.
func (m *model) blocked(from, to netip.Addr) bool {
	for _, p := range m.parts {
		if (!p[0].IsValid() || p[0] == from) && (!p[1].IsValid() || p[1] == to) {
			return true
		}
	}
	for _, ip := range m.isolated {
		if from != to && (ip == from || ip == to) {
			return true
		}
	}
	return false
}

// clogUntil is the model's own evaluation of clogs: the latest until of those matching.
func (m *model) clogUntil(from, to netip.Addr) time.Duration {
	var until time.Duration
	for _, c := range m.clogs {
		if (!c.from.IsValid() || c.from == from) && (!c.to.IsValid() || c.to == to) {
			until = max(until, c.until)
		}
	}
	return until
}

// mix folds an observation into the trace hash.
func (m *model) mix(s string) {
	h := fnv.New64a()
	fmt.Fprintf(h, "%x|%s", m.hash, s)
	m.hash = h.Sum64()
}

func (m *model) fail(format string, args ...any) {
	m.t.Helper()
	m.t.Fatalf("t=%v: %s", m.net.Clock().Now(), fmt.Sprintf(format, args...))
}

func (m *model) listen(h int) {
	l, err := m.hosts[h].Listen(netip.AddrPortFrom(m.hosts[h].IP(), modelPort), 0)
	if err != nil {
		m.fail("listen: %v", err)
	}
	m.lis[h] = l.(*Listener)
	if err := m.pollers[h].Add(l.FD(), netio.Read); err != nil {
		m.fail("add listener: %v", err)
	}
}

func (m *model) register(h int, s *Socket) {
	masks := []netio.Events{netio.Read, netio.Write, netio.Read | netio.Write, 0}
	if err := m.pollers[h].Add(s.FD(), masks[m.rng.IntN(len(masks))]); err != nil {
		m.fail("add socket: %v", err)
	}
}

// step performs one random operation.
func (m *model) step() {
	switch op := m.rng.IntN(20); {
	case op < 1:
		m.connect()
	case op < 2:
		m.accept(m.rng.IntN(2))
	case op < 5:
		m.write()
	case op < 8:
		m.read()
	case op < 13:
		m.run()
	case op < 14:
		m.advance()
	case op < 17:
		m.poll()
	case op < 19 || !m.faults:
		m.rare()
	default:
		m.fault()
	}
}

// fault injects one random fault.
func (m *model) fault() {
	switch r := m.rng.IntN(30); {
	case r < 4:
		m.reset()
	case r < 8:
		m.clog()
	case r < 10:
		m.partition()
	case r < 11:
		m.isolate()
	case r < 15:
		m.heal()
	case r < 18:
		m.setConnectFault()
	case r < 23:
		m.corrupt()
	case r < 24:
		m.crash(m.rng.IntN(len(m.hosts)))
	case r < 26:
		m.checkConns()
	}
}

// someIP returns a random host address, or the wildcard.
func (m *model) someIP() netip.Addr {
	if i := m.rng.IntN(len(m.hosts) + 1); i < len(m.hosts) {
		return m.hosts[i].IP()
	}
	return netip.Addr{}
}

func (m *model) reset() {
	if len(m.conns) == 0 {
		return
	}
	mc := m.conns[m.rng.IntN(len(m.conns))]
	end, how := Dir(m.rng.IntN(2)), ResetHow(m.rng.IntN(3))
	live, established := m.liveness(mc.id)
	ok := m.net.Reset(mc.id, end, how)
	m.mix(fmt.Sprintf("reset c%d %v %v %v", mc.id, end, how, ok))
	if ok != live {
		m.fail("Reset(c%d) = %v, Conns says live=%v", mc.id, ok, live)
	}
	if ok {
		mc.maybeReset = true
		mc.rst = &resetRec{end: int(end), how: how, connecting: !established}
		if m.isLive(mc.id) {
			m.fail("c%d live after Reset", mc.id)
		}
	}
}

// isLive reports whether Conns lists id.
func (m *model) isLive(id uint64) bool {
	live, _ := m.liveness(id)
	return live
}

// liveness reports whether Conns lists id, and whether as established.
func (m *model) liveness(id uint64) (live, established bool) {
	for _, ci := range m.net.Conns() {
		if ci.ID == id {
			return true, ci.Established
		}
	}
	return false, false
}

// checkAfterReset checks a Read (write false) or Writev of side against the Reset that
// reset the connection: the error its how prescribes, and bytes only from a kept buffer.
func (m *model) checkAfterReset(mc *modelConn, side int, write bool, n int, err error) {
	r := mc.rst
	if write {
		if want := r.writeErr(side); n != 0 || !errors.Is(err, want) {
			m.fail("c%d side %d after reset %+v: writev = %d, %v; want %v", mc.id, side, *r, n, err, want)
		}
		return
	}
	if r.connecting {
		if n != 0 || !errors.Is(err, netio.ErrRefused) {
			m.fail("c%d side %d after reset of a connect: read = %d, %v", mc.id, side, n, err)
		}
		return
	}
	i := 1 - side
	buffered := 0
	if r.keeps(side) && !mc.rdShut[side] {
		buffered = mc.delivered[i] - mc.read[i]
	}
	if buffered > 0 && (n == 0 || err != nil) || buffered == 0 && (n != 0 || !errors.Is(err, netio.ErrReset)) {
		m.fail("c%d side %d after reset %+v: read = %d, %v with %d buffered", mc.id, side, *r, n, err, buffered)
	}
}

// checkConns compares Conns with the model: id order, addresses, byte counts.
func (m *model) checkConns() {
	var last uint64
	for _, ci := range m.net.Conns() {
		if ci.ID <= last {
			m.fail("Conns out of order: c%d after c%d", ci.ID, last)
		}
		last = ci.ID
		mc := m.conns[ci.ID-1]
		cl := mc.ends[client]
		if ci.Client != cl.LocalAddr() || ci.Server != cl.RemoteAddr() || ci.ClientHost != cl.Host().Name() {
			m.fail("Conns: %+v for c%d %v>%v", ci, mc.id, cl.LocalAddr(), cl.RemoteAddr())
		}
		if ci.Bytes != [2]uint64{uint64(mc.written[0]), uint64(mc.written[1])} {
			m.fail("Conns: c%d bytes %v, model %v", mc.id, ci.Bytes, mc.written)
		}
		if mc.closed[client] && mc.ends[server] != nil && mc.closed[server] {
			m.fail("Conns lists c%d, closed at both ends", mc.id)
		}
	}
}

func (m *model) clog() {
	if m.rng.IntN(4) == 0 && len(m.clogs) > 0 {
		c := m.clogs[m.rng.IntN(len(m.clogs))]
		m.net.Unclog(c.from, c.to)
		for i, x := range m.clogs {
			if x.from == c.from && x.to == c.to {
				m.clogs = append(m.clogs[:i], m.clogs[i+1:]...)
				break
			}
		}
		m.mix(fmt.Sprintf("unclog %v>%v", c.from, c.to))
		return
	}
	c := mclog{from: m.someIP(), to: m.someIP(), until: m.net.now() + time.Duration(m.rng.IntN(5000))*time.Microsecond}
	m.net.Clog(c.from, c.to, c.until)
	m.mix(fmt.Sprintf("clog %v>%v %v", c.from, c.to, c.until))
	for i, x := range m.clogs {
		if x.from == c.from && x.to == c.to {
			m.clogs[i].until = max(x.until, c.until)
			return
		}
	}
	m.clogs = append(m.clogs, c)
}

func (m *model) partition() {
	a, b := m.someIP(), m.someIP()
	m.net.Partition(a, b)
	m.parts = append(m.parts, [2]netip.Addr{a, b})
	m.mix(fmt.Sprintf("partition %v>%v", a, b))
	m.checkBlocked()
}

func (m *model) isolate() {
	ip := m.hosts[m.rng.IntN(len(m.hosts))].IP()
	m.net.Isolate(ip)
	m.isolated = append(m.isolated, ip)
	m.mix(fmt.Sprintf("isolate %v", ip))
	m.checkBlocked()
}

func (m *model) heal() {
	m.net.Heal()
	m.clogs, m.parts, m.isolated = nil, nil, nil
	m.mix("heal")
	m.checkBlocked()
}

// checkBlocked compares Blocked with the model for every pair of hosts.
func (m *model) checkBlocked() {
	for _, a := range m.hosts {
		for _, b := range m.hosts {
			if got, want := m.net.Blocked(a.IP(), b.IP()), m.blocked(a.IP(), b.IP()); got != want {
				m.fail("Blocked(%v, %v) = %v, model %v", a.IP(), b.IP(), got, want)
			}
		}
	}
}

func (m *model) setConnectFault() {
	if m.rng.IntN(3) == 0 {
		m.net.SetConnectFault(nil)
		m.mix("connect faults off")
	} else {
		m.net.SetConnectFault(m.connectFault)
		m.mix("connect faults on")
	}
	for _, mc := range m.conns {
		mc.hung = false // Released: decided anew.
	}
}

func (m *model) corrupt() {
	if len(m.conns) == 0 {
		return
	}
	mc := m.conns[m.rng.IntN(len(m.conns))]
	i := m.rng.IntN(2)
	off := uint64(max(0, mc.delivered[i]+m.rng.IntN(2000)-100))
	if r := m.rng.IntN(4); r < 2 && len(mc.pending[i]) > 0 {
		off = mc.pending[i][0].off + uint64(r) // Two corruptions aimed at one byte, or adjacent.
	}
	bit := uint8(m.rng.IntN(8))
	live := m.isLive(mc.id)
	m.net.Corrupt(StreamID{Conn: mc.id, Dir: Dir(i)}, off, bit)
	m.mix(fmt.Sprintf("corrupt c%d/%d %d %d", mc.id, i, off, bit))
	if !live {
		return // Ignored by the network.
	}
	mc.maybeReset = true // A corrupted stream is not checked for completeness.
	p := mc.pending[i]
	k := len(p)
	for k > 0 && p[k-1].off > off {
		k--
	}
	mc.pending[i] = append(p[:k:k], append([]corruption{{off: off, bit: bit}}, p[k:]...)...)
}

// crash crashes host h and restarts it: a new host with the same address, poller and (for
// hosts 0 and 1) listener.
func (m *model) crash(h int) {
	old := m.hosts[h]
	old.Crash()
	if !old.Crashed() {
		m.fail("host not crashed")
	}
	if _, err := old.Connect(netip.AddrPortFrom(ipA, 1)); !errors.Is(err, netio.ErrUnreachable) {
		m.fail("connect on a crashed host = %v", err)
	}
	if m.pollers[h].HasReady() {
		m.fail("crashed host's poller has events")
	}
	for _, mc := range m.conns {
		if mc.src != h && mc.dst != h {
			continue
		}
		mc.maybeReset = true
		for side := range 2 {
			if s := mc.ends[side]; s != nil && s.Host() == old && !mc.closed[side] {
				if s.FD() != -1 {
					m.fail("c%d side %d: open after the crash", mc.id, side)
				}
				mc.closed[side], mc.shut[side] = true, true
			}
		}
	}
	m.net.RemoveHost(old.IP())
	m.hosts[h] = m.net.AddHost(fmt.Sprintf("h%d'", h), old.IP())
	m.pollers[h] = mustPoller(m.t, m.hosts[h])
	if m.lis[h] != nil {
		m.lis[h] = nil
		m.listen(h)
	}
	m.mix(fmt.Sprintf("crash h%d", h))
}

// rare performs an operation that changes a connection for good.
func (m *model) rare() {
	switch r := m.rng.IntN(40); {
	case r < 4:
		m.shutdown(netio.ShutWrite)
	case r < 5:
		m.shutdown(netio.ShutRead)
	case r < 7:
		m.close()
	case r < 8:
		m.restartListener(m.rng.IntN(2))
	case r < 12:
		m.remask()
	}
}

func (m *model) connect() {
	if len(m.conns) >= 24 {
		return
	}
	src, dst := m.rng.IntN(3), m.rng.IntN(3)
	port := uint16(modelPort)
	if m.rng.IntN(8) == 0 {
		port = 1
	}
	s, err := m.hosts[src].Connect(netip.AddrPortFrom(m.hosts[dst].IP(), port))
	if err != nil {
		m.fail("connect: %v", err)
	}
	sock := s.(*Socket)
	mc := &modelConn{id: sock.Conn(), dst: dst, src: src}
	mc.ends[client] = sock
	if mc.id != uint64(len(m.conns)+1) {
		m.fail("connection id %d, want %d", mc.id, len(m.conns)+1)
	}
	m.conns = append(m.conns, mc)
	m.register(src, sock)
	m.mix(fmt.Sprintf("connect c%d fd%d", mc.id, sock.FD()))
}

// accept accepts one connection on host h's listener, if one is queued.
func (m *model) accept(h int) bool {
	l := m.lis[h]
	if l == nil {
		return false
	}
	s, err := l.Accept()
	if errors.Is(err, netio.ErrWouldBlock) {
		return false
	}
	if err != nil {
		m.fail("accept: %v", err)
	}
	sock := s.(*Socket)
	mc := m.conns[sock.Conn()-1]
	if mc.ends[server] != nil || mc.dst != h {
		m.fail("accepted c%d twice or on the wrong host", mc.id)
	}
	mc.ends[server] = sock
	m.register(h, sock)
	m.mix(fmt.Sprintf("accept c%d fd%d", mc.id, sock.FD()))
	return true
}

// pick returns a random open end of a random connection.
func (m *model) pick() (*modelConn, int, bool) {
	if len(m.conns) == 0 {
		return nil, 0, false
	}
	mc := m.conns[m.rng.IntN(len(m.conns))]
	side := m.rng.IntN(2)
	if mc.ends[side] == nil || mc.closed[side] {
		return nil, 0, false
	}
	return mc, side, true
}

func (m *model) write() {
	if mc, side, ok := m.pick(); ok {
		m.writeEnd(mc, side, m.rng.Range(1, 3*m.net.cfg.SendBuf))
	}
}

func (m *model) writeEnd(mc *modelConn, side, size int) (int, error) {
	off := mc.written[side]
	m.buf = m.buf[:0]
	for k := range size {
		m.buf = append(m.buf, streamByte(mc.id, side, off+k))
	}
	cut := m.rng.Range(0, size)
	m.bufs = append(m.bufs[:0], m.buf[:cut], m.buf[cut:])
	m.chunk = -1
	n, err := mc.ends[side].Writev(m.bufs)
	m.mix(fmt.Sprintf("write c%d/%d %d %d %v", mc.id, side, size, n, err))
	if mc.rst != nil {
		m.checkAfterReset(mc, side, true, n, err)
	}
	switch {
	case err == nil:
		if n > size || (n == 0) != (size == 0) {
			m.fail("writev of %d returned %d", size, n)
		}
		if m.chunker && n != m.chunk {
			m.fail("writev returned %d, chunker said %d", n, m.chunk)
		}
		mc.written[side] += n
		mc.writes[side] = append(mc.writes[side], written{end: mc.written[side], at: m.net.now()})
		if m.observer && mc.observed[side] != mc.written[side] {
			m.fail("c%d side %d: observed %d of %d written", mc.id, side, mc.observed[side], mc.written[side])
		}
	case errors.Is(err, netio.ErrWouldBlock):
	case errors.Is(err, netio.ErrBrokenPipe) && (mc.shut[side] || mc.maybeReset):
	case errors.Is(err, netio.ErrReset) && mc.maybeReset:
	case errors.Is(err, netio.ErrRefused) && side == client:
		mc.refused = true
	default:
		m.fail("c%d side %d: writev error %v", mc.id, side, err)
	}
	m.chunk = -1
	return n, err
}

func (m *model) read() {
	if mc, side, ok := m.pick(); ok {
		m.readEnd(mc, side, m.rng.Range(1, len(m.buf)))
	}
}

// readEnd reads from side's socket and checks the bytes and the error.
func (m *model) readEnd(mc *modelConn, side, size int) (int, error) {
	i := 1 - side // the stream this side reads
	p := m.buf[:size]
	m.chunk = -1
	n, err := mc.ends[side].Read(p)
	m.mix(fmt.Sprintf("read c%d/%d %d %v", mc.id, side, n, err))
	if mc.rst != nil {
		m.checkAfterReset(mc, side, false, n, err)
	}
	if m.chunker && n > 0 && n != m.chunk {
		m.fail("read returned %d, chunker said %d", n, m.chunk)
	}
	m.chunk = -1
	for k := range n {
		off := mc.read[i] + k
		if want := streamByte(mc.id, i, off) ^ mc.flipped[i][off]; p[k] != want {
			m.fail("c%d stream %d byte %d: got %d want %d", mc.id, i, off, p[k], want)
		}
	}
	mc.read[i] += n
	if mc.read[i] > mc.written[i] {
		m.fail("c%d stream %d: read %d of %d written", mc.id, i, mc.read[i], mc.written[i])
	}
	m.hash ^= uint64(n) << 7
	switch {
	case err == nil:
	case errors.Is(err, netio.ErrWouldBlock):
	case err == io.EOF:
		m.checkEOF(mc, side)
	case errors.Is(err, netio.ErrReset) && mc.maybeReset:
	case errors.Is(err, netio.ErrRefused) && side == client:
		mc.refused = true
	default:
		m.fail("c%d side %d: read error %v", mc.id, side, err)
	}
	return n, err
}

func (m *model) checkEOF(mc *modelConn, side int) {
	i := 1 - side
	mc.eof[i] = true
	if mc.rdShut[side] {
		return
	}
	if !mc.shut[i] || mc.read[i] != mc.written[i] {
		m.fail("c%d side %d: EOF with peer shut=%v after %d of %d bytes",
			mc.id, side, mc.shut[i], mc.read[i], mc.written[i])
	}
}

func (m *model) run() {
	if r := m.net.Runnable(); r > 0 {
		m.chunk = -1
		m.lastFault = noFault
		m.net.Run(m.rng.IntN(r))
		m.chunk = -1
	}
}

func (m *model) advance() {
	if due, ok := m.net.NextEvent(); ok {
		m.net.Clock().AdvanceTo(due)
		m.mix(fmt.Sprintf("advance %v", due))
	}
}

// poll waits on a random poller and checks that every reported event is real: a readable
// socket does not block on Read, a writable one does not block on Writev, a readable
// listener has a connection to accept.
func (m *model) poll() {
	h := m.rng.IntN(len(m.pollers))
	n, err := m.pollers[h].Wait(m.evs, 0)
	if err != nil {
		m.fail("wait: %v", err)
	}
	m.mix(fmt.Sprintf("wait h%d %v", h, m.evs[:n]))
	for _, ev := range m.evs[:n] {
		m.checkEvent(h, ev)
	}
}

func (m *model) checkEvent(h int, ev netio.Event) {
	if l := m.lis[h]; l != nil && ev.FD == l.FD() {
		if len(l.queue) == 0 {
			m.fail("listener readable with an empty queue")
		}
		return
	}
	f := m.hosts[h].file(ev.FD)
	s, ok := f.(*Socket)
	if !ok {
		m.fail("event for fd %d, which is not an open socket", ev.FD)
	}
	mc, side := m.conns[s.Conn()-1], s.side
	if ev.Events&netio.Read != 0 {
		if _, err := m.readEnd(mc, side, m.rng.Range(1, len(m.buf))); errors.Is(err, netio.ErrWouldBlock) {
			m.fail("c%d side %d reported readable but read blocks", mc.id, side)
		}
	}
	if ev.Events&netio.Write != 0 && !mc.closed[side] {
		if _, err := m.writeEnd(mc, side, m.rng.Range(1, 100)); errors.Is(err, netio.ErrWouldBlock) {
			m.fail("c%d side %d reported writable but write blocks", mc.id, side)
		}
	}
}

func (m *model) shutdown(how netio.How) {
	mc, side, ok := m.pick()
	if !ok {
		return
	}
	err := mc.ends[side].Shutdown(how)
	m.mix(fmt.Sprintf("shutdown c%d/%d %d %v", mc.id, side, how, err))
	if err != nil {
		if !errors.Is(err, netio.ErrNotConnected) {
			m.fail("shutdown: %v", err)
		}
		return
	}
	if how == netio.ShutWrite {
		mc.shut[side] = true
	} else {
		mc.rdShut[side] = true
	}
}

func (m *model) close() {
	mc, side, ok := m.pick()
	if !ok {
		return
	}
	if err := mc.ends[side].Close(); err != nil {
		m.fail("close: %v", err)
	}
	m.mix(fmt.Sprintf("close c%d/%d", mc.id, side))
	mc.closed[side] = true
	mc.shut[side] = true
	mc.maybeReset = true
}

func (m *model) restartListener(h int) {
	for _, mc := range m.conns {
		if mc.dst == h && mc.ends[server] == nil {
			mc.maybeReset = true // Queued connections are reset.
		}
	}
	if err := m.lis[h].Close(); err != nil {
		m.fail("close listener: %v", err)
	}
	m.mix(fmt.Sprintf("restart listener h%d", h))
	m.listen(h)
}

func (m *model) remask() {
	mc, side, ok := m.pick()
	if !ok {
		return
	}
	h := m.hostIndex(mc.ends[side].Host())
	masks := []netio.Events{netio.Read, netio.Write, netio.Read | netio.Write}
	if err := m.pollers[h].Modify(mc.ends[side].FD(), masks[m.rng.IntN(3)]); err != nil {
		m.fail("modify: %v", err)
	}
}

func (m *model) hostIndex(h *Host) int {
	for i, x := range m.hosts {
		if x == h {
			return i
		}
	}
	m.fail("unknown host")
	return -1
}

// check verifies the incremental structures against brute force.
func (m *model) check() {
	if err := checkReadiness(m.net, m.pollers); err != nil {
		m.fail("readiness: %v", err)
	}
	got := m.net.Runnable()
	want, next, hasNext := m.bruteRunnable()
	if got != len(want) {
		m.fail("runnable %d, brute force %d", got, len(want))
	}
	for k := range got {
		if tk := m.net.task(k); tk != want[k] {
			m.fail("runnable[%d] = c%d/%d, brute force c%d/%d", k, tk.c.id, tk.slot, want[k].c.id, want[k].slot)
		}
	}
	if due, ok := m.net.NextEvent(); ok != hasNext || due != next {
		m.fail("NextEvent = %v, %v; brute force %v, %v", due, ok, next, hasNext)
	}
}

// bruteRunnable lists the runnable transfers by scanning every connection ever made, under
// the model's record of clogs, partitions and hung connects, and finds the next event.
func (m *model) bruteRunnable() (out []task, next time.Duration, hasNext bool) {
	now := m.net.now()
	consider := func(c *conn, slot uint8, due time.Duration) {
		switch {
		case due <= now:
			out = append(out, task{c, slot})
		case !hasNext || due < next:
			next, hasNext = due, true
		}
	}
	for _, mc := range m.conns {
		c := mc.ends[client].c
		a, b := mc.ends[client].LocalAddr().Addr(), mc.ends[client].RemoteAddr().Addr()
		ips := [2][2]netip.Addr{{a, b}, {b, a}}
		switch c.state {
		case connecting:
			if mc.hung || m.blocked(a, b) || m.blocked(b, a) {
				continue
			}
			consider(c, slotEstablish, max(c.estDue, m.clogUntil(a, b), m.clogUntil(b, a)))
		case open:
			for i := range 2 {
				st := &c.streams[i]
				to := c.ends[1-i]
				var due time.Duration
				switch {
				case st.out.n > 0:
					due = st.segs.headDue()
					if due <= now && !(to.closed || to.rdShut || st.in.n < m.net.cfg.RecvBuf) {
						continue
					}
				case st.fin && !st.eof:
					due = st.finDue
				default:
					continue
				}
				if m.blocked(ips[i][0], ips[i][1]) {
					continue
				}
				consider(c, uint8(slotClientToServer+i), max(due, m.clogUntil(ips[i][0], ips[i][1])))
			}
		}
	}
	return out, next, hasNext
}

// drain reads and accepts everything and runs the network until nothing moves, then checks
// that every healthy stream arrived complete.
func (m *model) drain() {
	for round := 0; ; round++ {
		if round > 100000 {
			m.fail("drain did not finish")
		}
		moved := m.accept(0)
		moved = m.accept(1) || moved
		for _, mc := range m.conns {
			for side := range 2 {
				if mc.ends[side] == nil || mc.closed[side] {
					continue
				}
				for {
					n, err := m.readEnd(mc, side, len(m.buf))
					moved = moved || n > 0
					if err != nil {
						break
					}
				}
			}
		}
		for r := m.net.Runnable(); r > 0; r = m.net.Runnable() {
			m.run()
			moved = true
		}
		if due, ok := m.net.NextEvent(); ok {
			m.net.Clock().AdvanceTo(due)
			moved = true
		}
		m.check()
		if !moved {
			break
		}
	}
	m.checkComplete()
}

func (m *model) checkComplete() {
	m.complete = 0
	for _, mc := range m.conns {
		if mc.maybeReset || mc.refused || mc.ends[server] == nil {
			continue
		}
		for i := range 2 {
			if mc.rdShut[1-i] {
				continue
			}
			if mc.read[i] != mc.written[i] {
				m.fail("c%d stream %d: %d of %d bytes arrived", mc.id, i, mc.read[i], mc.written[i])
			}
			if mc.shut[i] && !mc.eof[i] {
				m.fail("c%d stream %d: shut down but no EOF", mc.id, i)
			}
			m.complete++
		}
	}
}

// runModel runs the random workload of seed for steps steps and returns its trace hash.
// Before draining, faults are lifted (Heal, no connect faults), so every healthy stream must
// then complete.
func runModel(t testing.TB, seed uint64, steps int) (uint64, Stats, int) {
	m := newModel(t, seed)
	for range steps {
		m.step()
		m.check()
	}
	if m.faults {
		m.heal()
		m.net.SetConnectFault(nil)
		for _, mc := range m.conns {
			mc.hung = false
		}
	}
	m.drain()
	return m.hash, m.net.Stats(), m.complete
}

func TestModel(t *testing.T) {
	seeds := uint64(300)
	if testing.Short() {
		seeds = 30
	}
	var total Stats
	complete := 0
	for seed := range seeds {
		_, st, c := runModel(t, seed, 2000)
		complete += c
		total.Transfers += st.Transfers
		total.BytesDelivered += st.BytesDelivered
		total.Resets += st.Resets
		total.Refused += st.Refused
		total.Established += st.Established
		total.Corruptions += st.Corruptions
		total.Clogged += st.Clogged
		total.Partitioned += st.Partitioned
		total.ConnectRefusedInjected += st.ConnectRefusedInjected
		total.ConnectHung += st.ConnectHung
		total.Crashes += st.Crashes
	}
	t.Logf("over %d seeds: %d streams verified complete; %+v", seeds, complete, total)
	if complete == 0 || total.Resets == 0 || total.Refused == 0 || total.Established == 0 || total.BytesDelivered == 0 {
		t.Fatalf("workload did not exercise everything: %+v", total)
	}
	if total.Corruptions == 0 || total.Clogged == 0 || total.Partitioned == 0 ||
		total.ConnectRefusedInjected == 0 || total.ConnectHung == 0 || total.Crashes == 0 {
		t.Fatalf("faults not exercised: %+v", total)
	}
}

func TestDeterminism(t *testing.T) {
	seeds := uint64(20)
	if testing.Short() {
		seeds = 4
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		h1, s1, _ := runModel(t, seed, 3000)
		h2, s2, _ := runModel(t, seed, 3000)
		if h1 != h2 || s1 != s2 {
			t.Fatalf("seed %d: runs differ: %x %+v vs %x %+v", seed, h1, s1, h2, s2)
		}
		h3, _, _ := runModel(t, seed+1000, 3000)
		if h1 == h3 {
			t.Fatalf("seeds %d and %d gave the same trace", seed, seed+1000)
		}
	}
}

// TestSeedChangesChunking runs one fixed sequence of calls under two network seeds: the
// transfers differ only in how the bytes were chunked.
func TestSeedChangesChunking(t *testing.T) {
	trace := func(seed uint64) ([]Transfer, []byte) {
		n := New(NewClock(), detrand.NewSeeded(seed), Config{})
		a, b := n.AddHost("a", ipA), n.AddHost("b", ipB)
		l, _ := b.Listen(netip.AddrPortFrom(ipB, testPort), 0)
		cl, _ := a.Connect(netip.AddrPortFrom(ipB, testPort))
		var trs []Transfer
		n.SetTracer(func(tr Transfer) { trs = append(trs, tr) })
		n.Run(0)
		srv, _ := l.Accept()
		msg := pattern(60000, 5)
		for sent := 0; sent < len(msg); {
			k, _ := cl.Writev([][]byte{msg[sent:]})
			sent += k
		}
		var got []byte
		buf := make([]byte, 70000)
		for n.Runnable() > 0 {
			n.Run(0)
			k, _ := srv.Read(buf)
			got = append(got, buf[:k]...)
		}
		for k, err := srv.Read(buf); err == nil; k, err = srv.Read(buf) {
			got = append(got, buf[:k]...)
		}
		return trs, got
	}
	t1, b1 := trace(1)
	t2, b2 := trace(1)
	t3, b3 := trace(2)
	if fmt.Sprint(t1) != fmt.Sprint(t2) || string(b1) != string(b2) {
		t.Fatalf("same seed, different runs")
	}
	if string(b1) != string(pattern(60000, 5)) || string(b3) != string(b1) {
		t.Fatalf("bytes lost or reordered")
	}
	if fmt.Sprint(t1) == fmt.Sprint(t3) {
		t.Fatalf("seeds 1 and 2 chunked identically: %v", t1)
	}
}
