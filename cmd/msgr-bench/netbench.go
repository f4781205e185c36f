//go:build linux

package main

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The Go-net contenders (stdlib, rawframed, rawtcp) share the plumbing in this file: a
// listener and N client connections over loopback, one goroutine per connection and
// direction, writev batching through net.Buffers, and a clean stop that closes the sockets
// to unblock readers.

// readBufSize is the bufio.Reader size of the Go-net contenders. A competent Go messenger
// reads through a buffer much larger than one small message, so one read(2) fetches many.
const readBufSize = 64 << 10

// netRun is a running Go-net contender: its sockets and goroutines.
type netRun struct {
	l     *load
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
	err   error
}

// pair is one client connection and the server's end of it.
type pair struct {
	index  int
	client net.Conn
	server net.Conn
}

// dialPairs opens n loopback connections and returns both ends of each.
func (r *netRun) dialPairs(n int) ([]pair, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.ln = ln
	pairs := make([]pair, n)
	for i := range pairs {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return nil, err
		}
		s, err := ln.Accept()
		if err != nil {
			_ = c.Close()
			return nil, err
		}
		pairs[i] = pair{index: i, client: c, server: s}
		r.conns = append(r.conns, c, s)
	}
	return pairs, nil
}

// goRun runs fn on a goroutine of the run; an error before the stop is remembered.
func (r *netRun) goRun(fn func() error) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := fn(); err != nil && !r.l.stop.Load() {
			r.mu.Lock()
			if r.err == nil {
				r.err = err
			}
			r.mu.Unlock()
			r.l.halt()
		}
	}()
}

// stop closes every socket (unblocking readers and writers) and waits for the goroutines.
func (r *netRun) stop() error {
	r.l.halt()
	for _, c := range r.conns {
		_ = c.Close()
	}
	if r.ln != nil {
		_ = r.ln.Close()
	}
	r.wg.Wait()
	return r.err
}

// batcher gathers frames into one writev: small pieces (headers, footers, length prefixes,
// small payloads) are copied into an arena, large payloads are referenced.
type batcher struct {
	w     net.Conn
	arena []byte
	iov   [][]byte
	bufs  net.Buffers
	n     int // frames queued
	bytes int
}

// Batch bounds: a flush happens at whichever comes first.
const (
	batchFrames   = 256
	batchBytes    = 1 << 20
	arenaPerFrame = 128 // the largest small piece per frame is 1+53+21 bytes (or a payload ≤ smallCopy)
	smallCopy     = 256 // payloads up to this size are copied into the arena
)

func newBatcher(w net.Conn) *batcher {
	return &batcher{w: w, arena: make([]byte, 0, batchFrames*(arenaPerFrame+smallCopy)),
		iov: make([][]byte, 0, 3*batchFrames)}
}

// small returns n bytes of arena, appended to the batch (merged with the previous piece when
// adjacent).
func (b *batcher) small(n int) []byte {
	start := len(b.arena)
	b.arena = b.arena[:start+n]
	p := b.arena[start : start+n]
	if k := len(b.iov) - 1; k >= 0 && len(b.iov[k]) > 0 && start > 0 && &b.iov[k][len(b.iov[k])-1] == &b.arena[start-1] {
		b.iov[k] = b.arena[start-len(b.iov[k]) : start+n]
	} else {
		b.iov = append(b.iov, p)
	}
	b.bytes += n
	return p
}

// payload appends p: copied when small, referenced otherwise.
func (b *batcher) payload(p []byte) {
	switch {
	case len(p) == 0:
	case len(p) <= smallCopy:
		copy(b.small(len(p)), p)
	default:
		b.iov = append(b.iov, p)
		b.bytes += len(p)
	}
}

// frameDone counts one frame and reports whether the batch is full.
func (b *batcher) frameDone() bool {
	b.n++
	return b.n >= batchFrames || b.bytes >= batchBytes
}

// flush writes the batch with writev.
func (b *batcher) flush() error {
	if len(b.iov) == 0 {
		return nil
	}
	b.bufs = net.Buffers(b.iov)
	_, err := b.bufs.WriteTo(b.w)
	clear(b.iov)
	b.iov, b.arena, b.n, b.bytes = b.iov[:0], b.arena[:0], 0, 0
	return err
}

