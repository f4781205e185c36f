// Command mutate measures the bug-finding power of the simulator's checks with a mutation
// score: it enumerates the mutation sites of msgr/proto and of the messenger's registry and
// accept code (internal/mutate), samples -n of them with -seed, and for each mutant builds
// msgr-sim with `go build -overlay` (the mutated file replaces the original; nothing else is
// copied) and runs the kill test: msgr-sim explore, three short sweeps, then six runs of explore's
// variants (empty fronts with ms_crc_data off; cephx; one-byte messages, a burst of priorities,
// the acceptor's ready timeout, a keepalive first and long middles; data crcs per chunk, a
// message throttle of one and small data sections; a peer that loses power and restarts at
// the same address; cephx handshakes cut after their challenge, no connection limit),
// stopping at the first failure; -unit adds msgr/proto's unit tests, -regress the replay of
// every regression case (sim's Test*Regressions and TestRegressionTapes). A mutant is killed (a step failed, crashed or hung past its timeout),
// survived (every step passed), not covered (the kill test on the unmutated build never runs
// the mutated line, so the mutant is not run) or build-failed (the mutant does not compile).
//
//	go run ./scripts/mutate -n 150 -seed 1 [-unit] [-regress] [-json] [-site KEY,...] [-from N]
//
// Run it from the module root; see docs/testing.md for the last score.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/internal/mutate"
)

// target is a file whose functions are mutated; funcs, when set, limits them.
type target struct {
	file  string
	funcs []string
}

// skipFiles in msgr/proto hold nothing the protocol does: deliberate-bug switches compiled
// away without -tags canary, introspection for tests, probe names and counting, the package doc.
var skipFiles = map[string]bool{"canary.go": true, "inspect.go": true, "reach.go": true, "doc.go": true}

// registry are the messenger's registry functions in msgr/messenger.go (connections by
// address, ids and global seqs, mark-down).
var registry = []string{
	"Messenger.ConnectTo", "Messenger.ConnectToAnon", "Messenger.nextGlobalSeq", "Messenger.learnAddr",
	"Messenger.newIDLocked", "Messenger.lookup", "Messenger.register", "Messenger.forget",
	"Messenger.unregisterLocked", "Messenger.retire", "Messenger.MarkDown", "Messenger.MarkDownAll",
	"Messenger.AppendConnections",
}

func targets() ([]target, error) {
	ents, err := os.ReadDir("msgr/proto")
	if err != nil {
		return nil, err
	}
	var ts []target
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") && !skipFiles[n] {
			ts = append(ts, target{file: "msgr/proto/" + n})
		}
	}
	ts = append(ts, target{file: "msgr/accept.go"}, target{file: "msgr/messenger.go", funcs: registry})
	return ts, nil
}

// regressTests are sim's tests that replay the regression cases: the default, cluster,
// cephx and synthetic seeds and the tapes that once found a bug (the -regress step). A
// mutant that reintroduces a fixed bug fails one of them even when the sweeps' first seeds
// pass (seed 3's survivor 17, connectUnheard cleared on an opening reply's tag, fails
// default seed 2696).
const regressTests = "^(TestSwarmRegressions|TestClusterRegressions|TestCephxRegressions|TestSyntheticRegressions|TestRegressionTapes)$"

// step is one part of the kill test: msgr-sim's arguments and its timeout.
type step struct {
	name    string
	args    []string
	timeout time.Duration
}

