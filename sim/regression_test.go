package sim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// regressionDir holds every seed and tape that once found a bug (README.md there says which).
const regressionDir = "../testdata/regressions"

// Every regression tape replays with its expected outcome: a tape recorded on a canary build
// (canary_<name>.tape) reproduces its violation on that build, and on the real build every
// tape passes.
func TestRegressionTapes(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(regressionDir, "*.tape"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no regression tapes in %s (%v)", regressionDir, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			tape, err := ReadTape(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			built := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "canary_"), ".tape")
			r := tape.Replay()
			switch {
			case strings.HasPrefix(filepath.Base(file), "canary_") && built == canaryName:
				if !hasViolation(r, tape.Expect) {
					t.Fatalf("on the canary_%s build the tape must violate %s: %v %v", built, tape.Expect, r, r.Violations)
				}
			case canaryName == "":
				if !r.Pass {
					t.Fatalf("the bug is back: %v %v", r, r.Violations)
				}
			default:
				t.Skipf("recorded on another build (running canary_%s)", canaryName)
			}
		})
	}
}
