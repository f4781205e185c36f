package main

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/sim"
)

// A sweep's reach counts every probe (zero included), and the reach of merged shards is the
// sum of theirs and the reach of the unsharded sweep.
func TestSweepReachMergesShards(t *testing.T) {
	args := []string{"sweep", "-count", "12", "-start", "25", "-parallel", "2", "-json"}
	code, out, _ := run(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	whole := lastSweep(t, out)
	if len(whole.Reach) != len(sim.ProbeGoals) || whole.Reach["reply-seq"] == 0 || len(whole.Unreached) == 0 {
		t.Fatalf("reach %v, unreached %v", whole.Reach, whole.Unreached)
	}
	for _, name := range whole.Unreached {
		if n, ok := whole.Reach[name]; !ok || n != 0 {
			t.Fatalf("unreached %s counted %d (listed: %v)", name, n, ok)
		}
	}
	if !strings.Contains(out, "reach: "+strconv.Itoa(len(whole.Reach)-len(whole.Unreached))+" of ") {
		t.Fatalf("no reach line:\n%s", out)
	}
	dir := t.TempDir()
	var files []string
	sum := map[string]int{}
	for i := range 3 {
		code, out, _ := run(t, append(slices.Clone(args), "-shard", strconv.Itoa(i)+"/3")...)
		if code != 0 {
			t.Fatalf("shard %d: exit %d\n%s", i, code, out)
		}
		for k, v := range lastSweep(t, out).Reach { //lint:ordered (sums)
			sum[k] += v
		}
		f := filepath.Join(dir, "shard"+strconv.Itoa(i)+".json")
		if err := os.WriteFile(f, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	code, out, _ = run(t, append([]string{"merge"}, files...)...)
	if code != 0 {
		t.Fatalf("merge: exit %d\n%s", code, out)
	}
	merged := lastSweep(t, out)
	if !maps.Equal(merged.Reach, whole.Reach) || !maps.Equal(sum, whole.Reach) || !slices.Equal(merged.Unreached, whole.Unreached) {
		t.Fatalf("reach: merged %v\nsum of shards %v\nunsharded %v\nunreached merged %v, unsharded %v",
			merged.Reach, sum, whole.Reach, merged.Unreached, whole.Unreached)
	}
}

// -require-reach fails a passing sweep that missed a required probe, and names it; it passes
// when every probe asked for was reached; an unknown probe is a usage error.
func TestSweepRequireReach(t *testing.T) {
	sweep := []string{"sweep", "-count", "2", "-faults", "none", "-workload", "small", "-json"}
	for _, tc := range []struct {
		flag    string
		code    int
		missing []string
	}{
		{"-require-reach", 1, []string{"race-won-wait", "reply-wait", "replace-after-peer-restart"}},
		{"-require-reach=ci", 1, []string{"race-won-wait", "replace-lossless-peer"}},
		{"-require-reach=reply-seq,race-won-wait", 1, []string{"race-won-wait"}},
		{"-require-reach=reply-seq", 0, nil},
		{"-require-reach=false", 0, nil},
	} {
		code, out, errOut := run(t, append(slices.Clone(sweep), tc.flag)...)
		if code != tc.code {
			t.Fatalf("%s: exit %d, want %d\n%s%s", tc.flag, code, tc.code, out, errOut)
		}
		s := lastSweep(t, out)
		if s.Failed != 0 {
			t.Fatalf("%s: the runs failed: %+v", tc.flag, s)
		}
		for _, name := range tc.missing {
			if !slices.Contains(s.ReachUnmet, name) || !strings.Contains(out, "required probe(s) never hit") ||
				!strings.Contains(out, name) {
				t.Fatalf("%s: %s not reported missing (reach_unmet %v)\n%s", tc.flag, name, s.ReachUnmet, out)
			}
		}
		if slices.Contains(s.ReachUnmet, "reply-seq") || (tc.code == 0) != (len(s.ReachUnmet) == 0) {
			t.Fatalf("%s: reach_unmet %v", tc.flag, s.ReachUnmet)
		}
	}
	if code, _, errOut := run(t, "sweep", "-count", "1", "-require-reach=no-such-probe"); code != 2 ||
		!strings.Contains(errOut, "no-such-probe") {
		t.Fatalf("unknown probe: exit %d, %q", code, errOut)
	}
}
