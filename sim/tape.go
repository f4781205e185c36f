package sim

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/workload/synthetic"
)

// A Tape is a run written down: the scenario's shape, its fault mix and every decision the run
// drew, in order. Replaying it reproduces the run exactly, whatever produced it — a seed, a
// fuzzer's bytes, or the shrinker. Past the end of Words every decision is 0, the tamest one
// (no fault, the shortest delay, the whole buffer, the first ready center), so a tape only
// needs the decisions that matter; Decisions counts those that are not 0.
type Tape struct {
	Seed     uint64 // the seed the decisions came from (informational once recorded)
	Workload string // Options.Workload ("" for the default scenario)
	OSDs     int
	Clients  int
	Messages int
	Window   time.Duration
	Preset   string // the synthetic workload's preset ("": drawn from Seed)
	Auth     string // Options.Auth: AuthCephx, or "" for none (written auth=cephx)
	Faults   Faults
	Knobs    Knobs  // the messengers' configuration (the zero value: the defaults)
	Expect   string // the violation the run is known to produce ("" for a passing run)
	// StepBudget is the run's budget of steps (Options.StepBudget; 0: none). A tape that
	// expects OutcomeBudget reproduces it only within the same budget.
	StepBudget uint64
	// Build says which build made the tape (one line, key=value words, e.g. msgr-sim's
	// "version=… commit=… tags=canary go=…"), and Canary the deliberate bug that build ran
	// with ("": none): a tape whose expected violation needs a canary replays it only there.
	// Both are informational: Options does not use them.
	Build  string
	Canary string
	Words  []uint64
}

// TapeOf records the run of opts and returns its tape and result.
func TapeOf(opts Options) (Tape, Result) {
	opts.Record = true
	r := Run(opts)
	t := TapeFromRun(opts, r)
	return t, r
}

// TapeFromRun is the tape of a run that recorded its decisions (Record, Replay or Fuzz): a
// fuzzer that found a failing input writes it down this way, and the tape replays that run.
func TapeFromRun(opts Options, r Result) Tape {
	opts.setDefaults()
	t := Tape{Seed: opts.Seed, Workload: opts.Workload, OSDs: opts.OSDs, Clients: opts.Clients, Messages: opts.Messages,
		Window: opts.Window, Faults: r.Faults, Knobs: r.Knobs, Words: trimZeros(r.Tape)}
	if opts.Workload == WorkloadSynthetic {
		t.Preset = opts.Preset
	}
	t.Auth = opts.authFor()
	if len(r.Violations) > 0 {
		t.Expect = r.Violations[0].Name
	}
	if r.Exceeded == BudgetAborted && t.Expect == OutcomeBudget {
		t.Expect = "" // stopped by the wall clock or an interrupt: no replay can promise that
	}
	t.StepBudget = opts.StepBudget
	return t
}

// Options are the options that replay the tape.
func (t *Tape) Options() Options {
	f, k := t.Faults, t.Knobs
	return Options{Seed: t.Seed, Workload: t.Workload, Preset: t.Preset, Auth: t.Auth, OSDs: t.OSDs, Clients: t.Clients,
		Messages: t.Messages, Window: t.Window, Faults: &f, Knobs: &k, Tape: t.Words, Replay: true, StepBudget: t.StepBudget}
}

// Replay runs the tape. Result.Tape holds the decisions the run used.
func (t *Tape) Replay() Result { return Run(t.Options()) }

// Decisions counts the decisions that are not 0.
func (t *Tape) Decisions() int {
	n := 0
	for _, w := range t.Words {
		if w != 0 {
			n++
		}
	}
	return n
}

func trimZeros(w []uint64) []uint64 {
	n := len(w)
	for n > 0 && w[n-1] == 0 {
		n--
	}
	return w[:n:n]
}

// The first line of a tape. Version 2 added the optional build, canary and budget lines; a
// version 1 tape reads as one without them. Version 3 adds the knobs line (the configuration
// swarm's); a tape without knobs is still written as version 2, and older versions read as
// tapes of the default configuration.
const (
	tapeMagic   = "msgr-sim tape 2"
	tapeMagicV3 = "msgr-sim tape 3"
	tapeMagicV1 = "msgr-sim tape 1"
)

