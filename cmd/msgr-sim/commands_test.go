package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

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
	code, out, human := run(t, "sweep", "-seeds", "1-12", "-workload", "small", "-parallel", "3", "-json")
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
	// stdout is the JSON line alone; the readable summary goes to stderr, with no progress
	// lines (stderr is not a terminal).
	if strings.Count(out, "\n") != 1 || !strings.Contains(human, "12 seeds: 12 passed, 0 failed") || strings.Contains(human, "seeds/s  ") {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", out, human)
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

// The timeline page is self-contained and draws every message of the run.
func TestTimelinePage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run.html")
	code, stdout, _ := run(t, "timeline", "-seed", "6", "-workload", "small", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"http://", "https://", "<link", "src="} {
		if bytes.Contains(bytes.ReplaceAll(page, []byte(`"http://www.w3.org/2000/svg"`), nil), []byte(bad)) {
			t.Errorf("page refers to something outside itself: %q", bad)
		}
	}
	sf := scenarioFlags{osds: 2, clients: 1, messages: 20, faults: "swarm"}
	opts := sf.options(6)
	opts.KeepTrace = true
	r := sim.Run(opts)
	sent, pairs := map[uint64]bool{}, 0
	for _, m := range r.Marks {
		if m.Kind == "send" {
			sent[m.ID] = true
		}
		if m.Kind == "dispatch" && sent[m.ID] {
			pairs++
		}
	}
	if pairs == 0 {
		t.Fatal("the run has no messages to draw")
	}
	checkRendered(t, out, pairs)
}

// checkRendered loads the page in headless Chromium and checks its script drew the arrows
// (want < 0: at least one).
func checkRendered(t *testing.T, page string, want int) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("MSGRSIM_REQUIRE_CHROMIUM") != "" {
			t.Fatal("chromium is required (MSGRSIM_REQUIRE_CHROMIUM) but not installed")
		}
		t.Log("SKIPPED RENDERING: chromium not installed, the page was not rendered (apt-get install chromium)")
		return
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+page)
	done := make(chan struct{})
	var dom []byte
	go func() {
		defer close(done)
		dom, err = cmd.Output()
	}()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("chromium did not finish")
	}
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	m := regexp.MustCompile(`data-arrows="(\d+)"`).FindSubmatch(dom)
	if m == nil || !bytes.Contains(dom, []byte(`data-rendered="yes"`)) {
		t.Fatalf("the page's script did not render (no data-arrows in the DOM)")
	}
	n := string(m[1])
	if (want < 0 && n == "0") || (want >= 0 && n != itoa(want)) {
		t.Fatalf("rendered %s arrows, want %d", n, want)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestSweepChecksDeterminism(t *testing.T) {
	code, out, human := run(t, "sweep", "-seeds", "20-23", "-workload", "small", "-check-determinism", "-json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if s := lastSweep(t, out); !s.Determinism || s.Passed != 4 {
		t.Fatalf("summary %+v", s)
	}
	if !strings.Contains(human, "determinism checked: every seed ran twice, 0 gave different traces") {
		t.Fatalf("no determinism line:\n%s", out)
	}
}
