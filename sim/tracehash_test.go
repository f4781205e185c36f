package sim

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/msgrsim/msgrsim/internal/canary"
	"github.com/msgrsim/msgrsim/internal/detrand"
)

// The trace hashes of a fixed set of runs are committed (testdata/tracehashes.txt): seeds
// 1–300 of each workload as msgr-sim runs them, the regression seeds and every regression
// tape. A refactor must leave every one of them unchanged; a change that must alter simulated
// schedules regenerates the file with -update-tracehashes and says why in its commit.
var updateTraceHashes = flag.Bool("update-tracehashes", false, "rewrite testdata/tracehashes.txt from this build")

const traceHashFile = "../testdata/tracehashes.txt"

// traceHashSeeds is how many seeds of each workload the list holds.
const traceHashSeeds = 300

// A traceCase is one run of the list: its key in the file and its options.
type traceCase struct {
	key  string
	opts func() Options
}

// swarmRun is seed's run of a workload as `msgr-sim run -seed N -workload W` builds it: the
// seed's swarm of faults, and for the synthetic workload no crashes.
func swarmRun(workload string, seed uint64) Options {
	opts := DefaultOptions(seed)
	f := SwarmFaults(detrand.NewSeeded(seed))
	opts.Faults = &f
	switch workload {
	case "cluster":
		opts.Workload = WorkloadCluster
		opts.OSDs, opts.Clients, opts.Messages = 3, 2, 50
	case "synthetic":
		opts.Workload = WorkloadSynthetic
		opts.Faults.On[FaultCrash] = false
	}
	return opts
}

func traceCases(t *testing.T) []traceCase {
	var cases []traceCase
	for _, w := range []string{"default", "cluster", "synthetic"} {
		for seed := uint64(1); seed <= traceHashSeeds; seed++ {
			w, seed := w, seed
			cases = append(cases, traceCase{fmt.Sprintf("%s/%d", w, seed), func() Options { return swarmRun(w, seed) }})
		}
	}
	for _, reg := range []struct {
		file  string
		parse func(string) (Options, string, error)
	}{{"cluster.txt", parseClusterRegression}, {"synthetic.txt", parseSyntheticRegression}} {
		for _, line := range regressionLines(t, reg.file) {
			opts, faults, err := reg.parse(line)
			if err != nil {
				t.Fatalf("%s: bad line %q: %v", reg.file, line, err)
			}
			fl, err := ParseFaults(faults, detrand.NewSeeded(opts.Seed))
			if err != nil {
				t.Fatal(err)
			}
			opts.Faults = &fl
			key := strings.TrimSuffix(reg.file, ".txt") + "-regression/" + strings.Join(strings.Fields(line), "_")
			cases = append(cases, traceCase{key, func() Options { return opts }})
		}
	}
	files, err := filepath.Glob(filepath.Join(regressionDir, "*.tape"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no regression tapes in %s (%v)", regressionDir, err)
	}
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		tape, err := ReadTape(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		cases = append(cases, traceCase{"tape/" + filepath.Base(file), tape.Options})
	}
	return cases
}

// regressionLines returns the cases of a regression list, comments stripped.
func regressionLines(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(regressionDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}

// traceHashLine is one line of the list: the case, its trace hash and how many events it folded.
func traceHashLine(key string, r Result) string {
	return fmt.Sprintf("%s %016x %d", key, r.TraceHash, r.Events)
}

func TestTraceHashesUnchanged(t *testing.T) {
	if k := canary.Selected(); k != canary.None {
		t.Skipf("the list is of the real code (canary %s selected)", k)
	}
	cases := traceCases(t)
	if testing.Short() && !*updateTraceHashes {
		cases = shortTraceCases(cases)
	}
	got := runTraceCases(cases)
	if *updateTraceHashes {
		writeTraceHashes(t, got)
		return
	}
	compareTraceHashes(t, cases, got, !testing.Short())
}

// compareTraceHashes checks the lines got of cases against the committed list (all of it when
// full).
func compareTraceHashes(t *testing.T, cases []traceCase, got []string, full bool) {
	want := readTraceHashes(t)
	bad := 0
	for i, c := range cases {
		w, ok := want[c.key]
		switch {
		case !ok:
			t.Errorf("%s: not in %s (regenerate it with -update-tracehashes)", c.key, traceHashFile)
		case w != got[i]:
			t.Errorf("trace changed:\n  want %s\n  got  %s", w, got[i])
		default:
			continue
		}
		if bad++; bad == 20 {
			t.Fatalf("… stopping after 20 differences")
		}
	}
	if full && len(want) != len(cases) {
		t.Errorf("%s lists %d runs, the build has %d cases (regenerate it with -update-tracehashes)", traceHashFile, len(want), len(cases))
	}
}

// shortTraceCases keeps the first 20 seeds of each workload and every regression case.
func shortTraceCases(cases []traceCase) []traceCase {
	var out []traceCase
	for _, c := range cases {
		w, seed, ok := strings.Cut(c.key, "/")
		var n int
		if ok && (w == "default" || w == "cluster" || w == "synthetic") {
			if _, err := fmt.Sscan(seed, &n); err == nil && n > 20 {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// runTraceCases runs every case, on all CPUs, and returns their lines in order.
func runTraceCases(cases []traceCase) []string {
	out := make([]string, len(cases))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				opts := cases[i].opts()
				opts.NoVisualize = true
				out[i] = traceHashLine(cases[i].key, Run(opts))
			}
		}()
	}
	for i := range cases {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func readTraceHashes(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(traceHashFile)
	if err != nil {
		t.Fatalf("%v (generate it with go test ./sim -run TestTraceHashesUnchanged -update-tracehashes)", err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, _, _ := strings.Cut(line, " ")
		want[key] = line
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return want
}

func writeTraceHashes(t *testing.T, lines []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# Trace hashes of fixed simulated runs: case, trace hash, events folded into it.\n")
	b.WriteString("# Checked by sim.TestTraceHashesUnchanged. Regenerate only on a deliberate change of simulated\n")
	b.WriteString("# schedules, and say why in the commit:\n")
	b.WriteString("#   go test ./sim -run TestTraceHashesUnchanged -update-tracehashes\n")
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(traceHashFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d trace hashes to %s", len(lines), traceHashFile)
}
