package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := realMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

func lastJSON(t *testing.T, out string) jsonResult {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var j jsonResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &j); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
	return j
}

func TestRunJSON(t *testing.T) {
	code, out, human := run(t, "run", "-seed", "42", "-faults", "none", "-json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	j := lastJSON(t, out)
	if j.Seed != 42 || j.Result != "pass" || len(j.TraceHash) != 16 || j.Sent != 300 || j.Delivered != 300 {
		t.Fatalf("unexpected summary %+v", j)
	}
	if j.VirtualMs <= 0 || j.Violations == nil || j.PhaseReached != "done" || len(j.Faults) != 0 {
		t.Fatalf("unexpected summary %+v", j)
	}
	if strings.Count(out, "\n") != 1 || !strings.Contains(human, "reproduce: msgr-sim run -seed 42 -faults none\n") {
		t.Fatalf("want the JSON line alone on stdout, the reproduce line on stderr:\n%s\n%s", out, human)
	}
}

// The default injects the seed's swarm of faults, prints that choice first, and reports what
// fired; the reproduce line replays it exactly.
func TestRunSwarmAndReproduce(t *testing.T) {
	code, out, human := run(t, "run", "-seed", "9", "-workload", "small", "-messages", "30", "-json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if !strings.HasPrefix(human, "seed 9  workload 2 osds, 1 clients, 30 messages per stream  faults ") {
		t.Fatalf("configuration not printed first:\n%s", out)
	}
	j := lastJSON(t, out)
	if len(j.Faults) == 0 || j.Injected == nil {
		t.Fatalf("no faults chosen or reported: %+v", j)
	}
	want := "reproduce: msgr-sim run -seed 9 -workload small -messages 30\n"
	if !strings.Contains(human, want) {
		t.Fatalf("reproduce line missing %q:\n%s", want, out)
	}
	_, again, _ := run(t, "run", "-seed", "9", "-workload", "small", "-messages", "30", "-json")
	if lastJSON(t, again).TraceHash != j.TraceHash {
		t.Fatal("the reproduce command gave a different run")
	}
}

func TestCheckDeterminismFlag(t *testing.T) {
	code, out, _ := run(t, "run", "-seed", "3", "-faults", "all", "-check-determinism")
	if code != 0 || !strings.Contains(out, "deterministic: two runs gave trace ") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestRunWithoutSeedPrintsItFirst(t *testing.T) {
	code, out, human := run(t, "run", "-messages", "3", "-json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.HasPrefix(human, "seed ") {
		t.Fatalf("output does not start with the seed:\n%s", human)
	}
	j := lastJSON(t, out)
	if !strings.HasPrefix(human, "seed "+jsonNum(j.Seed)+"\n") {
		t.Fatalf("printed seed differs from the JSON seed %d:\n%s", j.Seed, out)
	}
}

func jsonNum(v uint64) string { b, _ := json.Marshal(v); return string(b) }

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"bogus"}, {"run", "-seed", "x"}, {"run", "-osds", "0"}, {"run", "extra"},
		{"run", "-faults", "meteor"}, {"run", "-workload", "huge"}} {
		if code, _, _ := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	code, _, errOut := run(t, "run", "-seed", "-1")
	if code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("bad flag: exit %d, stderr %q (want one line)", code, errOut)
	}
}

// The binary gives the same trace hash twice, under GOMAXPROCS=1 and =4.
func TestBinaryDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "msgr-sim")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	hashes := map[string]bool{}
	for _, procs := range []string{"1", "4", "1", "4"} {
		cmd := exec.Command(bin, "run", "-seed", "7", "-json")
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+procs)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("GOMAXPROCS=%s: %v", procs, err)
		}
		hashes[lastJSON(t, string(out)).TraceHash] = true
	}
	if len(hashes) != 1 {
		t.Fatalf("seed 7 gave %d different trace hashes: %v", len(hashes), hashes)
	}
	out, err := exec.Command(bin, "run", "-seed", "8", "-json").Output()
	if err != nil {
		t.Fatal(err)
	}
	if hashes[lastJSON(t, string(out)).TraceHash] {
		t.Fatal("seeds 7 and 8 gave the same trace")
	}
}

// The cluster workload: its KV history is checked with the porcupine model, and the run
// reports its protocol coverage in JSON and, with -coverage, as a table.
func TestRunClusterWithCoverage(t *testing.T) {
	code, out, human := run(t, "run", "-seed", "5", "-workload", "cluster", "-messages", "20", "-coverage", "-json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	j := lastJSON(t, out)
	if j.Result != "pass" || j.Coverage == nil || j.Coverage.Runs != 1 {
		t.Fatalf("unexpected summary %+v", j)
	}
	if st := j.Coverage.States; st.Total != 18 || st.Reached < 12 || st.Reached+len(st.Missing) != st.Total {
		t.Fatalf("states coverage %+v", st)
	}
	if rt := j.Coverage.ReplyTags; rt.Total != 10 || rt.Sent["SEQ"] == 0 || rt.Received["SEQ"] == 0 {
		t.Fatalf("reply tag coverage %+v", rt)
	}
	models := map[string]jsonModel{}
	for _, m := range j.Models {
		models[m.Model] = m
	}
	if kv := models["kv"]; kv.Verdict != "linearizable" || kv.Operations < 40 || kv.Partitions < 2 {
		t.Fatalf("kv check %+v", kv)
	}
	if models["fifo"].Verdict != "linearizable" {
		t.Fatalf("fifo check %+v", models["fifo"])
	}
	for _, want := range []string{"workload cluster: 1 mon, 3 osds, 2 clients × 20 operations", "coverage over 1 run(s):",
		"model kv:", "reproduce: msgr-sim run -seed 5 -workload cluster -messages 20\n"} {
		if !strings.Contains(human, want) {
			t.Errorf("output lacks %q:\n%s", want, human)
		}
	}
}
