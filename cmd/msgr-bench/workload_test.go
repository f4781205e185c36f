//go:build linux

package main

import (
	"bufio"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// latencyErrBound is the quantile error the issue-18 ping-pong target needs: p50 ratios near
// 1.1 must be resolved to a few tenths of a percent. The histogram promises half of it.
const latencyErrBound = 0.002

// TestHistogramQuantileErrorBound: a histogram holding a single value reports it as every
// quantile within 0.2%, over the whole range of round-trip times (1 ns to minutes) and densely
// across 16–32 µs, where a 4 KiB ping-pong round trip lies. The 32-sub-bucket histogram this
// replaced was off by up to 1.6% (256 ns of a 16.4 µs value).
func TestHistogramQuantileErrorBound(t *testing.T) {
	if histMaxRelErr > latencyErrBound {
		t.Fatalf("histMaxRelErr %.4f above %.4f", histMaxRelErr, latencyErrBound)
	}
	var values []uint64
	for v := 1.0; v < 1<<histMaxBits; v *= 1.0007 {
		values = append(values, uint64(v))
	}
	for v := uint64(16_000); v <= 32_800; v += 7 {
		values = append(values, v)
	}
	worst := 0.0
	for _, v := range values {
		var h histogram
		h.record(time.Duration(v))
		for _, q := range []float64{0.01, 0.5, 0.99, 1} {
			got := float64(h.quantile(q))
			rel := math.Abs(got-float64(v)) / float64(v)
			worst = max(worst, rel)
			if rel > histMaxRelErr+1e-12 {
				t.Fatalf("value %d ns: quantile(%v) = %v ns, off by %.4f%% (bound %.4f%%)", v, q, got, 100*rel, 100*histMaxRelErr)
			}
		}
	}
	t.Logf("%d values: worst relative error %.4f%% (bound %.4f%%)", len(values), 100*worst, 100*histMaxRelErr)
	// Below 2·histSub ns every nanosecond is its own bucket.
	for v := range uint64(2 * histSub) {
		var h histogram
		h.record(time.Duration(v))
		if got := uint64(h.quantile(0.5)); got != v {
			t.Fatalf("value %d ns reported as %d", v, got)
		}
	}
}

// TestHistogramQuantilesOfADistribution: p50 and p99 of many round trips spread over 20–30 µs
// (and a tail) are within the bound of the exact nearest-rank quantiles of the same samples.
func TestHistogramQuantilesOfADistribution(t *testing.T) {
	var h histogram
	var all []uint64
	x := uint64(12345)
	for range 100_000 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		v := 20_000 + x%10_000
		if x%100 == 0 {
			v = 50_000 + x%1_000_000 // a tail
		}
		all = append(all, v)
		h.record(time.Duration(v))
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := float64(all[int(math.Ceil(q*float64(len(all))))-1])
		got := float64(h.quantile(q))
		if rel := math.Abs(got-exact) / exact; rel > histMaxRelErr {
			t.Errorf("q %v: %v ns, exact %v ns: off by %.4f%%", q, got, exact, 100*rel)
		}
	}
}

