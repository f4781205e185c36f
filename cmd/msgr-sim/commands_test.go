package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/sim"
)

func lastSweep(t *testing.T, out string) sweepSummary {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var s sweepSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatalf("last line is not a sweep summary: %v\n%s", err, out)
	}
	return s
}

func TestSweepPassingSeeds(t *testing.T) {
	code, out, _ := run(t, "sweep", "-seeds", "1-12", "-workload", "small", "-parallel", "3", "-json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	s := lastSweep(t, out)
	if s.Seeds != 12 || s.Passed != 12 || s.Failed != 0 || len(s.FailingSeeds) != 0 || s.SeedsPerSec <= 0 {
		t.Fatalf("summary %+v", s)
	}
	fired := 0
	for _, n := range s.Coverage.FaultsFired {
		fired += n
	}
	if fired == 0 || s.Coverage.Phases[sim.PhaseDone] != 12 {
		t.Fatalf("coverage %+v", s.Coverage)
	}
	if !strings.Contains(out, "swept 12/12 seeds") || !strings.Contains(out, "12 seeds: 12 passed, 0 failed") {
		t.Fatalf("no progress or summary lines:\n%s", out)
	}
}

func TestSweepAndShardUsage(t *testing.T) {
	for _, args := range [][]string{{"sweep"}, {"sweep", "-seeds", "5-2"}, {"sweep", "-seeds", "1-3", "-count", "4"},
		{"sweep", "-count", "3", "-shard", "3/3"}, {"sweep", "-count", "3", "-shard", "x"}, {"sweep", "-count", "3", "-parallel", "0"},
		{"replay"}, {"replay", "-seed", "1", "-tape", "x"}, {"replay", "-tape", "x", "-osds", "3"}, {"shrink", "-seed", "1"},
		{"timeline", "-seed", "1"}, {"merge"}, {"merge", "/nonexistent"}} {
		if code, _, errOut := run(t, args...); code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") > 0 && args[0] != "merge" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", args, code, errOut)
		}
	}
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7}
	got, _ := shardOf(seeds, "1/3")
	if len(got) != 2 || got[0] != 2 || got[1] != 5 {
		t.Fatalf("shard 1/3 of 1..7 = %v", got)
	}
}

func TestReplayPassingSeedIsTheRun(t *testing.T) {
	code, out, _ := run(t, "replay", "-seed", "4", "-workload", "small")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	_, runOut, _ := run(t, "run", "-seed", "4", "-workload", "small")
	hash := regexp.MustCompile(`trace ([0-9a-f]{16})`)
	if a, b := hash.FindString(out), hash.FindString(runOut); a == "" || a != b {
		t.Fatalf("replay %q, run %q", a, b)
	}
	for _, want := range []string{"up at v1:", "conn 1: NONE -> START_CONNECT", "send id 1 to", "dispatch MSG",
		"reproduce: msgr-sim replay -seed 4 -workload small"} {
		if !strings.Contains(out, want) {
			t.Errorf("replay output lacks %q", want)
		}
	}
	if strings.Contains(out, " establish ") {
		t.Error("network transfers printed without -v")
	}
	_, verbose, _ := run(t, "replay", "-seed", "4", "-workload", "small", "-v")
	if !strings.Contains(verbose, " establish ") {
		t.Error("-v did not print network transfers")
	}
}

func TestSweepChecksDeterminism(t *testing.T) {
	code, out, _ := run(t, "sweep", "-seeds", "20-23", "-workload", "small", "-check-determinism", "-json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if s := lastSweep(t, out); !s.Determinism || s.Passed != 4 {
		t.Fatalf("summary %+v", s)
	}
	if !strings.Contains(out, "determinism checked: every seed ran twice, 0 gave different traces") {
		t.Fatalf("no determinism line:\n%s", out)
	}
}
