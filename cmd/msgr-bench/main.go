//go:build linux

// Command msgr-bench measures the real messenger stack against Go's net package and raw TCP
// on loopback, and the simulator's speed.
//
// Usage:
//
//	msgr-bench [run] [-modes oneway,pingpong,rr[,think]] [-sizes 0,4K,64K,4M] [-conns 1,8,64]
//	           [-contenders msgr,stdlib,rawframed,rawtcp[,msgr-inline,msgr-alloc]] [-duration 2s] [-warmup 500ms]
//	           [-reps 3] [-depth 128] [-think 1ms] [-workers 2] [-spin 50us] [-writechunk -1] [-notsentlowat 65536] [-seed 1]
//	           [-out report.json] [-cpuprofile prefix | -trace prefix [-profile msgr]] [-json]
//	msgr-bench sim [-seeds 200] [-messages 2000] [-json]
//	msgr-bench idle [-conns 1024] [-json]
//
// run measures every cell of the matrix (mode × size × connections) for every contender,
// -reps times; within each repetition the contenders of a cell run back to back in a seeded
// random order, so drift on a shared machine hits all of them. It prints the medians and the
// paired ratios of msgr to the others; with -json the last line is
// {"results":[{"contender":…,"mode":…,"size":…,"conns":…,"msgs_per_sec":…,"mb_per_sec":…,
// "cpu_us_per_msg":…,"p50_us":…,"p99_us":…,"allocs_per_msg":…},…]}. In pingpong, rr and
// think an operation ("msg" in the field names) is a round trip of two messages, and p50_us
// and p99_us come from a log-linear histogram with 256 sub-buckets per power of two of
// nanoseconds (within 0.2% of the true quantile; the -out report says so in
// "latency_histogram"); the paired ratios include p50_us and p99_us. think (not
// in the default matrix) sends each request from an application goroutine, -think after the
// previous reply reached it, to a quiet session: the case msgr-inline (Config.SendInline) is
// for.
//
// The msgr contenders send messages lent by the messenger, which come back to its free list
// when the peer acknowledges them, as Ceph's do: each client connection's sender (the one-way
// goroutine, or the client's dispatcher) through its own Messenger.NewLender, the server's
// replies through Messenger.NewMessage (-lender=false: NewMessage everywhere, as before
// 2026-12-07); msgr-alloc (not in the
// default list) allocates a new message per send instead (wire.NewMessage), as msgr did
// before NewMessage existed, for a paired comparison of the two.
//
// Exit status: 0 on success, 1 when a run failed, 2 on a usage error.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

const usage = `msgr-bench: the messenger against Go's net package and raw TCP, and the simulator's speed

Usage:
  msgr-bench [run] [flags]   the loopback matrix (run "msgr-bench run -h" for the flags)
  msgr-bench sim [flags]     simulated messages per second and seeds per minute per core
  msgr-bench idle [flags]    memory per idle connection: msgr against stdlib
`

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runCmd(args, stdout, stderr)
	case "sim":
		return simCmd(args, stdout, stderr)
	case "idle":
		return idleCmd(args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "msgr-bench: unknown command %q\n%s", cmd, usage)
	return 2
}

// runFlags are the flags of run.
type runFlags struct {
	modes, sizes, conns, contenders string
	duration, warmup, settle        time.Duration
	reps, depth, workers, prefetch  int
	writeChunk, notSentLowat        int
	spin, think                     time.Duration
	seed                            uint64
	out, cpuprofile, profile        string
	tracePrefix                     string
	memprofile, heapprofile         string
	json, quiet, threadWait         bool
	replyWhileReading               bool
	lender                          bool
}