// WriteTo writes the tape in its text form: a header of key-value lines, then one line per
// decision that is not 0, "index value" with the value in hex.
func (t *Tape) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	if t.Knobs != (Knobs{}) {
		fmt.Fprintln(&b, tapeMagicV3)
	} else {
		fmt.Fprintln(&b, tapeMagic)
	}
	if t.Build != "" {
		fmt.Fprintf(&b, "build %s\n", oneLine(t.Build))
	}
	if t.Canary != "" {
		fmt.Fprintf(&b, "canary %s\n", oneLine(t.Canary))
	}
	fmt.Fprintf(&b, "seed %d\n", t.Seed)
	if t.StepBudget > 0 {
		fmt.Fprintf(&b, "budget steps=%d\n", t.StepBudget)
	}
	kind := ""
	if t.Workload != "" {
		kind = "kind=" + t.Workload + " "
	}
	if t.Preset != "" {
		kind += "preset=" + t.Preset + " "
	}
	if t.Auth != "" {
		kind += "auth=" + t.Auth + " "
	}
	fmt.Fprintf(&b, "workload %sosds=%d clients=%d messages=%d window=%v\n", kind, t.OSDs, t.Clients, t.Messages, t.Window)
	f := t.Faults
	on := strings.Join(f.Names(), ",")
	if on == "" {
		on = "none"
	}
	fmt.Fprintf(&b, "faults on=%s every=%v cut_bias=%v latency_spread=%v jitter=%v connect_faults=%v socket_failures=%d delay_max=%v delay_prob=%v\n",
		on, f.Every, f.CutBias, f.LatencySpread, f.Jitter, f.ConnectFaults, f.SocketFailures, f.DelayMax, f.DelayProb)
	if t.Knobs != (Knobs{}) {
		fmt.Fprintf(&b, "knobs %v\n", t.Knobs)
	}
	if t.Expect != "" {
		fmt.Fprintf(&b, "expect %s\n", t.Expect)
	}
	fmt.Fprintf(&b, "decisions %d of %d\n", t.Decisions(), len(t.Words))
	for i, v := range t.Words {
		if v != 0 {
			fmt.Fprintf(&b, "%d %x\n", i, v)
		}
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// ReadTape parses a tape written by WriteTo.
func ReadTape(r io.Reader) (Tape, error) {
	sc := bufio.NewScanner(r)
	var t Tape
	line := 0
	fail := func(format string, args ...any) (Tape, error) {
		return Tape{}, fmt.Errorf("tape line %d: %s", line, fmt.Sprintf(format, args...))
	}
	const maxWords = 1 << 22 // a bound on what a tape may claim, before allocating (32 MiB)
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if line == 1 {
			if text != tapeMagic && text != tapeMagicV1 && text != tapeMagicV3 {
				return fail("not a msgr-sim tape (want %q)", tapeMagic)
			}
			continue
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, rest, _ := strings.Cut(text, " ")
		var err error
		switch key {
		case "seed":
			t.Seed, err = strconv.ParseUint(rest, 10, 64)
		case "workload":
			err = t.parseWorkload(rest)
		case "faults":
			t.Faults, err = parseFaultLine(rest)
		case "knobs":
			t.Knobs, err = ParseKnobs(rest)
		case "expect":
			t.Expect = rest
		case "build":
			t.Build = rest
		case "canary":
			t.Canary = rest
		case "budget":
			n, ok := strings.CutPrefix(rest, "steps=")
			if !ok {
				return fail("budget: want steps=N, got %q", rest)
			}
			t.StepBudget, err = strconv.ParseUint(n, 10, 64)
		case "decisions":
			var nz, total int
			if _, err = fmt.Sscanf(rest, "%d of %d", &nz, &total); err == nil {
				if total < 0 || total > maxWords {
					return fail("%d decisions: more than %d", total, maxWords)
				}
				t.Words = make([]uint64, total)
			}
		default:
			idx, err1 := strconv.ParseUint(key, 10, 64)
			v, err2 := strconv.ParseUint(rest, 16, 64)
			if err1 != nil || err2 != nil {
				return fail("want \"index value\", got %q", text)
			}
			if idx >= uint64(len(t.Words)) {
				return fail("decision %d past the %d announced", idx, len(t.Words))
			}
			t.Words[idx] = v
		}
		if err != nil {
			return fail("%s: %v", key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return Tape{}, err
	}
	if line == 0 {
		return Tape{}, errors.New("empty tape")
	}
	if t.OSDs < 1 {
		return Tape{}, errors.New("tape has no workload line")
	}
	return t, nil
}

// oneLine keeps s on one line of the tape.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func (t *Tape) parseWorkload(s string) error {
	for _, kv := range strings.Fields(s) {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch k {
		case "kind":
			if v != WorkloadCluster && v != WorkloadDefault && v != WorkloadSynthetic {
				err = fmt.Errorf("unknown workload %q", v)
			}
			t.Workload = v
		case "osds":
			t.OSDs, err = strconv.Atoi(v)
		case "clients":
			t.Clients, err = strconv.Atoi(v)
		case "messages":
			t.Messages, err = strconv.Atoi(v)
		case "window":
			t.Window, err = time.ParseDuration(v)
		case "preset":
			_, err = synthetic.Preset(v)
			t.Preset = v
		case "auth":
			if v != AuthCephx && v != AuthNone {
				err = fmt.Errorf("unknown auth %q", v)
			}
			if t.Auth = v; v == AuthNone {
				t.Auth = ""
			}
		default:
			err = fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return err
		}
	}
	if t.OSDs < 1 || t.OSDs > 200 || t.Clients < 0 || t.Clients > 200 || t.Messages < 0 || t.Messages > 1<<20 || t.Window <= 0 {
		return fmt.Errorf("out of range: %q", s)
	}
	return nil
}

func parseFaultLine(s string) (Faults, error) {
	var f Faults
	for _, kv := range strings.Fields(s) {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch k {
		case "on":
			if v != "none" {
				for _, name := range strings.Split(v, ",") {
					fk, ok := ParseFault(name)
					if !ok {
						return f, fmt.Errorf("unknown fault %q", name)
					}
					f.On[fk] = true
				}
			}
		case "every":
			f.Every, err = time.ParseDuration(v)
		case "cut_bias":
			f.CutBias, err = parseRatio(v)
		case "latency_spread":
			f.LatencySpread, err = time.ParseDuration(v)
		case "jitter":
			f.Jitter, err = time.ParseDuration(v)
		case "connect_faults":
			f.ConnectFaults, err = parseRatio(v)
		case "socket_failures":
			f.SocketFailures, err = strconv.ParseUint(v, 10, 64)
		case "delay_max":
			f.DelayMax, err = time.ParseDuration(v)
		case "delay_prob":
			f.DelayProb, err = parseRatio(v)
		default:
			err = fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return f, fmt.Errorf("%s: %w", k, err)
		}
	}
	if f.Every <= 0 {
		return f, errors.New("every must be positive")
	}
	return f, nil
}

// parseRatio reads "num/den". "0/0" is the zero Ratio (never), which WriteTo writes for the
// intensities of faults that are off (NoFaults).
func parseRatio(s string) (detrand.Ratio, error) {
	num, den, ok := strings.Cut(s, "/")
	n, err1 := strconv.ParseUint(num, 10, 64)
	d, err2 := strconv.ParseUint(den, 10, 64)
	// 0/0 is the zero Ratio, "never" (NoFaults' ratios); any other n/0 is meaningless.
	if !ok || err1 != nil || err2 != nil || (d == 0 && n != 0) {
		return detrand.Ratio{}, fmt.Errorf("bad ratio %q", s)
	}
	return detrand.Ratio{Num: n, Den: d}, nil
}
