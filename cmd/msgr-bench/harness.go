//go:build linux

package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"syscall"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
)

// contender is one way of moving the cell's messages over loopback TCP.
type contender interface {
	name() string
	// supports reports whether the contender can run the cell (rawtcp has no 0-byte messages).
	supports(c cell) bool
	// start sets up l.cell.conns connections and starts traffic that counts into l. It
	// returns once traffic is flowing (or failed to start).
	start(l *load) (running, error)
}

// running is a contender with traffic flowing.
type running interface {
	// stop ends the traffic and releases every connection and goroutine.
	stop() error
}

// sample is one measured run of one contender on one cell.
type sample struct {
	Contender  string  `json:"contender"`
	Mode       string  `json:"mode"`
	Size       int     `json:"size"`
	Conns      int     `json:"conns"`
	Depth      int     `json:"depth,omitempty"`
	Rep        int     `json:"rep"`
	Ops        uint64  `json:"ops"`
	Seconds    float64 `json:"seconds"`
	OpsPerSec  float64 `json:"msgs_per_sec"`
	MBPerSec   float64 `json:"mb_per_sec"`
	CPUSeconds float64 `json:"cpu_seconds"`
	SysSeconds float64 `json:"sys_seconds"`
	CPUUsPerOp float64 `json:"cpu_us_per_msg"`
	SysUsPerOp float64 `json:"sys_us_per_msg"`
	Cores      float64 `json:"cores"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	AllocsOp   float64 `json:"allocs_per_msg"`
	BytesOp    float64 `json:"alloc_bytes_per_msg"`
	GCs        uint64  `json:"gcs"`
	// The collector's share: its CPU time per message (runtime/metrics' estimate, updated at
	// each cycle's end), and what it had to scan at the end of the window (heap objects with
	// pointers, goroutine stacks, globals).
	GCUsPerOp   float64 `json:"gc_cpu_us_per_msg"`
	ScanHeapKB  float64 `json:"gc_scan_heap_kb"`
	ScanStackKB float64 `json:"gc_scan_stack_kb"`
	// Context switches of the process per message (getrusage, added 2026-12-07): voluntary
	// ones are its threads blocking (a wakeup each, so they count how the work was batched),
	// involuntary ones are its threads preempted, mostly by other processes (how disturbed
	// this window was on a shared machine).
	VCSWPerOp  float64 `json:"vcsw_per_msg"`
	IVCSWPerOp float64 `json:"ivcsw_per_msg"`
	// TCP counters of the whole network namespace over the window (added 2026-12-07): this
	// run's own only on an otherwise quiet machine (see tcpCounters).
	TCP tcpCounters `json:"netns_tcp"`
}

// snapshot is what the harness reads at the start and at the end of the measured window.
type snapshot struct {
	at     time.Time
	ops    uint64
	cpu    time.Duration
	sys    time.Duration
	csw    [2]int64 // voluntary, involuntary context switches
	tcp    tcpCounters
	allocs uint64
	bytes  uint64
	gcs    uint64
	gcCPU  float64 // seconds
	scan   [2]uint64
}

var metricNames = []string{"/gc/heap/allocs:objects", "/gc/heap/allocs:bytes", "/gc/cycles/total:gc-cycles",
	"/cpu/classes/gc/total:cpu-seconds", "/gc/scan/heap:bytes", "/gc/scan/stack:bytes"}

func takeSnapshot(l *load, ms []metrics.Sample) snapshot {
	s := snapshot{at: time.Now(), ops: l.total()}
	s.cpu, s.sys = processCPUSplit()
	s.csw = contextSwitches()
	s.tcp = readTCPCounters()
	metrics.Read(ms)
	s.allocs, s.bytes, s.gcs = ms[0].Value.Uint64(), ms[1].Value.Uint64(), ms[2].Value.Uint64()
	s.gcCPU, s.scan = ms[3].Value.Float64(), [2]uint64{ms[4].Value.Uint64(), ms[5].Value.Uint64()}
	return s
}

// processCPU is user+system CPU time of the whole process (getrusage RUSAGE_SELF).
func processCPU() time.Duration {
	all, _ := processCPUSplit()
	return all
}

// contextSwitches is the process's voluntary and involuntary context switches (getrusage).
func contextSwitches() [2]int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return [2]int64{}
	}
	return [2]int64{ru.Nvcsw, ru.Nivcsw}
}

// processCPUSplit is user+system CPU time of the process, and its system part.
func processCPUSplit() (all, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Stime.Nano())
}

// runOptions are the timing knobs of one run.
type runOptions struct {
	warmup   time.Duration
	duration time.Duration
	profile  *profiler // nil: no profiling
	heap     string    // if set, PREFIX of the live-heap profiles written at the end of each measured window
}

// measure runs ct on c once: warm up, measure, stop.
func measure(ct contender, c cell, rep int, o runOptions) (sample, error) {
	l := newLoad(c)
	r, err := ct.start(l)
	if err != nil {
		return sample{}, fmt.Errorf("%s %v: %w", ct.name(), c, err)
	}
	time.Sleep(o.warmup)
	ms := make([]metrics.Sample, len(metricNames))
	for i, n := range metricNames {
		ms[i].Name = n
	}
	o.profile.begin(ct.name(), c, rep)
	before := takeSnapshot(l, ms)
	l.phase.Store(phaseMeasure)
	time.Sleep(o.duration)
	l.phase.Store(phaseDone)
	after := takeSnapshot(l, ms)
	o.profile.end()
	if o.heap != "" {
		if err := writeHeapProfile(fmt.Sprintf("%s-%s-%s-%s-c%d-r%d.pprof", o.heap, ct.name(), c.mode, sizeName(c.size), c.conns, rep)); err != nil {
			return sample{}, err
		}
	}
	l.halt()
	if err := r.stop(); err != nil {
		return sample{}, fmt.Errorf("%s %v: stop: %w", ct.name(), c, err)
	}
	return makeSample(ct.name(), c, rep, before, after, l.latencies()), nil
}

// writeHeapProfile writes the live heap while the contender still runs (after a collection,
// which is what the profile reflects): what the collector marks at every cycle.
func writeHeapProfile(path string) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(fh, 0); err != nil {
		_ = fh.Close()
		return err
	}
	return fh.Close()
}

func makeSample(name string, c cell, rep int, before, after snapshot, lat *histogram) sample {
	s := sample{Contender: name, Mode: c.mode, Size: c.size, Conns: c.conns, Rep: rep}
	if c.mode == modeRR {
		s.Depth = c.outstanding()
	}
	s.Ops = after.ops - before.ops
	s.Seconds = after.at.Sub(before.at).Seconds()
	s.CPUSeconds = (after.cpu - before.cpu).Seconds()
	s.SysSeconds = (after.sys - before.sys).Seconds()
	s.GCs = after.gcs - before.gcs
	if s.Seconds > 0 {
		s.OpsPerSec = float64(s.Ops) / s.Seconds
		s.Cores = s.CPUSeconds / s.Seconds
	}
	s.MBPerSec = s.OpsPerSec * float64(c.size) / 1e6
	if s.Ops > 0 {
		ops := float64(s.Ops)
		s.CPUUsPerOp = s.CPUSeconds * 1e6 / ops
		s.SysUsPerOp = s.SysSeconds * 1e6 / ops
		s.AllocsOp = float64(after.allocs-before.allocs) / ops
		s.BytesOp = float64(after.bytes-before.bytes) / ops
		s.GCUsPerOp = (after.gcCPU - before.gcCPU) * 1e6 / ops
		s.VCSWPerOp = float64(after.csw[0]-before.csw[0]) / ops
		s.IVCSWPerOp = float64(after.csw[1]-before.csw[1]) / ops
	}
	s.ScanHeapKB, s.ScanStackKB = float64(after.scan[0])/1024, float64(after.scan[1])/1024
	s.TCP = after.tcp.sub(before.tcp)
	s.P50us = float64(lat.quantile(0.50)) / 1e3
	s.P99us = float64(lat.quantile(0.99)) / 1e3
	return s
}

// matrix is what one invocation measures.
type matrix struct {
	cells      []cell
	contenders []contender
	reps       int
	seed       uint64
	run        runOptions
	settle     time.Duration // pause after runtime.GC() between runs
	progress   func(sample)
}

// runMatrix runs every cell reps times; within each repetition the contenders of a cell run
// back to back in an order shuffled by the seed, so drift hits all of them alike.
func runMatrix(mx matrix) ([]sample, error) {
	rnd := detrand.NewSeeded(mx.seed)
	var out []sample
	for rep := 1; rep <= mx.reps; rep++ {
		for _, c := range mx.cells {
			for _, i := range shuffled(rnd, len(mx.contenders)) {
				ct := mx.contenders[i]
				if !ct.supports(c) {
					continue
				}
				runtime.GC()
				time.Sleep(mx.settle)
				s, err := measure(ct, c, rep, mx.run)
				if err != nil {
					return out, err
				}
				out = append(out, s)
				if mx.progress != nil {
					mx.progress(s)
				}
			}
		}
	}
	return out, nil
}

func shuffled(r *detrand.Rand, n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := r.IntN(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// profiler writes a CPU profile (or, with trace set, a Go execution trace) of every measured
// window of one contender, one file per window (go tool pprof merges several profiles given
// together; go tool trace reads one trace).
type profiler struct {
	prefix    string // file name prefix
	contender string // whose windows are profiled
	trace     bool   // runtime/trace instead of the CPU profiler
	f         *os.File
	err       error
}

func (p *profiler) begin(name string, c cell, rep int) {
	if p == nil || name != p.contender || p.err != nil {
		return
	}
	ext, start := "pprof", pprof.StartCPUProfile
	if p.trace {
		ext, start = "trace", trace.Start
	}
	path := fmt.Sprintf("%s-%s-%s-%s-c%d-r%d.%s", p.prefix, name, c.mode, sizeName(c.size), c.conns, rep, ext)
	f, err := os.Create(path)
	if err != nil {
		p.err = err
		return
	}
	if err := start(f); err != nil {
		_ = f.Close()
		p.err = err
		return
	}
	p.f = f
}

func (p *profiler) end() {
	if p == nil || p.f == nil {
		return
	}
	if p.trace {
		trace.Stop()
	} else {
		pprof.StopCPUProfile()
	}
	if err := p.f.Close(); err != nil && p.err == nil {
		p.err = err
	}
	p.f = nil
}

// cellKey identifies a cell in the aggregated results.
type cellKey struct {
	mode        string
	size, conns int
}

func keyOf(s sample) cellKey { return cellKey{s.Mode, s.Size, s.Conns} }

// summary is the median over repetitions of one contender on one cell.
type summary struct {
	Contender  string  `json:"contender"`
	Mode       string  `json:"mode"`
	Size       int     `json:"size"`
	Conns      int     `json:"conns"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	MBPerSec   float64 `json:"mb_per_sec"`
	CPUUsPer   float64 `json:"cpu_us_per_msg"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	AllocsPer  float64 `json:"allocs_per_msg"`
}

// summarize takes the median of every metric over the repetitions of each (contender, cell),
// in the order the cells were first seen.
func summarize(samples []sample) []summary {
	type group struct {
		key cellKey
		ct  string
		ss  []sample
	}
	var order []*group
	idx := map[string]*group{}
	for _, s := range samples {
		k := fmt.Sprintf("%s/%s/%d/%d", s.Contender, s.Mode, s.Size, s.Conns)
		g := idx[k]
		if g == nil {
			g = &group{key: keyOf(s), ct: s.Contender}
			idx[k] = g
			order = append(order, g)
		}
		g.ss = append(g.ss, s)
	}
	out := make([]summary, 0, len(order))
	for _, g := range order {
		med := func(f func(sample) float64) float64 {
			xs := make([]float64, len(g.ss))
			for i, s := range g.ss {
				xs[i] = f(s)
			}
			return round(median(xs))
		}
		out = append(out, summary{
			Contender: g.ct, Mode: g.key.mode, Size: g.key.size, Conns: g.key.conns,
			MsgsPerSec: med(func(s sample) float64 { return s.OpsPerSec }),
			MBPerSec:   med(func(s sample) float64 { return s.MBPerSec }),
			CPUUsPer:   med(func(s sample) float64 { return s.CPUUsPerOp }),
			P50us:      med(func(s sample) float64 { return s.P50us }),
			P99us:      med(func(s sample) float64 { return s.P99us }),
			AllocsPer:  med(func(s sample) float64 { return s.AllocsOp }),
		})
	}
	return out
}

// round keeps 4 significant digits (enough for noisy measurements, short JSON).
func round(x float64) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	mag := math.Pow(10, 3-math.Floor(math.Log10(math.Abs(x))))
	return math.Round(x*mag) / mag
}

// ratio is a paired comparison of msgr against another contender on one cell: the ratio is
// computed within each repetition, then the median (and range) over repetitions is taken.
type ratio struct {
	Mode    string  `json:"mode"`
	Size    int     `json:"size"`
	Conns   int     `json:"conns"`
	Of      string  `json:"of,omitempty"` // the contender compared: msgr when empty, or msgr-inline, msgr-alloc
	Versus  string  `json:"versus"`
	Metric  string  `json:"metric"`
	Median  float64 `json:"median"`
	Min     float64 `json:"min"`
	Max     float64 `json:"max"`
	Samples int     `json:"samples"`
}

// ratioMetrics are the metrics compared; for cpu, p50 and p99 lower is better for msgr. The
// latency ratios come from each sample's own histogram quantiles (within histMaxRelErr of
// the true round-trip times), not from the rounded summaries.
var ratioMetrics = []struct {
	name string
	get  func(sample) float64
}{
	{"msgs_per_sec", func(s sample) float64 { return s.OpsPerSec }},
	{"cpu_us_per_msg", func(s sample) float64 { return s.CPUUsPerOp }},
	{"p50_us", func(s sample) float64 { return s.P50us }},
	{"p99_us", func(s sample) float64 { return s.P99us }},
}

// ratioPairs are the (contender, other) pairs whose paired ratios are computed: msgr and
// msgr-inline (Config.SendInline) against the others, and msgr-inline against msgr; msgr-alloc
// (a new message per send) against stdlib and msgr.
var ratioPairs = [][2]string{
	{"msgr", "stdlib"}, {"msgr", "rawframed"}, {"msgr", "rawtcp"},
	{"msgr-inline", "stdlib"}, {"msgr-inline", "rawframed"}, {"msgr-inline", "rawtcp"}, {"msgr-inline", "msgr"},
	{"msgr-alloc", "stdlib"}, {"msgr-alloc", "msgr"},
}

// pairedRatios computes msgr/other per repetition for every cell and other contender.
func pairedRatios(samples []sample) []ratio {
	type k struct {
		cell cellKey
		rep  int
	}
	byCell := map[k]map[string]sample{}
	var cells []cellKey
	seen := map[cellKey]bool{}
	for _, s := range samples {
		kk := k{keyOf(s), s.Rep}
		if byCell[kk] == nil {
			byCell[kk] = map[string]sample{}
		}
		byCell[kk][s.Contender] = s
		if !seen[keyOf(s)] {
			seen[keyOf(s)] = true
			cells = append(cells, keyOf(s))
		}
	}
	var out []ratio
	for _, c := range cells {
		for _, pair := range ratioPairs {
			of, other := pair[0], pair[1]
			for _, m := range ratioMetrics {
				if (m.name == "p50_us" || m.name == "p99_us") && c.mode == modeOneway {
					continue
				}
				var xs []float64
				for rep := 1; ; rep++ {
					row, ok := byCell[k{c, rep}]
					if !ok {
						break
					}
					a, okA := row[of]
					b, okB := row[other]
					if okA && okB && m.get(b) > 0 {
						xs = append(xs, m.get(a)/m.get(b))
					}
				}
				if len(xs) == 0 {
					continue
				}
				lo, hi := xs[0], xs[0]
				for _, x := range xs {
					lo, hi = min(lo, x), max(hi, x)
				}
				label := of
				if label == "msgr" {
					label = "" // the JSON of msgr's ratios is as before msgr-inline existed
				}
				out = append(out, ratio{Mode: c.mode, Size: c.size, Conns: c.conns, Of: label, Versus: other,
					Metric: m.name, Median: round(median(xs)), Min: round(lo), Max: round(hi), Samples: len(xs)})
			}
		}
	}
	return out
}