func parseRunFlags(args []string, stderr io.Writer) (*runFlags, error) {
	f := &runFlags{}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.modes, "modes", "oneway,pingpong,rr", "modes: oneway, pingpong, rr, think")
	fs.StringVar(&f.sizes, "sizes", "0,4K,64K,4M", "payload sizes (bytes, or with K/M suffix)")
	fs.StringVar(&f.conns, "conns", "1,8,64", "connection counts")
	fs.StringVar(&f.contenders, "contenders", "msgr,stdlib,rawframed,rawtcp", "contenders to run")
	fs.DurationVar(&f.duration, "duration", 2*time.Second, "measured time per run")
	fs.DurationVar(&f.warmup, "warmup", 500*time.Millisecond, "unmeasured time before each measurement")
	fs.DurationVar(&f.settle, "settle", 100*time.Millisecond, "pause after a GC between runs")
	fs.IntVar(&f.reps, "reps", 3, "repetitions of every cell")
	fs.IntVar(&f.depth, "depth", defaultRRDepth, "requests outstanding per connection in rr mode")
	fs.DurationVar(&f.think, "think", time.Millisecond, "think mode: the client goroutine's pause between a reply and its next request")
	fs.IntVar(&f.workers, "workers", 2, "msgr: worker centers of the server and of the client pool")
	fs.DurationVar(&f.spin, "spin", defaultSpin, "msgr: epoll busy-poll before blocking (0: off)")
	fs.IntVar(&f.notSentLowat, "notsentlowat", 0, "msgr: epoll NotSentLowat, TCP_NOTSENT_LOWAT on the messengers' sockets (0: none, the default)")
	fs.IntVar(&f.writeChunk, "writechunk", 0, "msgr: epoll WriteChunk, the data crc computed per chunk of this many bytes right before it is written (0: the stack's default, 256 KiB; -1: the whole crc when encoded)")
	fs.IntVar(&f.prefetch, "prefetch", readBufSize, "msgr: PrefetchSize, the read buffer (stdlib's bufio.Reader is as large)")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the contender order")
	fs.StringVar(&f.out, "out", "", "write the full report (environment, every sample, ratios) to this JSON file")
	fs.StringVar(&f.cpuprofile, "cpuprofile", "", "write CPU profiles of the measured windows to PREFIX-*.pprof")
	fs.StringVar(&f.profile, "profile", "msgr", "the contender -cpuprofile (or -trace) profiles")
	fs.StringVar(&f.tracePrefix, "trace", "", "write Go execution traces of the measured windows to PREFIX-*.trace (go tool trace; not with -cpuprofile)")
	fs.StringVar(&f.memprofile, "memprofile", "", "write an allocation profile (every allocation sampled) of the whole run to this file")
	fs.StringVar(&f.heapprofile, "heapprofile", "", "write the live heap at the end of every measured window to PREFIX-*.pprof (samples every allocation)")
	fs.BoolVar(&f.replyWhileReading, "replywhilereading", false, "msgr: Config.ReplyWhileReading, replies written after every 64 KiB read by a connection alone on its center (the stdlib contender writes once its input is drained)")
	fs.BoolVar(&f.lender, "lender", true, "msgr: each client connection's sender (the one-way goroutine, the client's dispatcher) lends its messages through a Messenger.NewLender (one free-list lock per 32 messages); false: Messenger.NewMessage per message, as before 2026-12-07")
	fs.BoolVar(&f.threadWait, "threadwait", false, "msgr: block event loops' threads in epoll_wait instead of parking in Go's netpoller")
	fs.BoolVar(&f.json, "json", false, "print the summary as JSON on the last line")
	fs.BoolVar(&f.quiet, "q", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if f.reps < 1 || f.duration <= 0 || f.depth < 1 || f.workers < 1 || f.warmup < 0 {
		return nil, errors.New("-reps, -duration, -depth and -workers must be positive")
	}
	return f, nil
}

// defaultSpin is the msgr contender's epoll busy-poll budget: none, as the event loops park in
// Go's netpoller, whose scheduler spins already (measured: any spin made ping-pong slower).
const defaultSpin = 0

func (f *runFlags) matrix() (matrix, error) {
	modes := splitList(f.modes)
	for _, m := range modes {
		if m != modeOneway && m != modePingpong && m != modeRR && m != modeThink {
			return matrix{}, fmt.Errorf("unknown mode %q", m)
		}
	}
	sizes, err := parseInts(f.sizes, true)
	if err != nil {
		return matrix{}, fmt.Errorf("-sizes: %w", err)
	}
	conns, err := parseInts(f.conns, false)
	if err != nil {
		return matrix{}, fmt.Errorf("-conns: %w", err)
	}
	cts, err := f.contenderList()
	if err != nil {
		return matrix{}, err
	}
	mx := matrix{contenders: cts, reps: f.reps, seed: f.seed, settle: f.settle,
		run: runOptions{warmup: f.warmup, duration: f.duration}}
	for _, m := range modes {
		for _, s := range sizes {
			for _, c := range conns {
				if c < 1 || s < 0 {
					return matrix{}, fmt.Errorf("bad cell: size %d, conns %d", s, c)
				}
				mx.cells = append(mx.cells, cell{mode: m, size: s, conns: c, depth: f.depth, think: f.think})
			}
		}
	}
	mx.run.heap = f.heapprofile
	switch {
	case f.cpuprofile != "" && f.tracePrefix != "":
		return matrix{}, errors.New("-cpuprofile and -trace: one at a time")
	case f.cpuprofile != "":
		mx.run.profile = &profiler{prefix: f.cpuprofile, contender: f.profile}
	case f.tracePrefix != "":
		mx.run.profile = &profiler{prefix: f.tracePrefix, contender: f.profile, trace: true}
	}
	return mx, nil
}