// TestPairedLatencyRatiosResolveTheTarget: the ping-pong target is p50 ≤ 1.1× the stdlib.
// Per-repetition p50 ratios of 1.095 and 1.105 (22 µs against 24.09 and 24.31 µs) come out
// of makeSample and pairedRatios on the right sides of 1.1 (the 32-sub-bucket histogram
// reported both as 1.118), and p99 ratios are reported alongside.
func TestPairedLatencyRatiosResolveTheTarget(t *testing.T) {
	c := cell{mode: modePingpong, size: 4096, conns: 1}
	one := func(ct string, rep int, p50, p99 time.Duration) sample {
		var h histogram
		for range 50 {
			h.record(p50)
		}
		h.record(p99)
		h.record(p99)
		var before, after snapshot
		after.ops, after.at = 100, before.at.Add(time.Second)
		return makeSample(ct, c, rep, before, after, &h)
	}
	for _, tc := range []struct {
		msgr time.Duration
		want float64
	}{{24_090, 1.095}, {24_310, 1.105}} {
		ss := []sample{
			one("stdlib", 1, 22_000, 100_000), one("msgr", 1, tc.msgr, 120_000),
			one("stdlib", 2, 22_000, 100_000), one("msgr", 2, tc.msgr, 120_000),
		}
		var p50, p99 *ratio
		for _, r := range pairedRatios(ss) {
			if r.Versus == "stdlib" && r.Of == "" {
				switch r.Metric {
				case "p50_us":
					p50 = &r
				case "p99_us":
					p99 = &r
				}
			}
		}
		if p50 == nil || p99 == nil {
			t.Fatalf("msgr %v: no p50 or p99 ratio", tc.msgr)
		}
		if math.Abs(p50.Median-tc.want) > 2*latencyErrBound*tc.want || (p50.Median <= 1.1) != (tc.want <= 1.1) {
			t.Errorf("msgr p50 %v against 22 µs: ratio %.4f, want %.4f", tc.msgr, p50.Median, tc.want)
		}
		if math.Abs(p99.Median-1.2) > 2*latencyErrBound*1.2 || p99.Samples != 2 {
			t.Errorf("p99 ratio %+v, want 1.2 over 2 samples", *p99)
		}
	}
	// Oneway records no round trips: no latency ratios.
	ow := cell{mode: modeOneway, size: 4096, conns: 1}
	var before, after snapshot
	after.ops, after.at = 100, before.at.Add(time.Second)
	for _, r := range pairedRatios([]sample{makeSample("msgr", ow, 1, before, after, &histogram{}), makeSample("stdlib", ow, 1, before, after, &histogram{})}) {
		if r.Metric == "p50_us" || r.Metric == "p99_us" {
			t.Errorf("oneway latency ratio %+v", r)
		}
	}
}

// TestHistogramEdges: negative durations count as 0, durations beyond the range land in the
// last bucket, merge adds, and an empty histogram reports 0.
func TestHistogramEdges(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 {
		t.Fatal("empty histogram: nonzero quantile")
	}
	h.record(-5)
	h.record(time.Hour)
	if h.counts[0] != 1 || h.counts[histBuckets-1] != 1 || h.n != 2 {
		t.Fatalf("edges: counts[0] %d, last %d, n %d", h.counts[0], h.counts[histBuckets-1], h.n)
	}
	if got := h.quantile(1); got < 1<<histMaxBits-1<<(histMaxBits-histSubBits) {
		t.Fatalf("an hour reported as %v", got)
	}
	var m histogram
	m.record(400)
	m.merge(&h)
	if m.n != 3 || m.quantile(0.5) != 400 {
		t.Fatalf("merged: n %d, p50 %v", m.n, m.quantile(0.5))
	}
}

// TestHistogramRecordAllocs: recording on the hot path allocates nothing.
func TestHistogramRecordAllocs(t *testing.T) {
	l := newLoad(cell{mode: modeRR, size: 4096, conns: 1, depth: 8})
	l.phase.Store(phaseMeasure)
	if n := testing.AllocsPerRun(1000, func() { l.complete(0, 23*time.Microsecond) }); n != 0 {
		t.Fatalf("complete allocates %v per call", n)
	}
}

// cyclic reads the same bytes over and over.
type cyclic struct {
	b   []byte
	off int
}

func (c *cyclic) Read(p []byte) (int, error) {
	n := copy(p, c.b[c.off:])
	c.off = (c.off + n) % len(c.b)
	return n, nil
}

