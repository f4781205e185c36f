package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The tests build msgr-sim with the canaries (deliberately broken protocol cores) and sweep
// with one selected, norequeue (unacknowledged messages dropped at a fault), so that a small
// sweep has both passing and failing seeds: the shards must agree with the unsharded sweep on
// both, and a shard that found failures (exit 1) is a result the merge reports, not a failed
// task.
const (
	canaryTags = "canary"
	canary     = "norequeue"
)

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// TestMain removes the binary the tests share.
func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// msgrSim builds cmd/msgr-sim (with canaryTags) once for the package's tests.
func msgrSim(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "msgrsim-deploy-bin-")
		if build.err != nil {
			return
		}
		// Readable by the daemons and jobs that run it.
		if build.err = os.Chmod(build.dir, 0o755); build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "msgr-sim")
		out, err := exec.Command("go", "build", "-tags", canaryTags, "-o", build.bin, "../cmd/msgr-sim").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build ./cmd/msgr-sim: %w\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// require skips the test when what (a tool, root) is missing, or fails it when the variable
// env is set (CI sets it where it installed the tool, so the test cannot silently skip).
func require(t *testing.T, env, what string) {
	t.Helper()
	if os.Getenv(env) != "" {
		t.Fatalf("%s (and %s is set: this test must run)", what, env)
	}
	t.Skip(what)
}

// lastJSON decodes the last line of a sweep's or merge's output: the JSON summary.
func lastJSON(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("%s: the last line is not a JSON summary: %v\n%s", name, err, data)
	}
	return m
}

// volatile are the summary fields in which two sweeps of the same seeds may differ: how long
// they took.
var volatile = []string{"seeds_per_sec", "wall_ms"}

// sameSweep fails t unless the merged summary equals the unsharded one in every field but
// the volatile ones: seeds, passed and failed counts, the failing seeds and their violation
// signatures, the faults fired, the phases reached and the protocol coverage.
func sameSweep(t *testing.T, what string, merged, unsharded map[string]any) {
	t.Helper()
	if _, ok := unsharded["failing_seeds"]; !ok {
		t.Fatalf("the unsharded summary has no failing_seeds: %v", unsharded)
	}
	keys := map[string]bool{}
	for k := range merged {
		keys[k] = true
	}
	for k := range unsharded {
		keys[k] = true
	}
	var diff []string
	for k := range keys {
		if !slices.Contains(volatile, k) && !reflect.DeepEqual(merged[k], unsharded[k]) {
			diff = append(diff, fmt.Sprintf("%s: merged %s, unsharded %s", k, short(merged[k]), short(unsharded[k])))
		}
	}
	slices.Sort(diff)
	if len(diff) > 0 {
		t.Errorf("%s differs from the unsharded sweep:\n  %s", what, strings.Join(diff, "\n  "))
	}
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// seedsOf returns a summary's seed count and failing seeds.
func seedsOf(t *testing.T, s map[string]any) (int, []int) {
	t.Helper()
	n, ok := s["seeds"].(float64)
	list, ok2 := s["failing_seeds"].([]any)
	if !ok || !ok2 {
		t.Fatalf("summary without seeds or failing_seeds: %s", short(s))
	}
	var failing []int
	for _, v := range list {
		failing = append(failing, int(v.(float64)))
	}
	return int(n), failing
}

// exitCode is a finished command's exit status, -1 when it did not exit.
func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
