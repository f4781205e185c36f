//go:build linux

package main

import (
	"fmt"
	"math"
	"math/bits"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Modes of a cell.
const (
	modeOneway   = "oneway"   // pipelined messages client → server, flow-controlled by a window
	modePingpong = "pingpong" // depth 1: a request of size bytes, an echo of size bytes
	modeRR       = "rr"       // request/response at a depth: a request of size bytes, a 0 B reply
	// think: requests from an application goroutine, one at a time, each sent a think time
	// after the previous reply reached that goroutine: a request of size bytes, a 0 B reply.
	// The session is quiet when each request is sent (what Config.SendInline is for).
	modeThink = "think"
)

// cell is one point of the matrix.
type cell struct {
	mode  string
	size  int
	conns int
	depth int           // rr only
	think time.Duration // think only
}

func (c cell) String() string {
	s := fmt.Sprintf("%s size=%s conns=%d", c.mode, sizeName(c.size), c.conns)
	if c.mode == modeRR {
		s += fmt.Sprintf(" depth=%d", c.depth)
	}
	if c.mode == modeThink {
		s += fmt.Sprintf(" think=%v", c.think)
	}
	return s
}

// sizeName renders a payload size as 0, 4K, 64K, 4M.
func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dK", n>>10)
	}
	return fmt.Sprint(n)
}

// Flow control. Every contender uses the same per-connection window, so none of them gets an
// advantage from queueing more than another: oneway keeps at most window(c) messages between
// the sender and the receiver's count, rr keeps depth(c) requests outstanding.
const (
	windowBytes    = 16 << 20  // per-connection bytes in flight (oneway)
	maxWindow      = 1024      // per-connection messages in flight (oneway)
	totalInflight  = 256 << 20 // all connections together (oneway, rr)
	frameOverhead  = 1 + 53 + 21
	defaultRRDepth = 128
)

// window is the oneway window of a cell, in messages per connection.
func (c cell) window() int {
	per := windowBytes / (c.size + frameOverhead)
	per = min(per, totalInflight/(c.conns*(c.size+frameOverhead)))
	return max(2, min(per, maxWindow))
}

// outstanding is how many requests a connection keeps in flight in pingpong and rr mode.
func (c cell) outstanding() int {
	switch c.mode {
	case modePingpong, modeThink:
		return 1
	case modeRR:
		per := totalInflight / (c.conns * (c.size + frameOverhead))
		return max(1, min(c.depth, per))
	}
	return 0
}

// Phases of a run, read by the recorders of every contender.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseDone
)

// connStats is what one connection of a running contender counts. The receiving side of
// oneway (or the client of pingpong/rr) increments done once per completed operation; the
// harness reads it concurrently. Padded so that connections do not share cache lines.
type connStats struct {
	done atomic.Uint64
	lat  *histogram // pingpong and rr: round-trip times, recorded while measuring
	_    [48]byte
}

// load is the shared state of one run: per-connection counters, the phase, and the stop flag
// that every traffic generator polls.
type load struct {
	cell    cell
	conns   []connStats
	phase   atomic.Int32
	stop    atomic.Bool
	mu      sync.Mutex
	credits []*credit // every oneway window, woken by halt
	wakers  []chan struct{}
}

// waker returns a channel that halt also wakes (a think client waiting for its reply).
func (l *load) waker() chan struct{} {
	ch := make(chan struct{}, 1)
	l.mu.Lock()
	l.wakers = append(l.wakers, ch)
	l.mu.Unlock()
	return ch
}

// credit returns a new window for connection i, woken by halt.
func (l *load) credit(i int) *credit {
	c := newCredit(l.cell.window(), &l.conns[i].done)
	l.mu.Lock()
	l.credits = append(l.credits, c)
	l.mu.Unlock()
	return c
}