var killTest = []step{
	{"explore", []string{"explore"}, 45 * time.Second},
	{"sweep", []string{"sweep", "-count", "200", "-fail-fast", "-max-wall", "60s"}, 90 * time.Second},
	{"sweep-cluster", []string{"sweep", "-workload", "cluster", "-count", "30", "-fail-fast", "-max-wall", "60s"}, 90 * time.Second},
	{"sweep-synthetic", []string{"sweep", "-workload", "synthetic", "-count", "30", "-fail-fast", "-max-wall", "60s"}, 90 * time.Second},
	// Explore's opt-in variants: what neither explore's default scenario nor the sweeps run
	// (messages with an empty front, ms_crc_data off, cephx with signed sessions).
	{"explore-variant", []string{"explore", "-variant", "empty-fronts,no-crc-data"}, 45 * time.Second},
	{"explore-cephx", []string{"explore", "-variant", "cephx"}, 45 * time.Second},
	// The variants of the seed-1 gaps (2026-12-07): one-byte messages, a burst of three
	// priorities (prio-order), a connector slower to time out than the acceptor
	// (ready-timeout), and a keepalive on a fresh connection before any message (a
	// never-opened connector with nothing queued).
	// Since seed 2's sample (2026-12-07): big-middle joins them (a middle over 256 bytes,
	// which must run without chunked: a chunked sender writes such a message correctly even
	// down the wrong branch).
	{"explore-gaps", []string{"explore", "-variant", "one-byte,priorities,ready-timeout,keepalive-first,big-middle"}, 45 * time.Second},
	// The variants of the seed-2 gaps: data crcs computed per chunk as a kernel socket asks
	// (chunked), a message throttle of one at the acceptor (throttled, throttle-held), and
	// small data sections read from the prefetch buffer after a front (small-data).
	{"explore-seed2", []string{"explore", "-variant", "chunked,throttled,small-data"}, 45 * time.Second},
	// Seed 2's survivor 7: the connector's machine loses power with answers of the acceptor
	// unacknowledged, and comes back at the same address while the acceptor's session is
	// still open (msgr1's peer-restart rule, 8e; restart-carryover). Alone: the restart
	// changes the scenario every other variant runs.
	{"explore-restart", []string{"explore", "-variant", "peer-restart"}, 45 * time.Second},
	// Seed 2's survivor 69 (seed 1's 54): cephx handshakes cut after their challenge three
	// times in a row, so that challenges counted across attempts refuse the fourth; and
	// survivor 39: messengers without a connection limit (MaxConnections -1, as Ceph), which
	// changes no schedule.
	{"explore-cuts", []string{"explore", "-variant", "cephx,challenge-cuts,no-conn-limit"}, 45 * time.Second},
}

// result is one mutant's outcome.
type result struct {
	Site    string  `json:"site"` // file:line: original -> mutated
	Key     string  `json:"key"`  // file@offset/op, for -site
	Op      string  `json:"op"`
	Func    string  `json:"func"`
	Outcome string  `json:"outcome"`          // killed, survived, not covered, build-failed
	By      string  `json:"by,omitempty"`     // the step that killed it
	Detail  string  `json:"detail,omitempty"` // timeout, or the first line that says why
	Seconds float64 `json:"seconds"`
}