// TestFramedReceiveAllocs: the stdlib and rawframed receivers allocate nothing per message
// once their buffers exist (a header array that escaped cost them one allocation per message
// before 2026-12-07, which only the baselines paid).
func TestFramedReceiveAllocs(t *testing.T) {
	payload := pattern(4096)
	for _, f := range []framer{&msgr1Framer{}, lenFramer{}} {
		b := newBatcher(nil)
		f.put(b, 1, payload)
		f.putAck(b, 1)
		f.put(b, 2, nil)
		var frames []byte
		for _, p := range b.iov {
			frames = append(frames, p...)
		}
		br := bufio.NewReaderSize(&cyclic{b: frames}, readBufSize)
		rx := &rxPool{}
		for range 8 {
			if _, err := f.get(br, rx); err != nil {
				t.Fatal(err)
			}
		}
		n := testing.AllocsPerRun(1000, func() {
			if _, err := f.get(br, rx); err != nil {
				t.Fatal(err)
			}
		})
		if n != 0 {
			t.Errorf("%T: %v allocations per received message", f, n)
		}
	}
}

// TestSendTimesStampEveryKth: in rr a reply reads the clock only when the request it ends or
// the request it starts carries a time (every rrStampEvery-th, at most two reads per
// rrStampEvery replies); the stamped round trips are measured exactly, the others count
// without a time. Pingpong stamps every request.
func TestSendTimesStampEveryKth(t *testing.T) {
	const depth = 128
	s := newSendTimes(depth, stampEvery(cell{mode: modeRR}))
	base := time.Unix(1000, 0)
	clock := func(i int) time.Time { return base.Add(time.Duration(i) * time.Microsecond) }
	for i := range depth {
		var t0 time.Time
		if s.needNow() {
			t0 = clock(i)
		}
		s.push(t0)
	}
	reads, stamped := 0, 0
	const replies = 100 * rrStampEvery * depth
	for i := depth; i < depth+replies; i++ {
		var now time.Time
		if s.needNow() {
			now = clock(i)
			reads++
		}
		rtt := s.pop(now)
		if rtt != 0 {
			stamped++
			if rtt != depth*time.Microsecond {
				t.Fatalf("reply %d: round trip %v, want %v", i, rtt, depth*time.Microsecond)
			}
		}
		s.push(now)
	}
	if stamped != replies/rrStampEvery || reads > 2*replies/rrStampEvery {
		t.Fatalf("%d replies: %d stamped, %d clock reads", replies, stamped, reads)
	}
	p := newSendTimes(1, stampEvery(cell{mode: modePingpong}))
	for i := range 10 {
		if !p.needNow() {
			t.Fatalf("pingpong request %d not stamped", i)
		}
		p.push(clock(i))
		if got := p.pop(clock(i + 3)); got != 3*time.Microsecond {
			t.Fatalf("pingpong round trip %v", got)
		}
	}
}

// TestTCPCountersParse reads the counters from /proc/net/snmp and /proc/net/netstat texts
// (names on one line, values on the next, other prefixes ignored), and differences them.
func TestTCPCountersParse(t *testing.T) {
	var c tcpCounters
	c.parse(strings.NewReader("Ip: Forwarding DefaultTTL\nIp: 1 64\n" +
		"Tcp: RtoAlgorithm OutSegs RetransSegs InErrs\nTcp: 1 284137125 385392 37\n"))
	c.parse(strings.NewReader("TcpExt: SyncookiesSent TCPLossProbes TCPDSACKRecv TCPOFOQueue\nTcpExt: 0 14 282 461\n" +
		"IpExt: InNoRoutes\nIpExt: 5\n"))
	want := tcpCounters{OutSegs: 284137125, RetransSegs: 385392, LossProbes: 14, OFOQueue: 461, DSACKRecv: 282}
	if c != want {
		t.Fatalf("parsed %+v, want %+v", c, want)
	}
	if d := c.sub(tcpCounters{OutSegs: 284137000, RetransSegs: 385400}); d.OutSegs != 125 || d.RetransSegs != 0 || d.OFOQueue != 461 {
		t.Fatalf("difference %+v", d)
	}
	if live := readTCPCounters(); live.OutSegs == 0 {
		t.Logf("no TCP counters readable here: %+v", live)
	}
}
