package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/sim"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// TestMain points the OS temp dir (TMPDIR, inherited by the processes the tests start) at a
// directory of its own, removed at the end: what msgr-sim writes by default (artifacts of
// failing runs) never lands in /tmp.
func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "msgr-sim-tests-")
	if err != nil {
		panic(err)
	}
	os.Setenv("TMPDIR", tmp)
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// simBinary builds msgr-sim once for the tests that need a real process (signals, stdin and
// stdout that are files).
func simBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	binOnce.Do(func() {
		binPath = filepath.Join(os.TempDir(), "msgr-sim") // TestMain's directory
		var out []byte
		if out, binErr = exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); binErr != nil {
			binErr = errors.New(binErr.Error() + "\n" + string(out))
		}
	})
	if binErr != nil {
		t.Fatalf("build: %v", binErr)
	}
	return binPath
}

// One exit-status table for every subcommand: 0 pass, 1 a violation found or reproduced,
// 2 a usage or input error, 3 an I/O error; each failure says what is wrong on stderr.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	notTape := filepath.Join(dir, "not.tape")
	if err := os.WriteFile(notTape, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	passTape := filepath.Join(dir, "pass.tape")
	if code, out, errOut := run(t, "shrink", "-seed", "1", "-faults", "none", "-workload", "small", "-o", passTape); code != 2 ||
		!strings.Contains(errOut, "nothing to shrink") {
		t.Fatalf("shrink of a passing seed: exit %d\n%s%s", code, out, errOut)
	}
	budgetTape := filepath.Join(dir, "budget.tape")
	if code, _, errOut := run(t, "shrink", "-seed", "1", "-workload", "small", "-max-steps", "500", "-o", budgetTape, "-q",
		"-max-runs", "50"); code != 0 {
		t.Fatalf("shrink of a budget-exceeded seed: exit %d\n%s", code, errOut)
	}
	empty := filepath.Join(dir, "empty.json")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	type exitCase struct {
		args []string
		code int
		msg  string // in stderr
	}
	var cases []exitCase
	if os.Geteuid() != 0 { // root writes into a read-only directory
		cases = append(cases, exitCase{[]string{"shrink", "-seed", "1", "-workload", "small", "-max-steps", "500", "-o", filepath.Join(ro, "x.tape")}, 3, "cannot write there"})
	}
	for _, c := range append(cases, []exitCase{
		{[]string{}, 2, "Usage:"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"version"}, 0, ""},
		{[]string{"version", "-x"}, 2, "flag provided but not defined: -x"},
		{[]string{"run", "-seed", "3", "-workload", "small"}, 0, ""},
		{[]string{"run", "-seed", "3", "-workload", "small", "-max-steps", "300"}, 1, ""},
		{[]string{"run", "-nosuch"}, 2, "flag provided but not defined: -nosuch"},
		{[]string{"run", "-max-steps", "0"}, 2, "-max-steps and -max-wall must be positive"},
		{[]string{"sweep"}, 2, "give -seeds A-B or -count N"},
		{[]string{"sweep", "-count", "2", "-workload", "small", "-max-failures", "-1"}, 2, "-max-failures"},
		{[]string{"replay"}, 2, "give exactly one of -seed and -tape"},
		{[]string{"replay", "-tape", filepath.Join(dir, "missing.tape")}, 2, "no such file"},
		{[]string{"replay", "-tape", notTape}, 2, "not a msgr-sim tape"},
		{[]string{"replay", "-tape", budgetTape}, 1, ""},
		{[]string{"replay", "-tape", "../../testdata/regressions/canary_norequeue.tape"}, 1, "the tape expected lossless-loss, this replay did not produce it"},
		{[]string{"shrink", "-seed", "1", "-o", filepath.Join(dir, "x.tape"), "-target", "gremlins"}, 2, `unknown -target "gremlins"`},
		{[]string{"shrink", "-seed", "1"}, 2, "-o OUT is required"},
		{[]string{"shrink", "-seed", "1", "-workload", "small", "-max-steps", "500", "-o", filepath.Join(dir, "nodir", "x.tape")}, 3, "cannot write there"},
		{[]string{"shrink", "-seed", "1", "-workload", "small", "-max-steps", "500", "-o", dir}, 3, "is a directory"},
		{[]string{"timeline", "-seed", "1", "-workload", "small", "-o", "/nonexistent/x.html"}, 3, "-o /nonexistent/x.html: cannot write there"},
		{[]string{"timeline", "-tape", notTape, "-o", filepath.Join(dir, "t.html")}, 2, "not a msgr-sim tape"},
		{[]string{"merge"}, 2, "no files"},
		{[]string{"merge", filepath.Join(dir, "missing.json")}, 2, "no such file"},
		{[]string{"merge", empty}, 2, "not a sweep summary"},
	}...) {
		code, _, errOut := run(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("msgr-sim %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), code, errOut, c.code, c.msg)
		}
	}
}

