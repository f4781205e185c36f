package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The user's loop, on a deliberately broken build (canary_norequeue: unacknowledged messages
// dropped at a fault): a sweep finds failing seeds, replay stops at the violation and explains
// it, shrink turns the seed into a tape of a few dozen decisions, the tape replays the same
// failure, the timeline draws it, and sharded sweeps merge into the unsharded one.
func TestCanaryLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a canary binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "msgr-sim-canary")
	if out, err := exec.Command("go", "build", "-tags", "canary_norequeue", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	sh := func(want int, args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("msgr-sim %v: exit %d, want %d\n%s", args, code, want, out)
		}
		return string(out)
	}

	sweep := sh(1, "sweep", "-count", "30", "-faults", "reset,latency", "-json")
	s := lastSweep(t, sweep)
	var seeds []uint64
	for sig, ss := range s.Signatures { //lint:ordered (the seeds are sorted below)
		if slices.Contains(strings.Split(sig, "+"), "lossless-loss") {
			seeds = append(seeds, ss...)
		}
	}
	slices.Sort(seeds)
	if len(seeds) == 0 {
		t.Fatalf("the sweep did not catch the canary as lossless-loss: %+v", s.Signatures)
	}
	seed := strconv.FormatUint(seeds[0], 10)
	if !strings.Contains(sweep, "replay: msgr-sim replay -seed "+seed+" -faults reset,latency") {
		t.Fatalf("no replay command for seed %s:\n%s", seed, sweep)
	}

	replay := sh(1, "replay", "-seed", seed, "-faults", "reset,latency")
	if !regexp.MustCompile(`VIOLATION lossless-loss at .*\n  invariant lossless-loss: every message sent on a lossless session`).MatchString(replay) {
		t.Fatalf("replay did not stop at the violation with its explanation:\n%s", tail(replay))
	}

	// A sweep finds several seeds with one signature; shrinking a few and keeping the smallest
	// tape is the usual move. One of the first four must come down to a few dozen decisions.
	tape, best := "", -1
	for i, sd := range seeds[:min(4, len(seeds))] {
		out := filepath.Join(dir, "canary"+strconv.Itoa(i)+".tape")
		shrink := sh(0, "shrink", "-seed", strconv.FormatUint(sd, 10), "-faults", "reset,latency",
			"-target", "lossless-loss", "-o", out, "-q", "-max-runs", "3000", "-timeout", "8s")
		m := regexp.MustCompile(`after:  (\d+) decisions`).FindStringSubmatch(shrink)
		if m == nil {
			t.Fatalf("no after line:\n%s", shrink)
		}
		if n, _ := strconv.Atoi(m[1]); best < 0 || n < best {
			tape, best = out, n
		}
	}
	if best > 40 {
		t.Fatalf("the smallest shrunk tape has %d decisions, want a few dozen at most", best)
	}
	again := sh(1, "replay", "-tape", tape)
	if !strings.Contains(again, "VIOLATION lossless-loss") {
		t.Fatalf("the shrunk tape does not reproduce the violation:\n%s", tail(again))
	}

	page := filepath.Join(dir, "canary.html")
	sh(1, "timeline", "-tape", tape, "-o", page)
	if html, err := os.ReadFile(page); err != nil || !strings.Contains(string(html), `"name":"lossless-loss"`) {
		t.Fatalf("the timeline does not carry the violation (%v)", err)
	}
	checkRendered(t, page, -1)

	// Shards: their union is the unsharded sweep.
	var files []string
	for i := range 3 {
		out := sh(1, "sweep", "-count", "30", "-faults", "reset,latency", "-shard", strconv.Itoa(i)+"/3", "-json")
		f := filepath.Join(dir, "shard"+strconv.Itoa(i)+".json")
		if err := os.WriteFile(f, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	merged := lastSweep(t, sh(1, append([]string{"merge"}, files...)...))
	if merged.Seeds != s.Seeds || merged.Passed != s.Passed || !slices.Equal(merged.FailingSeeds, s.FailingSeeds) ||
		len(merged.Signatures) != len(s.Signatures) {
		t.Fatalf("merged shards %+v\nunsharded %+v", merged, s)
	}
	for sig, seeds := range s.Signatures { //lint:ordered (comparison)
		if !slices.Equal(merged.Signatures[sig], seeds) {
			t.Fatalf("signature %s: merged %v, unsharded %v", sig, merged.Signatures[sig], seeds)
		}
	}
	ms, us := merged.Coverage.Protocol.Summary(), s.Coverage.Protocol.Summary()
	if ms.Runs != us.Runs || ms.States.Reached != us.States.Reached || ms.Transitions.Reached != us.Transitions.Reached ||
		ms.ReplyTags.Sent["SEQ"] != us.ReplyTags.Sent["SEQ"] || us.Runs != s.Seeds {
		t.Fatalf("protocol coverage: merged shards %+v\nunsharded %+v", ms, us)
	}
	for k, v := range s.Coverage.FaultsFired { //lint:ordered (comparison)
		if merged.Coverage.FaultsFired[k] != v {
			t.Fatalf("fault %s fired %d times in the shards, %d unsharded", k, merged.Coverage.FaultsFired[k], v)
		}
	}
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-15):], "\n")
}