// halt sets the stop flag and wakes every sender waiting for its window.
func (l *load) halt() {
	l.stop.Store(true)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.credits {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	for _, ch := range l.wakers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func newLoad(c cell) *load {
	l := &load{cell: c, conns: make([]connStats, c.conns)}
	if c.mode != modeOneway {
		for i := range l.conns {
			l.conns[i].lat = &histogram{}
		}
	}
	return l
}

// total is the number of operations completed so far, over all connections.
func (l *load) total() uint64 {
	var n uint64
	for i := range l.conns {
		n += l.conns[i].done.Load()
	}
	return n
}

// measuring reports whether latencies should be recorded now.
func (l *load) measuring() bool { return l.phase.Load() == phaseMeasure }

// complete counts one operation on connection i, with its round-trip time when known (> 0).
func (l *load) complete(i int, rtt time.Duration) {
	cs := &l.conns[i]
	cs.done.Add(1)
	if rtt > 0 && cs.lat != nil && l.measuring() {
		cs.lat.record(rtt)
	}
}

// latencies merges the histograms of every connection. Call it once the run stopped.
func (l *load) latencies() *histogram {
	var h histogram
	for i := range l.conns {
		if l.conns[i].lat != nil {
			h.merge(l.conns[i].lat)
		}
	}
	return &h
}

// credit is the oneway flow control of one connection: the sender may be at most max
// messages ahead of the receiver's count. A sender that must wait sleeps until the receiver
// has caught up by half a window, so a full window costs one wakeup, not one per message.
type credit struct {
	max    uint64
	recv   *atomic.Uint64 // the receiver's count (connStats.done)
	sent   uint64         // owned by the sender
	wakeAt atomic.Uint64  // 0, or the count at which the receiver must wake the sender
	wake   chan struct{}
}

func newCredit(max int, recv *atomic.Uint64) *credit {
	return &credit{max: uint64(max), recv: recv, wake: make(chan struct{}, 1)}
}

// acquire waits until one more message may be sent, or stop is set; false means stop.
func (c *credit) acquire(stop *atomic.Bool) bool {
	for c.sent-c.recv.Load() >= c.max {
		if stop.Load() {
			return false
		}
		at := c.sent - c.max/2 + 1 // wake when the receiver reached this count (never 0)
		c.wakeAt.Store(at)
		if c.recv.Load() >= at && c.wakeAt.CompareAndSwap(at, 0) {
			continue
		}
		<-c.wake // released, or the run's stop (which sends a wake after setting stop)
	}
	c.sent++
	return true
}

// released is called by the receiver after it counted a message.
func (c *credit) released() {
	at := c.wakeAt.Load()
	if at != 0 && c.recv.Load() >= at && c.wakeAt.CompareAndSwap(at, 0) {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// histogram is a log-linear latency histogram of nanoseconds: below 2·histSub ns every
// nanosecond has its own bucket; above, every power of two is split into histSub equal
// sub-buckets, so a bucket is at most 1/histSub of its lower bound wide and the midpoint a
// quantile reports is within histMaxRelErr (1/(2·histSub), 0.2%) of every value in it.
// (Before 2026-12-07 it had 32 sub-buckets: 3% wide buckets, p50 steps of 512 ns between 16
// and 32 µs.) Durations of 2^histMaxBits ns (18 minutes) and more land in the last bucket.
// Recording is one array increment; not safe for concurrent use.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
}

const (
	histSubBits   = 8
	histSub       = 1 << histSubBits // sub-buckets per power of two
	histMaxBits   = 40               // durations below 2^histMaxBits ns are bucketed exactly
	histBuckets   = (histMaxBits - histSubBits + 1) * histSub
	histMaxRelErr = 1.0 / (2 * histSub) // the largest |reported - true| / true of a single value
)

// bucketOf is the bucket of ns: ns itself below 2·histSub, else histSub buckets per octave.
func bucketOf(ns uint64) int {
	if ns < histSub {
		return int(ns)
	}
	if ns >= 1<<histMaxBits {
		return histBuckets - 1
	}
	exp := bits.Len64(ns) - histSubBits // >= 1; ns>>(exp-1) is in [histSub, 2·histSub)
	return exp*histSub + int(ns>>(exp-1)) - histSub
}

// bucketValue is a representative value (the midpoint) of bucket b.
func bucketValue(b int) uint64 {
	if b < histSub {
		return uint64(b)
	}
	exp := b / histSub
	lo := uint64(b%histSub+histSub) << (exp - 1)
	return lo + (uint64(1)<<(exp-1))/2
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	h.n++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the q-quantile (0 < q <= 1), or 0 without samples: the midpoint of the
// bucket holding the sample of rank ceil(q·n).
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(bucketValue(b))
		}
	}
	return time.Duration(bucketValue(len(h.counts) - 1))
}

// median of a non-empty slice (not modified).
func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