// shrink -tape keeps the tape's expected violation unless -target says otherwise.
func TestShrinkKeepsTheTapesTarget(t *testing.T) {
	dir := t.TempDir()
	tape := sim.Tape{}
	// A seed's run that ends budget-exceeded, recorded as a tape that expects it.
	sf := scenarioFlags{osds: 2, clients: 1, messages: 20, faults: "swarm", maxSteps: 500}
	tape, _ = sim.TapeOf(sf.options(2))
	if tape.Expect != sim.OutcomeBudget {
		t.Fatalf("expect %q", tape.Expect)
	}
	in := filepath.Join(dir, "in.tape")
	if err := writeTapeFile(in, tape); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.tape")
	code, stdout, errOut := run(t, "shrink", "-tape", in, "-o", out, "-q", "-max-runs", "40")
	if code != 0 || !strings.Contains(stdout, "violation kept: "+sim.OutcomeBudget) {
		t.Fatalf("exit %d\n%s%s", code, stdout, errOut)
	}
}

// A budget of steps ends a run as budget-exceeded, the same way every time, with its tape in
// the artifacts directory, named after seed, workload and build; the tape replays it.
func TestBudgetExceeded(t *testing.T) {
	dir := t.TempDir()
	var js []jsonResult
	for range 2 {
		code, out, human := run(t, "run", "-seed", "4", "-workload", "small", "-max-steps", "300", "-artifacts", dir, "-json")
		if code != 1 {
			t.Fatalf("exit %d\n%s", code, human)
		}
		j := lastJSON(t, out)
		if j.Exceeded != sim.BudgetSteps || j.Steps != 300 || len(j.Violations) != 1 || j.Violations[0].Name != sim.OutcomeBudget {
			t.Fatalf("summary: exceeded %q after %d steps, violations %v", j.Exceeded, j.Steps, j.Violations)
		}
		if !strings.Contains(human, "reproduce: msgr-sim run -seed 4 -workload small -max-steps 300\n") {
			t.Fatalf("the reproduce line lacks the budget:\n%s", human)
		}
		js = append(js, j)
	}
	if js[0].TraceHash != js[1].TraceHash {
		t.Fatal("budget-exceeded is not deterministic")
	}
	want := filepath.Join(dir, "seed4-default-"+buildID()+".tape")
	if js[0].Tape != want {
		t.Fatalf("tape %q, want %q", js[0].Tape, want)
	}
	code, out, errOut := run(t, "replay", "-tape", want)
	if code != 1 || !strings.Contains(out, "VIOLATION budget-exceeded") || errOut != "" {
		t.Fatalf("replay of the tape: exit %d\n%s%s", code, tail(out), errOut)
	}
	text, _ := os.ReadFile(want)
	if !strings.Contains(string(text), "\nbudget steps=300\n") || !strings.Contains(string(text), "\nbuild "+build.String()+"\n") {
		t.Fatalf("the tape lacks its budget or build:\n%s", text)
	}
}