func (f *runFlags) contenderList() ([]contender, error) {
	var out []contender
	for _, n := range splitList(f.contenders) {
		switch n {
		case "msgr", "msgr-inline", "msgr-alloc":
			out = append(out, msgrContender{workers: f.workers, spin: f.spin, prefetch: f.prefetch, thread: f.threadWait,
				inline: n == "msgr-inline", alloc: n == "msgr-alloc", chunk: f.writeChunk, lowat: f.notSentLowat, replyWhileReading: f.replyWhileReading, lender: f.lender})
		case "stdlib":
			out = append(out, stdlibContender{})
		case "rawframed":
			out = append(out, rawFramedContender{})
		case "rawtcp":
			out = append(out, rawTCPContender{})
		default:
			return nil, fmt.Errorf("unknown contender %q", n)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no contenders")
	}
	return out, nil
}

func runCmd(args []string, stdout, stderr io.Writer) int {
	f, err := parseRunFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "msgr-bench run:", err)
		return 2
	}
	mx, err := f.matrix()
	if err != nil {
		fmt.Fprintln(stderr, "msgr-bench run:", err)
		return 2
	}
	if !f.quiet {
		mx.progress = func(s sample) { fmt.Fprintln(stderr, progressLine(s)) }
	}
	env := readEnv()
	if f.memprofile != "" || f.heapprofile != "" {
		runtime.MemProfileRate = 1
	}
	samples, err := runMatrix(mx)
	if f.memprofile != "" {
		if err := writeMemProfile(f.memprofile); err != nil {
			fmt.Fprintln(stderr, "msgr-bench run: memprofile:", err)
		}
	}
	env.LoadAfter = loadAverage()
	if mx.run.profile != nil && mx.run.profile.err != nil {
		fmt.Fprintln(stderr, "msgr-bench run: profile:", mx.run.profile.err)
	}
	if err != nil {
		fmt.Fprintln(stderr, "msgr-bench run:", err)
		return 1
	}
	sum := summarize(samples)
	ratios := pairedRatios(samples)
	printTable(stdout, sum)
	printRatios(stdout, ratios)
	if f.out != "" {
		rep := report{Env: env, Flags: f.describe(), Latency: latencyInfo(), Results: sum, Ratios: ratios, Samples: samples}
		if err := writeJSONFile(f.out, rep); err != nil {
			fmt.Fprintln(stderr, "msgr-bench run:", err)
			return 1
		}
	}
	if f.json {
		b, err := json.Marshal(struct {
			Results []summary `json:"results"`
		}{sum})
		if err != nil {
			fmt.Fprintln(stderr, "msgr-bench run:", err)
			return 1
		}
		fmt.Fprintln(stdout, string(b))
	}
	return 0
}

func (f *runFlags) describe() map[string]string {
	return map[string]string{
		"modes": f.modes, "sizes": f.sizes, "conns": f.conns, "contenders": f.contenders,
		"duration": f.duration.String(), "warmup": f.warmup.String(), "reps": strconv.Itoa(f.reps),
		"depth": strconv.Itoa(f.depth), "workers": strconv.Itoa(f.workers), "spin": f.spin.String(), "prefetch": strconv.Itoa(f.prefetch),
		"writechunk": strconv.Itoa(f.writeChunk), "notsentlowat": strconv.Itoa(f.notSentLowat), "seed": strconv.FormatUint(f.seed, 10),
		"replywhilereading": strconv.FormatBool(f.replyWhileReading), "lender": strconv.FormatBool(f.lender),
	}
}

// report is the full record of a run, written by -out (and read by scripts/benchplot).
type report struct {
	Env     env               `json:"env"`
	Flags   map[string]string `json:"flags"`
	Latency latencyHistogram  `json:"latency_histogram"` // since 2026-12-07; absent: 32 sub-buckets
	Results []summary         `json:"results"`
	Ratios  []ratio           `json:"ratios"`
	Samples []sample          `json:"samples"`
}

