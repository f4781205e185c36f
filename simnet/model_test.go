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
// transfers, time, shutdowns, closes, listener restarts, polls) and checks after every step:
// the bytes read are exactly the bytes written, in order; errors are the ones the state
// allows; the pollers' incremental ready lists match readiness computed from scratch; and the
// runnable list matches a brute-force scan of every connection ever made.

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
}

func newModel(t testing.TB, seed uint64) *model {
	rng := detrand.NewSeeded(seed)
	cfg := Config{
		SendBuf: rng.Range(1, 3000),
		RecvBuf: rng.Range(1, 3000),
		Latency: time.Duration(rng.IntN(3)) * time.Millisecond,
		Backlog: rng.Range(1, 4),
	}
	m := &model{
		t:   t,
		net: New(NewClock(), detrand.NewSeeded(rng.Uint64()), cfg),
		rng: rng,
		buf: make([]byte, 8000),
		evs: make([]netio.Event, 8),
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

// traced checks every delivery against the latency: no byte arrives before it is due.
func (m *model) traced(tr Transfer) {
	m.mix(tr.String())
	if tr.Kind != Deliver || tr.Bytes == 0 {
		return
	}
	mc := m.conns[tr.Conn-1]
	i := server
	if tr.From == mc.ends[client].LocalAddr() {
		i = client
	}
	mc.delivered[i] += tr.Bytes
	last := mc.delivered[i] - 1
	for _, w := range mc.writes[i] {
		if last < w.end {
			if due := w.at + m.net.cfg.Latency; due > m.net.now() {
				m.fail("c%d stream %d: byte %d delivered at %v, due %v", mc.id, i, last, m.net.now(), due)
			}
			return
		}
	}
	m.fail("c%d stream %d: byte %d delivered but never written", mc.id, i, last)
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
	default:
		m.rare()
	}
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
	mc := &modelConn{id: sock.Conn(), dst: dst}
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
	n, err := mc.ends[side].Writev(m.bufs)
	m.mix(fmt.Sprintf("write c%d/%d %d %d %v", mc.id, side, size, n, err))
	switch {
	case err == nil:
		if n > size || (n == 0) != (size == 0) {
			m.fail("writev of %d returned %d", size, n)
		}
		mc.written[side] += n
		mc.writes[side] = append(mc.writes[side], written{end: mc.written[side], at: m.net.now()})
	case errors.Is(err, netio.ErrWouldBlock):
	case errors.Is(err, netio.ErrBrokenPipe) && mc.shut[side]:
	case errors.Is(err, netio.ErrReset) && mc.maybeReset:
	case errors.Is(err, netio.ErrRefused) && side == client:
		mc.refused = true
	default:
		m.fail("c%d side %d: writev error %v", mc.id, side, err)
	}
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
	n, err := mc.ends[side].Read(p)
	m.mix(fmt.Sprintf("read c%d/%d %d %v", mc.id, side, n, err))
	for k := range n {
		if want := streamByte(mc.id, i, mc.read[i]+k); p[k] != want {
			m.fail("c%d stream %d byte %d: got %d want %d", mc.id, i, mc.read[i]+k, p[k], want)
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
		m.net.Run(m.rng.IntN(r))
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
	f := m.hosts[h].files[ev.FD]
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
	want := m.bruteRunnable()
	if got != len(want) {
		m.fail("runnable %d, brute force %d", got, len(want))
	}
	for k, tk := range m.net.runnable {
		if tk != want[k] {
			m.fail("runnable[%d] = c%d/%d, brute force c%d/%d", k, tk.c.id, tk.slot, want[k].c.id, want[k].slot)
		}
	}
}

// bruteRunnable lists the runnable transfers by scanning every connection ever made.
func (m *model) bruteRunnable() []task {
	now := m.net.now()
	var out []task
	for _, mc := range m.conns {
		c := mc.ends[client].c
		switch c.state {
		case connecting:
			if c.estDue <= now {
				out = append(out, task{c, slotEstablish})
			}
		case open:
			for i := range 2 {
				st := &c.streams[i]
				to := c.ends[1-i]
				data := st.out.n > 0 && st.segs.headDue() <= now &&
					(to.closed || to.rdShut || st.in.n < m.net.cfg.RecvBuf)
				fin := st.out.n == 0 && st.fin && !st.eof && st.finDue <= now
				if data || fin {
					out = append(out, task{c, uint8(slotClientToServer + i)})
				}
			}
		}
	}
	return out
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
			m.net.Run(m.rng.IntN(r))
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
func runModel(t testing.TB, seed uint64, steps int) (uint64, Stats, int) {
	m := newModel(t, seed)
	for range steps {
		m.step()
		m.check()
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
	}
	t.Logf("over %d seeds: %d streams verified complete; %+v", seeds, complete, total)
	if complete == 0 || total.Resets == 0 || total.Refused == 0 || total.Established == 0 || total.BytesDelivered == 0 {
		t.Fatalf("workload did not exercise everything: %+v", total)
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