// -fail-fast stops a sweep at its first failing seed; -max-failures at the N-th.
func TestSweepFailFast(t *testing.T) {
	dir := t.TempDir()
	code, out, human := run(t, "sweep", "-count", "40", "-workload", "small", "-max-steps", "900", "-parallel", "2",
		"-fail-fast", "-artifacts", dir, "-json")
	s := lastSweep(t, out)
	// Seeds that finish while the first failure stops the sweep are counted too.
	if code != 1 || s.Failed < 1 || s.Seeds >= 40 || s.Stopped == "" || s.Planned != 40 {
		t.Fatalf("exit %d, summary %+v\n%s", code, s, human)
	}
	if !strings.Contains(human, "stopped: -max-failures 1 reached") {
		t.Fatalf("no stopped line:\n%s", human)
	}
	tape := s.Tapes[sim.OutcomeBudget]
	if filepath.Dir(tape) != dir || !strings.Contains(human, "tape:   "+tape) {
		t.Fatalf("tapes %v, artifacts %q\n%s", s.Tapes, s.Artifacts, human)
	}
	// Sequentially the count is exact: the sweep ends with the seed that failed second.
	_, out, _ = run(t, "sweep", "-seeds", "3-40", "-workload", "small", "-max-steps", "1500", "-parallel", "1",
		"-max-failures", "2", "-artifacts", dir, "-json")
	if s := lastSweep(t, out); s.Failed != 2 || s.FailingSeeds[1] != s.SeedRange[0]+uint64(s.Seeds)-1 {
		t.Fatalf("-max-failures 2 sequentially: %d failed of %d: %v", s.Failed, s.Seeds, s.FailingSeeds)
	}
}

// With -json, stdout is JSON lines only, whatever stdin and stdout are.
func TestSweepJSONStdout(t *testing.T) {
	bin := simBinary(t)
	dir := t.TempDir()
	outPath := filepath.Join(dir, "out")
	outF, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "sweep", "-count", "50", "-json")
	cmd.Stdout = outF
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // not a terminal: no progress
	err = cmd.Run()
	outF.Close()
	if err != nil {
		t.Fatalf("sweep: %v\n%s", err, stderr.String())
	}
	checkJSONLines(t, outPath, 1)
	if strings.Contains(stderr.String(), "seeds/s  ") {
		t.Fatalf("progress without a terminal:\n%s", stderr.String())
	}
}

// checkJSONLines checks that every line of the file parses as JSON, and that there are want.
func checkJSONLines(t *testing.T, path string, want int) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<26)
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%.200s", len(lines)+1, err, sc.Text())
		}
		lines = append(lines, v)
	}
	if len(lines) != want {
		t.Fatalf("%d JSON lines, want %d", len(lines), want)
	}
	return lines
}

// SIGINT ends a sweep with its partial summary and exit status 130.
func TestSweepInterrupt(t *testing.T) {
	bin := simBinary(t)
	outPath := filepath.Join(t.TempDir(), "out")
	outF, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "sweep", "-count", "100000", "-workload", "small", "-parallel", "2", "-json")
	cmd.Stdout = outF
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	outF.Close()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130\n%s", err, stderr.String())
	}
	v := checkJSONLines(t, outPath, 1)[0]
	if v["interrupted"] != true || v["seeds"].(float64) < 1 || v["seeds"].(float64) >= 100000 || v["planned"].(float64) != 100000 {
		t.Fatalf("partial summary: interrupted %v, seeds %v of %v", v["interrupted"], v["seeds"], v["planned"])
	}
	if !strings.Contains(stderr.String(), "INTERRUPTED: ") {
		t.Fatalf("no interrupted line:\n%s", stderr.String())
	}
}

