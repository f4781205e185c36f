package models

import (
	"os"
	"strings"
	"testing"
)

// fifoScript builds a history from a compact script, one event per word:
// "s1" send 1, "d1@b#1" deliver 1 to b#1, "f" forgive, "x1" drop 1, "end" drain.
// Every event belongs to stream "a->b" unless the word is prefixed with "other:".
func fifoScript(t *testing.T, script string) []FIFOOp {
	t.Helper()
	h := NewFIFOHistory()
	for i, w := range strings.Fields(script) {
		stream := "a->b"
		if rest, ok := strings.CutPrefix(w, "other:"); ok {
			stream, w = "c->d", rest
		}
		at := int64(i * 1000)
		var id uint64
		switch {
		case w == "f":
			h.Forgive(stream, at)
		case w == "end":
			h.add(FIFOInput{Kind: FIFODrain, Stream: stream}, at)
		case w[0] == 's':
			mustScan(t, w[1:], &id)
			h.Send(stream, id, at)
		case w[0] == 'x':
			mustScan(t, w[1:], &id)
			h.Drop(stream, id, at)
		case w[0] == 'd':
			num, rcv, _ := strings.Cut(w[1:], "@")
			mustScan(t, num, &id)
			h.Deliver(stream, id, rcv, at)
		default:
			t.Fatalf("bad script word %q", w)
		}
	}
	return h.Ops()
}

func mustScan(t *testing.T, s string, id *uint64) {
	t.Helper()
	var v uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("bad id %q", s)
		}
		v = v*10 + uint64(c-'0')
	}
	*id = v
}

func TestFIFOLinearizable(t *testing.T) {
	for name, script := range map[string]string{
		"in order":                 "s1 s2 d1@b#1 s3 d2@b#1 d3@b#1 end",
		"empty":                    "end",
		"loss after a reset":       "s1 s2 f s3 d3@b#1 end",
		"partial loss after reset": "s1 s2 s3 f d1@b#1 d3@b#1 end",
		"reported drop":            "s1 s2 x1 d2@b#1 end",
		"dropped, never delivered": "s1 x1 end",
		"receiver restarted, retransmitted what it had": "s1 s2 s3 d1@b#1 d2@b#1 f d2@b#2 d3@b#2 end",
		"receiver restarted, starts later":              "s1 s2 s3 d1@b#1 f d3@b#2 end",
		"streams are independent":                       "s1 other:s1 other:d1@d#1 d1@b#1 end other:end",
		"forgiven then delivered anyway":                "s1 f d1@b#1 end",
	} {
		t.Run(name, func(t *testing.T) {
			rep := CheckFIFO(fifoScript(t, script), CheckOptions{NoVisualize: true})
			if !rep.OK() {
				t.Fatalf("%q: %v", script, rep)
			}
		})
	}
}

func TestFIFONotLinearizable(t *testing.T) {
	for name, script := range map[string]string{
		"reordered":                      "s1 s2 d2@b#1 d1@b#1 end",
		"duplicated":                     "s1 d1@b#1 d1@b#1 end",
		"duplicated after a reset":       "s1 d1@b#1 f d1@b#1 end",
		"lost without a reset":           "s1 s2 d2@b#1 end",
		"never delivered":                "s1 s2 d1@b#1 end",
		"lost after the reset was heard": "s1 f s2 s3 d3@b#1 end",
		"delivered before it was sent":   "d1@b#1 s1 end",
		"never sent":                     "s1 d2@b#1 d1@b#1 end",
		"sent twice":                     "s1 s1 d1@b#1 end",
		"redelivered to a new incarnation without a reset": "s1 s2 d1@b#1 d1@b#2 d2@b#2 end",
		"dropped the wrong one":                            "s1 s2 x2 d2@b#1 end",
		"one bad stream among good ones":                   "other:s1 s1 s2 other:d1@d#1 d2@b#1 d1@b#1 end other:end",
	} {
		t.Run(name, func(t *testing.T) {
			rep := CheckFIFO(fifoScript(t, script), CheckOptions{NoVisualize: true})
			if rep.OK() || rep.Verdict != NotLinearizable {
				t.Fatalf("%q was accepted: %v", script, rep)
			}
			if len(rep.Failed) != 1 || rep.Failed[0] != "a->b" {
				t.Fatalf("%q: failed partitions %v, want [a->b]", script, rep.Failed)
			}
		})
	}
}

// A failed check writes porcupine's visualization and names its path.
func TestFIFOVisualizationWritten(t *testing.T) {
	dir := t.TempDir()
	rep := CheckFIFO(fifoScript(t, "s1 s2 d2@b#1 d1@b#1 end"), CheckOptions{VisualizeDir: dir, Name: "fifo-test"})
	if rep.OK() {
		t.Fatal("reordering accepted")
	}
	if rep.VisualizeErr != nil || !strings.HasPrefix(rep.Visualization, dir) {
		t.Fatalf("visualization %q, error %v", rep.Visualization, rep.VisualizeErr)
	}
	b, err := os.ReadFile(rep.Visualization)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "deliver(2) to b#1") {
		t.Fatalf("visualization does not describe the operations (%d bytes)", len(b))
	}
	if !strings.Contains(rep.String(), rep.Visualization) {
		t.Fatalf("report does not name the visualization: %v", rep)
	}
}

// The visualization shows the failed streams only, the sender's events on one row and each
// receiver incarnation's on a row of its own (before, every event of every stream sat on one
// row thousands of pixels wide).
func TestFIFOVisualizationFailedStreamsInRows(t *testing.T) {
	dir := t.TempDir()
	script := "other:s7 other:s8 other:d7@d#1 other:d8@d#1 s1 s2 s3 d1@b#1 f d3@b#2 d2@b#2 end other:end"
	rep := CheckFIFO(fifoScript(t, script), CheckOptions{VisualizeDir: dir, Name: "fifo-rows"})
	if rep.OK() || len(rep.Failed) != 1 {
		t.Fatalf("report %v", rep)
	}
	b, err := os.ReadFile(rep.Visualization)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if strings.Contains(page, "deliver(7) to d#1") || !strings.Contains(page, "deliver(2) to b#2") {
		t.Fatal("the visualization does not show exactly the failed stream")
	}
	ops := fifoScript(t, script)
	rows := fifoRows(ops)
	want := map[string]int{"a->b send(1)": 0, "a->b forgive": 0, "a->b drain": 0, "a->b deliver(1) to b#1": 1,
		"a->b deliver(3) to b#2": 2, "a->b deliver(2) to b#2": 2, "c->d deliver(7) to d#1": 1}
	for i, op := range ops {
		if r, ok := want[op.Input.Stream+" "+op.Input.String()]; ok && rows[i] != r {
			t.Errorf("%v of %s on row %d, want %d", op.Input, op.Input.Stream, rows[i], r)
		}
	}
}

func TestFIFOVisualizationBadName(t *testing.T) {
	rep := CheckFIFO(fifoScript(t, "s1 s2 d2@b#1 end"), CheckOptions{VisualizeDir: t.TempDir(), Name: "../escape"})
	if rep.Visualization != "" || rep.VisualizeErr == nil {
		t.Fatalf("a name with a path separator was used: %v", rep)
	}
}