func main() {
	n := flag.Int("n", 150, "mutants to sample")
	seed := flag.Uint64("seed", 1, "the sample's seed")
	jsonOut := flag.Bool("json", false, "print one JSON line per mutant and a JSON summary")
	unit := flag.Bool("unit", false, "also run the unit tests of msgr/proto (go test -short ./msgr/proto/...) as the last step of the kill test")
	regress := flag.Bool("regress", false, "also replay every regression case (go test -run '"+regressTests+"' ./sim: the seeds and tapes that once found a bug) as the last step of the kill test")
	sites := flag.String("site", "", "run only these sites (comma-separated keys file@offset/op, as -list or -json print them; a key may name any Go file of the module, sampled or not), all taken as covered")
	list := flag.Bool("list", false, "list the sample's sites and exit")
	from := flag.Int("from", 1, "run the sample's mutants from this number on (1-based, as the progress lines number them): resumes an interrupted run; the summary counts only those run")
	write := flag.String("write", "", "write each sampled mutant (DIR/N/FILE.go and DIR/N/overlay.json, N its number in the sample from 1) and exit: go build -overlay DIR/N/overlay.json ./cmd/msgr-sim builds it")
	flag.Parse()
	if _, err := os.Stat("go.mod"); err != nil {
		fail(errors.New("run from the module root"))
	}
	ts, err := targets()
	if err != nil {
		fail(err)
	}
	var all []mutate.Site
	for _, t := range ts {
		src, err := os.ReadFile(t.file)
		if err != nil {
			fail(err)
		}
		var keep mutate.Filter
		if t.funcs != nil {
			keep = func(fn string) bool { return contains(t.funcs, fn) }
		}
		ss, err := mutate.File(t.file, src, keep)
		if err != nil {
			fail(err)
		}
		all = append(all, ss...)
	}
	var sample []mutate.Site
	if *sites != "" {
		byKey := map[string]mutate.Site{}
		for _, s := range all {
			byKey[s.Key()] = s
		}
		for _, k := range strings.Split(*sites, ",") {
			s, ok := byKey[k]
			if !ok {
				s, ok = otherSite(k)
			}
			if !ok {
				fail(fmt.Errorf("no site %s", k))
			}
			sample = append(sample, s)
		}
	} else {
		sample = mutate.Sample(all, *n, *seed)
	}
	if *write != "" {
		for i, s := range sample {
			dir := filepath.Join(*write, strconv.Itoa(i+1))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				fail(err)
			}
			fmt.Printf("%s  %s\n", writeOverlay(dir, s), s)
		}
		return
	}
	if *list {
		for _, s := range sample {
			fmt.Printf("%s  %s  %s\n", s.Key(), s.Op, s)
		}
		return
	}
	steps := killTest
	if *unit {
		steps = append(steps, step{"unit", nil, 5 * time.Minute})
	}
	if *regress {
		steps = append(steps, step{"regress", nil, 10 * time.Minute})
	}
	work, err := os.MkdirTemp("", "mutate-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(work)
	say := func(format string, args ...any) {
		if *jsonOut {
			fmt.Fprintf(os.Stderr, format, args...)
		} else {
			fmt.Printf(format, args...)
		}
	}
	say("mutate: %d sites in %d files, sample of %d (seed %d); kill test: %s\n",
		len(all), len(ts), len(sample), *seed, describe(steps))

	var covered func(mutate.Site) bool
	if *sites != "" {
		covered = func(mutate.Site) bool { return true }
	} else {
		start := time.Now()
		covered, err = coverage(work, steps)
		if err != nil {
			fail(fmt.Errorf("coverage of the unmutated build: %w", err))
		}
		say("mutate: coverage of the unmutated build's kill test in %.0fs\n", time.Since(start).Seconds())
	}

	counts := map[string]int{}
	for i, s := range sample {
		if i+1 < *from {
			continue
		}
		start := time.Now()
		r := result{Site: s.String(), Key: s.Key(), Op: s.Op, Func: s.Func}
		if !covered(s) {
			r.Outcome = "not covered"
		} else {
			r.Outcome, r.By, r.Detail = runMutant(work, i, s, steps)
		}
		r.Seconds = time.Since(start).Seconds()
		counts[r.Outcome]++
		if *jsonOut {
			b, _ := json.Marshal(r)
			fmt.Println(string(b))
		} else {
			extra := ""
			if r.By != "" {
				extra = " by " + r.By
			}
			if r.Detail != "" {
				extra += " (" + r.Detail + ")"
			}
			fmt.Printf("%3d/%d %-12s %s  [%s %s]%s %.0fs\n", i+1, len(sample), r.Outcome, r.Site, r.Op, r.Key, extra, r.Seconds)
		}
	}
	k, sv, nc, bf := counts["killed"], counts["survived"], counts["not covered"], counts["build-failed"]
	scoreAll := ratio(k, k+sv+nc)
	scoreCov := ratio(k, k+sv)
	if *jsonOut {
		b, _ := json.Marshal(map[string]any{"summary": true, "mutants": len(sample), "killed": k, "survived": sv,
			"not_covered": nc, "build_failed": bf, "score": scoreAll, "score_covered": scoreCov, "seed": *seed})
		fmt.Println(string(b))
	} else {
		fmt.Printf("mutate: %d mutants: %d killed, %d survived, %d not covered, %d build-failed; score %.1f%% (killed / compiled mutants), %.1f%% over covered mutants (killed / (killed + survived))\n",
			len(sample), k, sv, nc, bf, 100*scoreAll, 100*scoreCov)
	}
}