// merge refuses shards it cannot add up: the same shard twice, overlapping ranges,
// different scenarios, different builds, unfinished shards.
func TestMergeRefusesInconsistentShards(t *testing.T) {
	dir := t.TempDir()
	shard := func(name string, args ...string) string {
		t.Helper()
		_, out, _ := run(t, append([]string{"sweep", "-workload", "small", "-json"}, args...)...)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s0 := shard("s0", "-seeds", "1-8", "-shard", "0/2")
	s1 := shard("s1", "-seeds", "1-8", "-shard", "1/2")
	r1 := shard("r1", "-seeds", "5-9")
	r2 := shard("r2", "-seeds", "10-12")
	other := shard("other", "-seeds", "10-12", "-faults", "none")
	if code, out, errOut := run(t, "merge", "-json", s0, s1, r2); code != 0 || strings.Count(out, "\n") != 1 {
		t.Fatalf("good shards: exit %d\n%s%s", code, out, errOut)
	} else if s := lastSweep(t, out); s.Seeds != 11 || s.SeedRange != [2]uint64{1, 12} {
		t.Fatalf("merged %+v", s)
	}
	// A shard from another build: the same summary with a different commit.
	otherBuild := filepath.Join(dir, "otherbuild")
	var s sweepSummary
	data, _ := os.ReadFile(r2)
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	s.SeedRange, s.Build.Commit = [2]uint64{20, 22}, "0123456789abcdef"
	b, _ := json.Marshal(s)
	if err := os.WriteFile(otherBuild, b, 0o644); err != nil {
		t.Fatal(err)
	}
	interrupted := filepath.Join(dir, "interrupted")
	s.Build.Commit, s.SeedRange, s.Interrupted = "", [2]uint64{30, 32}, true
	b, _ = json.Marshal(s)
	if err := os.WriteFile(interrupted, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		files []string
		msg   string
	}{
		{[]string{s0, s0}, "are the same shard (seeds 1-8, shard 0/2) twice"},
		{[]string{s0, r1}, "both swept seed 5: overlapping shards"},
		{[]string{s1, r1}, "both swept seed 6: overlapping shards"},
		{[]string{r2, other}, "shards must sweep one scenario"},
		{[]string{r2, otherBuild}, "shards must come from one build"},
		{[]string{r2, interrupted}, "the shard did not finish"},
	} {
		code, out, errOut := run(t, append([]string{"merge"}, c.files...)...)
		if code != 2 || out != "" || !strings.Contains(errOut, c.msg) {
			t.Errorf("merge %v: exit %d, stderr %q, want exit 2 and %q", c.files, code, errOut, c.msg)
		}
	}
}

// Without -artifacts, a failing run's files go to a new directory under the OS temp dir,
// named in the output; the tape and porcupine's page carry seed, workload and build.
func TestDefaultArtifacts(t *testing.T) {
	code, out, _ := run(t, "run", "-seed", "3", "-workload", "small", "-max-steps", "200")
	m := regexp.MustCompile(`\ntape: (\S+)\n`).FindStringSubmatch(out)
	if code != 1 || m == nil {
		t.Fatalf("exit %d, no tape line:\n%s", code, out)
	}
	dir := filepath.Dir(m[1])
	if filepath.Dir(dir) != filepath.Clean(os.TempDir()) || !strings.HasPrefix(filepath.Base(dir), "msgr-sim-") ||
		filepath.Base(m[1]) != "seed3-default-"+buildID()+".tape" {
		t.Fatalf("tape %s: want seed3-default-%s.tape in a new directory under %s", m[1], buildID(), os.TempDir())
	}
	if _, err := os.Stat(m[1]); err != nil {
		t.Fatal(err)
	}
	// A passing run makes nothing.
	before, _ := os.ReadDir(os.TempDir())
	if code, _, _ := run(t, "run", "-seed", "3", "-workload", "small"); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if after, _ := os.ReadDir(os.TempDir()); len(after) != len(before) {
		t.Fatalf("a passing run left %d entries in the temp dir", len(after)-len(before))
	}
}

// version says which build this is; -json is the record the summaries carry.
func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version")
	if code != 0 || !strings.Contains(out, "go      "+build.Go+"\n") || !strings.HasPrefix(out, "msgr-sim ") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	_, out, _ = run(t, "version", "-json")
	var b jsonBuild
	if err := json.Unmarshal([]byte(out), &b); err != nil || b.Go != build.Go || b.Module != "github.com/msgrsim/msgrsim" ||
		b.Info.Canary() != canaryEnabled() {
		t.Fatalf("version -json: %v\n%s", err, out)
	}
}
