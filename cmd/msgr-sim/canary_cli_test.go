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

	"github.com/msgrsim/msgrsim/internal/canary"
)

// The user's loop, on a canary build with a deliberate bug selected (norequeue: unacknowledged
// messages dropped at a fault): a sweep finds failing seeds and prints the command lines that
// reproduce them, canary included; replay stops at the violation and explains it, shrink turns
// the seed into a tape of a few dozen decisions, the tape replays the same failure, the
// timeline draws it, and sharded sweeps merge into the unsharded one.
func TestCanaryLoop(t *testing.T) {
	if !canary.Enabled {
		t.Skip("the canaries need a build with -tags canary (go test -tags canary -run TestCanaryLoop ./cmd/msgr-sim)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "msgr-sim-canary")
	if out, err := exec.Command("go", "build", "-tags", "canary", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	// env is added to each command's environment: the sweeps select the canary with
	// MSGRSIM_CANARY; the other commands with -canary, as the printed lines say, and with
	// MSGRSIM_CANARY emptied so that they cannot lean on it.
	var env []string
	sh := func(want int, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
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

	env = []string{canary.EnvVar + "=norequeue"}
	art := filepath.Join(dir, "artifacts")
	sweep := sh(1, "sweep", "-count", "30", "-faults", "reset,latency", "-json", "-artifacts", art)
	env = []string{canary.EnvVar + "="}
	s := lastSweep(t, sweep)
	// Its artifacts are where it was told, named after seed, workload and build (the canary
	// included): porcupine's pages of failed FIFO checks, a tape per signature.
	pages, _ := filepath.Glob(filepath.Join(art, "seed*-default-*-canary-norequeue-fifo.html"))
	if len(pages) == 0 || s.Artifacts != art || len(s.Tapes) != len(s.Signatures) {
		t.Fatalf("artifacts in %s: pages %v, tapes %v", art, pages, s.Tapes)
	}
	for _, tape := range s.Tapes { //lint:ordered (each checked)
		if !regexp.MustCompile(`/seed\d+-default-[a-z0-9-]+-canary-norequeue\.tape$`).MatchString(tape) {
			t.Fatalf("tape name %s", tape)
		}
	}
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
	line := "replay: go run -tags canary ./cmd/msgr-sim replay -seed " + seed + " -faults reset,latency -canary norequeue"
	if !strings.Contains(sweep, line+"\n") {
		t.Fatalf("no replay command for seed %s:\n%s", seed, sweep)
	}
	// The line, run exactly as printed (from the module's root, as go run needs), reproduces
	// the failure: the build it names is the one that has the canary.
	replay := runPrinted(t, strings.TrimPrefix(line, "replay: "), 1)
	if !regexp.MustCompile(`VIOLATION lossless-loss at .*\n  invariant lossless-loss: every message sent on a lossless session`).MatchString(replay) {
		t.Fatalf("replay did not stop at the violation with its explanation:\n%s", tail(replay))
	}

	// A sweep finds several seeds with one signature; shrinking a few and keeping the smallest
	// tape is the usual move. One of the first four must come down to a few dozen decisions.
	tape, best := "", -1
	for i, sd := range seeds[:min(4, len(seeds))] {
		out := filepath.Join(dir, "canary"+strconv.Itoa(i)+".tape")
		shrink := sh(0, "shrink", "-seed", strconv.FormatUint(sd, 10), "-faults", "reset,latency", "-canary", "norequeue",
			"-target", "lossless-loss", "-o", out, "-q", "-max-runs", "3000", "-timeout", "8s")
		if !strings.Contains(shrink, "replay it: go run -tags canary ./cmd/msgr-sim replay -tape "+out+" -canary norequeue\n") {
			t.Fatalf("no replay command for the tape:\n%s", shrink)
		}
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
	again := sh(1, "replay", "-tape", tape, "-canary", "norequeue")
	if !strings.Contains(again, "VIOLATION lossless-loss") {
		t.Fatalf("the shrunk tape does not reproduce the violation:\n%s", tail(again))
	}
	// On the wrong build (a normal one, or the canary build without the canary) the tape
	// passes: replay exits 1 and says which build made the tape and how to reproduce it.
	normal := filepath.Join(dir, "msgr-sim")
	if out, err := exec.Command("go", "build", "-o", normal, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, b := range []string{normal, bin} {
		cmd := exec.Command(b, "replay", "-tape", tape)
		cmd.Env = append(os.Environ(), env...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		ee, ok := err.(*exec.ExitError)
		msg := stderr.String()
		if !ok || ee.ExitCode() != 1 || !strings.Contains(msg, "the tape expected lossless-loss, this replay did not produce it (the run passed)") ||
			!regexp.MustCompile(`tape made by: version=\S+ commit=\S+ tags=canary go=\S+, canary norequeue\n`).MatchString(msg) ||
			!strings.Contains(msg, ", no canary\n") ||
			!strings.Contains(msg, "the tape needs canary norequeue: go run -tags canary ./cmd/msgr-sim replay -tape "+tape+" -canary norequeue") {
			t.Fatalf("%s replay of the canary tape: %v\n%s", filepath.Base(b), err, msg)
		}
	}

	page := filepath.Join(dir, "canary.html")
	sh(1, "timeline", "-tape", tape, "-canary", "norequeue", "-o", page)
	if html, err := os.ReadFile(page); err != nil || !strings.Contains(string(html), `"name":"lossless-loss"`) ||
		!strings.Contains(string(html), "go run -tags canary ./cmd/msgr-sim replay -tape "+tape+" -canary norequeue") {
		t.Fatalf("the timeline does not carry the violation and its reproduce line (%v)", err)
	}
	checkRendered(t, page, -1)

	// Shards: their union is the unsharded sweep.
	env = []string{canary.EnvVar + "=norequeue"}
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
	if len(s.Coverage.ResetCauses) == 0 {
		t.Fatal("the sweep reports no session resets by cause")
	}
	for k, v := range s.Coverage.ResetCauses { //lint:ordered (comparison)
		if merged.Coverage.ResetCauses[k] != v {
			t.Fatalf("resets caused by %s: %d in the shards, %d unsharded", k, merged.Coverage.ResetCauses[k], v)
		}
	}
}

// runPrinted runs a command line msgr-sim printed, split at spaces, from the module's root
// with MSGRSIM_CANARY emptied (the line must say everything), and returns its output.
func runPrinted(t *testing.T, line string, want int) string {
	t.Helper()
	f := strings.Fields(line)
	cmd := exec.Command(f[0], f[1:]...)
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), canary.EnvVar+"=")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if code != want {
		t.Fatalf("%s: exit %d, want %d\n%s", line, code, want, tail(string(out)))
	}
	return string(out)
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-15):], "\n")
}

// -canary selects a canary on a canary build, names the known ones when it is not one, and
// is a clear usage error on a normal build; the reproduce line carries it.
func TestCanaryFlag(t *testing.T) {
	args := []string{"run", "-seed", "3", "-workload", "small", "-canary", "lossyack"}
	if !canary.Enabled {
		code, _, errOut := run(t, args...)
		if code != 2 || !strings.Contains(errOut, "-canary needs a binary built with -tags canary") {
			t.Fatalf("-canary on a normal build: exit %d, stderr %q", code, errOut)
		}
		return
	}
	prev := canary.Selected()
	t.Cleanup(func() { canary.Set(prev) })
	if code, _, errOut := run(t, "run", "-seed", "3", "-canary", "nosuch"); code != 2 ||
		!strings.Contains(errOut, "unknown canary \"nosuch\" (known: norequeue, ") {
		t.Fatalf("-canary nosuch: exit %d, stderr %q", code, errOut)
	}
	code, out, _ := run(t, args...)
	if code != 1 || !strings.Contains(out, "lossy-ack") ||
		!strings.Contains(out, "reproduce: go run -tags canary ./cmd/msgr-sim run -seed 3 -workload small -canary lossyack\n") {
		t.Fatalf("-canary lossyack: exit %d\n%s", code, out)
	}
}