// otherSite finds the site of key in a Go file of the module that is not one of the sampled
// targets (-site only): a mutant of code the score does not sample, e.g. where a sampled
// site's behaviour moved to (docs/testing.md, mutant 112).
func otherSite(key string) (mutate.Site, bool) {
	file, _, ok := strings.Cut(key, "@")
	if !ok || !strings.HasSuffix(file, ".go") || strings.HasSuffix(file, "_test.go") {
		return mutate.Site{}, false
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return mutate.Site{}, false
	}
	ss, err := mutate.File(file, src, nil)
	if err != nil {
		return mutate.Site{}, false
	}
	for _, s := range ss {
		if s.Key() == key {
			return s, true
		}
	}
	return mutate.Site{}, false
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func describe(steps []step) string {
	var parts []string
	for _, s := range steps {
		if s.args == nil {
			parts = append(parts, "go test -short ./msgr/proto/...")
			continue
		}
		parts = append(parts, "msgr-sim "+strings.Join(s.args, " "))
	}
	return strings.Join(parts, "; ") + " (first failure kills; a step past its timeout kills)"
}

// runMutant builds the mutant and runs the kill test.
func runMutant(work string, i int, s mutate.Site, steps []step) (outcome, by, detail string) {
	dir := filepath.Join(work, "m"+strconv.Itoa(i))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	overlay := writeOverlay(dir, s)
	bin := filepath.Join(dir, "msgr-sim")
	if out, err := exec.Command("go", "build", "-overlay", overlay, "-o", bin, "./cmd/msgr-sim").CombinedOutput(); err != nil {
		return "build-failed", "", firstLine(out)
	}
	for _, st := range steps {
		var cmd []string
		switch {
		case st.name == "regress":
			cmd = []string{"go", "test", "-count=1", "-overlay", overlay, "-run", regressTests, "./sim"}
		case st.args == nil:
			if !strings.HasPrefix(s.File, "msgr/proto/") {
				continue
			}
			cmd = []string{"go", "test", "-short", "-overlay", overlay, "./msgr/proto/..."}
		default:
			cmd = append([]string{bin}, st.args...)
		}
		failed, timedOut, out := run(cmd, st.timeout, nil)
		if timedOut {
			return "killed", st.name, "timeout after " + st.timeout.String() + ": a hang"
		}
		if failed {
			return "killed", st.name, why(out)
		}
	}
	return "survived", "", ""
}

// writeOverlay writes the mutant's file and a go build overlay that puts it in place of the
// original into dir, and returns the overlay's path.
func writeOverlay(dir string, s mutate.Site) string {
	src, err := os.ReadFile(s.File)
	if err != nil {
		fail(err)
	}
	mut, err := s.Apply(src)
	if err != nil {
		fail(err)
	}
	mutFile, err := filepath.Abs(filepath.Join(dir, filepath.Base(s.File)))
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(mutFile, mut, 0o644); err != nil {
		fail(err)
	}
	abs, err := filepath.Abs(s.File)
	if err != nil {
		fail(err)
	}
	ov, _ := json.Marshal(map[string]any{"Replace": map[string]string{abs: mutFile}})
	overlay := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlay, ov, 0o644); err != nil {
		fail(err)
	}
	return overlay
}

// run runs cmd with a timeout; failed is a non-zero exit (or a crash).
func run(cmd []string, timeout time.Duration, env []string) (failed, timedOut bool, out []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.Env = append(os.Environ(), env...)
	c.WaitDelay = 5 * time.Second
	out, err := c.CombinedOutput()
	if ctx.Err() != nil {
		return true, true, out
	}
	return err != nil, false, out
}

