package sim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/internal/canary"
)

// regressionDir holds every seed and tape that once found a bug (README.md there says which).
const regressionDir = "../testdata/regressions"

// Every regression tape replays with its expected outcome: on the real code every tape passes;
// with a canary selected (-tags canary, MSGRSIM_CANARY=name) the tape recorded on it
// (canary_<name>.tape) reproduces its violation, and the others are skipped. TestCanaries
// replays each canary's tape with its canary selected.
func TestRegressionTapes(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(regressionDir, "*.tape"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no regression tapes in %s (%v)", regressionDir, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { checkRegressionTape(t, file) })
	}
}

// checkRegressionTape replays file with the expected outcome for the canary selected.
func checkRegressionTape(t *testing.T, file string) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	tape, err := ReadTape(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Base(file)
	recordedOn := strings.TrimSuffix(strings.TrimPrefix(base, "canary_"), ".tape")
	selected := canary.Selected()
	r := tape.Replay()
	switch {
	case strings.HasPrefix(base, "canary_") && selected != canary.None && recordedOn == selected.String():
		if !hasViolation(r, tape.Expect) {
			t.Fatalf("with canary %s the tape must violate %s: %v %v", selected, tape.Expect, r, r.Violations)
		}
	case selected == canary.None:
		if !r.Pass {
			t.Fatalf("the bug is back: %v %v", r, r.Violations)
		}
	default:
		t.Skipf("recorded on another build (canary %s selected)", selected)
	}
}