// rxPool is a rotating set of receive buffers of one connection: each message lands in the
// next buffer, as a messenger hands each message its own buffer. hdr is the connection's
// scratch for headers, footers and length prefixes: a local array passed to io.ReadFull
// escapes, which cost the stdlib and rawframed receivers one allocation per message (64 B)
// until 2026-12-07.
type rxPool struct {
	bufs [4][]byte
	next int
	hdr  [wire.HeaderLen]byte
}

func (p *rxPool) get(n int) []byte {
	b := p.bufs[p.next]
	if cap(b) < n {
		b = make([]byte, n)
		p.bufs[p.next] = b
	}
	p.next = (p.next + 1) % len(p.bufs)
	return b[:n]
}

// sendTimes remembers when each outstanding request was sent (replies come back in order).
// Only every every-th request carries a time: reading the clock is slow on this kind of VM
// (kvm-clock: 145–290 ns a call in a loop under load), and with two reads per rr round trip
// it was 7.7% of the msgr contender's rr profile, the same absolute cost for every
// contender. A client reads the clock once per
// reply, and only when needNow says so: the reply's time ends the oldest request's round
// trip and starts the next request's.
type sendTimes struct {
	ring  []time.Time // zero: not stamped
	head  int
	n     int
	every uint64 // stamp every every-th request (1: all)
	k     uint64 // requests pushed
}

// rrStampEvery is how many rr requests share one timestamp: a prime, so that stamped
// requests take every position of a batch. Pingpong and think stamp every request.
const rrStampEvery = 17

// newSendTimes keeps depth outstanding requests, stamping every every-th (at least 1).
func newSendTimes(depth, every int) *sendTimes {
	return &sendTimes{ring: make([]time.Time, depth), every: uint64(max(1, every))}
}

// stampEvery is how many requests of cell c share one timestamp.
func stampEvery(c cell) int {
	if c.mode == modeRR {
		return rrStampEvery
	}
	return 1
}

// needNow reports whether the next pop or push needs the clock: the oldest outstanding
// request carries a time, or the next request will.
func (s *sendTimes) needNow() bool {
	return s.k%s.every == 0 || s.n > 0 && !s.ring[s.head].IsZero()
}

// push records a request sent at t (kept only if this request is stamped).
func (s *sendTimes) push(t time.Time) {
	if s.k%s.every != 0 {
		t = time.Time{}
	}
	s.k++
	s.ring[(s.head+s.n)%len(s.ring)] = t
	s.n++
}

// pop returns the round-trip time of the oldest outstanding request, or 0 when it carried
// no time.
func (s *sendTimes) pop(now time.Time) time.Duration {
	if s.n == 0 {
		return 0
	}
	t := s.ring[s.head]
	s.head = (s.head + 1) % len(s.ring)
	s.n--
	if t.IsZero() {
		return 0
	}
	return now.Sub(t)
}

// clock returns now() when s needs it, else the zero time.
func (s *sendTimes) clock() time.Time {
	if s.needNow() {
		return now()
	}
	return time.Time{}
}

// framer is what differs between the stdlib and rawframed contenders: how a message frame is
// written and read.
type framer interface {
	// put appends a frame carrying payload (message number seq) to b.
	put(b *batcher, seq uint64, payload []byte)
	// get reads the next message frame into a buffer of rx and returns its payload length.
	// Frames that are not messages (acknowledgements) are consumed and skipped.
	get(r *bufio.Reader, rx *rxPool) (int, error)
	// acks reports whether the receiver acknowledges (msgr1: ACK frames, read by the sender).
	acks() bool
	// putAck appends an acknowledgement of everything up to seq.
	putAck(b *batcher, seq uint64)
}

// framedRun drives a framer over Go net connections in any mode.
type framedRun struct {
	netRun
	f       framer
	payload []byte // what requests (and pingpong replies) carry
}

func startFramed(l *load, f framer) (running, error) {
	r := &framedRun{netRun: netRun{l: l}, f: f, payload: pattern(l.cell.size)}
	pairs, err := r.dialPairs(l.cell.conns)
	if err != nil {
		_ = r.stop()
		return nil, err
	}
	for _, p := range pairs {
		switch l.cell.mode {
		case modeOneway:
			r.startOneway(p)
		case modeThink:
			r.goRun(func() error { return r.thinkClient(p.client, p.index) })
			r.goRun(func() error { return r.rrServer(p.server) })
		default:
			r.startRR(p)
		}
	}
	return r, nil
}