// why picks the line of a failing step's output that names the failure: a panic, else the
// first line naming a violation or a failed run, else the first line.
func why(out []byte) string {
	lines := strings.Split(string(out), "\n")
	for _, words := range [][]string{{"panic:", "fatal error:"}, {"violation", "violated"}, {"FAIL", "failed", "budget-exceeded"}} {
		for _, l := range lines {
			l = strings.TrimSpace(l)
			if l == "" || strings.Contains(l, "marks per action") || strings.Contains(l, " 0 failed") {
				continue
			}
			for _, w := range words {
				if strings.Contains(l, w) {
					return clip(l)
				}
			}
		}
	}
	return firstLine(out)
}

func firstLine(out []byte) string {
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return clip(l)
		}
	}
	return ""
}

func clip(s string) string {
	if len(s) > 160 {
		return s[:157] + "..."
	}
	return s
}

// coverage builds msgr-sim with coverage of the mutated packages, runs the kill test once
// (every step passes on the unmutated build; the main package must be instrumented too, or
// the binary writes no counters) and returns whether a site's position lies in
// a block that ran.
func coverage(work string, steps []step) (func(mutate.Site) bool, error) {
	bin := filepath.Join(work, "msgr-sim-cover")
	if out, err := exec.Command("go", "build", "-cover", "-coverpkg=./msgr/proto,./msgr,./cmd/msgr-sim", "-o", bin, "./cmd/msgr-sim").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	covDir := filepath.Join(work, "cover")
	if err := os.MkdirAll(covDir, 0o755); err != nil {
		return nil, err
	}
	for _, st := range steps {
		if st.args == nil {
			continue // unit tests: their coverage is not counted (a conservative "not covered")
		}
		failed, timedOut, out := run(append([]string{bin}, st.args...), 3*st.timeout, []string{"GOCOVERDIR=" + covDir})
		if failed || timedOut {
			return nil, fmt.Errorf("the unmutated build fails %s: %s", st.name, why(out))
		}
	}
	txt := filepath.Join(work, "cover.txt")
	if out, err := exec.Command("go", "tool", "covdata", "textfmt", "-i="+covDir, "-o="+txt).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("covdata: %v: %s", err, out)
	}
	blocks, err := readBlocks(txt)
	if err != nil {
		return nil, err
	}
	return func(s mutate.Site) bool {
		for _, b := range blocks[s.File] {
			if b.count > 0 && b.contains(s.Line, s.Col) {
				return true
			}
		}
		return false
	}, nil
}

type block struct{ l1, c1, l2, c2, count int }

func (b block) contains(l, c int) bool {
	after := l > b.l1 || l == b.l1 && c >= b.c1
	before := l < b.l2 || l == b.l2 && c < b.c2
	return after && before
}

// readBlocks reads a textfmt coverage profile into blocks by file path relative to the
// module root; counts of the same block from several runs add up.
func readBlocks(path string) (map[string][]block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	const mod = "github.com/msgrsim/msgrsim/"
	type key struct {
		file string
		b    block
	}
	sum := map[key]int{}
	for _, l := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(l, mod) {
			continue
		}
		// file:l1.c1,l2.c2 stmts count
		colon := strings.LastIndex(l, ":")
		f := strings.TrimPrefix(l[:colon], mod)
		var b block
		var stmts int
		if _, err := fmt.Sscanf(l[colon+1:], "%d.%d,%d.%d %d %d", &b.l1, &b.c1, &b.l2, &b.c2, &stmts, &b.count); err != nil {
			return nil, fmt.Errorf("cover profile line %q: %v", l, err)
		}
		c := b.count
		b.count = 0
		sum[key{f, b}] += c
	}
	out := map[string][]block{}
	for k, c := range sum {
		b := k.b
		b.count = c
		out[k.file] = append(out[k.file], b)
	}
	for _, bs := range out {
		sort.Slice(bs, func(i, j int) bool { return bs[i].l1 < bs[j].l1 || bs[i].l1 == bs[j].l1 && bs[i].c1 < bs[j].c1 })
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mutate:", err)
	os.Exit(2)
}