// latencyHistogram describes how p50_us and p99_us were computed, so that a reader of the
// report knows their resolution.
type latencyHistogram struct {
	SubBuckets   int     `json:"sub_buckets_per_octave"` // buckets per power of two of nanoseconds
	ExactBelowNs int     `json:"exact_below_ns"`         // every nanosecond its own bucket below this
	MaxRelError  float64 `json:"max_rel_error"`          // |quantile - true sample| / true sample, at most
}

func latencyInfo() latencyHistogram {
	return latencyHistogram{SubBuckets: histSub, ExactBelowNs: 2 * histSub, MaxRelError: histMaxRelErr}
}

func writeMemProfile(path string) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC() // the profile is as of the last completed collection
	if err := pprof.Lookup("allocs").WriteTo(fh, 0); err != nil {
		_ = fh.Close()
		return err
	}
	return fh.Close()
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// perMillion is n per million ops (0 without ops).
func perMillion(n, ops uint64) float64 {
	if ops == 0 {
		return 0
	}
	return float64(n) * 1e6 / float64(ops)
}

func progressLine(s sample) string {
	line := fmt.Sprintf("rep %d %-9s %-8s %4s x%-3d %11.0f ops/s %9.1f MB/s %7.2f µs cpu/op (sys %.2f) %4.2f cores %6.2f allocs/op (%.0f B) gc %.3f µs/op %.0f/Mmsg, scan heap %.0f KB stack %.0f KB",
		s.Rep, s.Contender, s.Mode, sizeName(s.Size), s.Conns, s.OpsPerSec, s.MBPerSec, s.CPUUsPerOp, s.SysUsPerOp, s.Cores, s.AllocsOp,
		s.BytesOp, s.GCUsPerOp, perMillion(s.GCs, s.Ops), s.ScanHeapKB, s.ScanStackKB)
	line += fmt.Sprintf(" csw/Kmsg %.1f vol %.1f invol, tcp (netns) retrans %d ofo %d", 1e3*s.VCSWPerOp, 1e3*s.IVCSWPerOp,
		s.TCP.RetransSegs, s.TCP.OFOQueue)
	if s.Mode != modeOneway {
		line += fmt.Sprintf("  p50 %.2f µs p99 %.1f µs", s.P50us, s.P99us)
	}
	return line
}

func printTable(w io.Writer, sum []summary) {
	fmt.Fprintf(w, "%-8s %5s %5s  %-9s %12s %10s %10s %9s %9s %9s\n",
		"mode", "size", "conns", "contender", "ops/s", "MB/s", "cpu µs/op", "p50 µs", "p99 µs", "allocs/op")
	for _, s := range sum {
		fmt.Fprintf(w, "%-8s %5s %5d  %-9s %12.0f %10.1f %10.2f %9.2f %9.1f %9.2f\n",
			s.Mode, sizeName(s.Size), s.Conns, s.Contender, s.MsgsPerSec, s.MBPerSec, s.CPUUsPer, s.P50us, s.P99us, s.AllocsPer)
	}
}

func printRatios(w io.Writer, rs []ratio) {
	if len(rs) == 0 {
		return
	}
	fmt.Fprintf(w, "\npaired ratios msgr/other (median of per-repetition ratios [min, max]):\n")
	for _, r := range rs {
		of := r.Of
		if of == "" {
			of = "msgr"
		}
		fmt.Fprintf(w, "  %-8s %4s x%-3d %-15s %-11s vs %-9s %6.3f [%.3f, %.3f]\n",
			r.Mode, sizeName(r.Size), r.Conns, r.Metric, of, r.Versus, r.Median, r.Min, r.Max)
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseInts parses a comma-separated list; with suffixes, 4K and 4M mean 4096 and 4194304.
func parseInts(s string, suffixes bool) ([]int, error) {
	var out []int
	for _, p := range splitList(s) {
		mult := 1
		if suffixes {
			switch {
			case strings.HasSuffix(p, "K"), strings.HasSuffix(p, "k"):
				mult, p = 1<<10, p[:len(p)-1]
			case strings.HasSuffix(p, "M"), strings.HasSuffix(p, "m"):
				mult, p = 1<<20, p[:len(p)-1]
			}
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad number %q", p)
		}
		out = append(out, n*mult)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

func now() time.Time { return time.Now() }