// startOneway: the client sends batches as its window allows and (msgr1) reads ACKs; the
// server reads, checks and counts, acknowledging when its input drains.
func (r *framedRun) startOneway(p pair) {
	cr := r.l.credit(p.index)
	r.goRun(func() error { return r.onewaySender(p.client, cr) })
	if r.f.acks() {
		r.goRun(func() error { return r.ackReader(p.client) })
	}
	r.goRun(func() error { return r.onewayReceiver(p.server, p.index, cr) })
}

func (r *framedRun) onewaySender(c net.Conn, cr *credit) error {
	b := newBatcher(c)
	for seq := uint64(1); ; seq++ {
		if cr.sent-cr.recv.Load() >= cr.max {
			if err := b.flush(); err != nil {
				return err
			}
		}
		if !cr.acquire(&r.l.stop) {
			return nil
		}
		r.f.put(b, seq, r.payload)
		if b.frameDone() {
			if err := b.flush(); err != nil {
				return err
			}
		}
	}
}

func (r *framedRun) ackReader(c net.Conn) error {
	br := bufio.NewReaderSize(c, 4096)
	var rx rxPool
	for {
		if _, err := r.f.get(br, &rx); err != nil {
			return err
		}
	}
}

func (r *framedRun) onewayReceiver(c net.Conn, i int, cr *credit) error {
	br := bufio.NewReaderSize(c, readBufSize)
	b := newBatcher(c)
	var rx rxPool
	var seq uint64
	for {
		if _, err := r.f.get(br, &rx); err != nil {
			return err
		}
		seq++
		r.l.complete(i, 0)
		cr.released()
		if r.f.acks() && br.Buffered() == 0 {
			r.f.putAck(b, seq)
			if err := b.flush(); err != nil {
				return err
			}
		}
	}
}

// startRR: one goroutine per end. The client keeps its requests outstanding, sending the next
// one for every reply; the server answers every request. Both flush only when their input
// drained, so replies and requests are batched under load.
func (r *framedRun) startRR(p pair) {
	r.goRun(func() error { return r.rrClient(p.client, p.index) })
	r.goRun(func() error { return r.rrServer(p.server) })
}

func (r *framedRun) rrClient(c net.Conn, i int) error {
	depth := r.l.cell.outstanding()
	br := bufio.NewReaderSize(c, readBufSize)
	b := newBatcher(c)
	times := newSendTimes(depth, stampEvery(r.l.cell))
	var rx rxPool
	seq := uint64(0)
	for range depth {
		seq++
		times.push(times.clock())
		r.f.put(b, seq, r.payload)
	}
	if err := b.flush(); err != nil {
		return err
	}
	for !r.l.stop.Load() {
		if _, err := r.f.get(br, &rx); err != nil {
			return err
		}
		t := times.clock()
		r.l.complete(i, times.pop(t))
		seq++
		times.push(t)
		r.f.put(b, seq, r.payload)
		if br.Buffered() == 0 || b.frameDone() {
			if err := b.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *framedRun) rrServer(c net.Conn) error {
	br := bufio.NewReaderSize(c, readBufSize)
	b := newBatcher(c)
	var rx rxPool
	reply := r.payload
	if r.l.cell.mode != modePingpong {
		reply = nil // rr and think: a 0-byte reply
	}
	for seq := uint64(1); ; seq++ {
		if _, err := r.f.get(br, &rx); err != nil {
			return err
		}
		r.f.put(b, seq, reply)
		if br.Buffered() == 0 || b.frameDone() {
			if err := b.flush(); err != nil {
				return err
			}
		}
	}
}

// thinkClient is the think mode's application: it writes a request, reads the reply on the
// same goroutine (a blocking Go client), pauses for the think time, and again.
func (r *framedRun) thinkClient(c net.Conn, i int) error {
	br := bufio.NewReaderSize(c, readBufSize)
	b := newBatcher(c)
	var rx rxPool
	for seq := uint64(1); !r.l.stop.Load(); seq++ {
		t0 := time.Now()
		r.f.put(b, seq, r.payload)
		if err := b.flush(); err != nil {
			return err
		}
		if _, err := r.f.get(br, &rx); err != nil {
			return err
		}
		r.l.complete(i, time.Since(t0))
		time.Sleep(r.l.cell.think)
	}
	return nil
}

// pattern is a deterministic payload of n bytes.
func pattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i>>8)
	}
	return p
}

// errShort is a frame that ended early.
func errShort(what string, err error) error { return fmt.Errorf("read %s: %w", what, err) }
