package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/internal/canary"
)

// explore -json: every stdout line is JSON, one per point, then the summary.
func TestExploreJSON(t *testing.T) {
	code, out, _ := run(t, "explore", "-policy", "lossless-peer", "-json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	points := 0
	for _, l := range lines[:len(lines)-1] {
		var r pointResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("not a JSON point: %q: %v", l, err)
		}
		if r.Policy != "lossless-peer" || r.Result != "pass" || !strings.HasPrefix(r.Replay, "msgr-sim explore -policy lossless-peer -point ") {
			t.Fatalf("point %+v", r)
		}
		points++
	}
	var s exploreSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatalf("last line is not the summary: %v", err)
	}
	if s.Points != points || s.Passed != points || s.Failed != 0 || s.Points < 200 || len(s.Failing) != 0 {
		t.Fatalf("summary %+v after %d points", s, points)
	}
}

// The table has a row per point and a mark per action, and the summary line counts them.
func TestExploreTable(t *testing.T) {
	code, out, _ := run(t, "explore", "-policy", "stateful-server,lossy-client", "-rounds", "1")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{"stateful-server  lossy-client", "acceptor/write/connect_reply/1", "connector/read/connect_reply/1",
		" passed, 0 failed, 0 not reached"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}

// -point replays one point: its trace with -v, with the fault where the point says.
func TestExplorePointReplay(t *testing.T) {
	code, out, _ := run(t, "explore", "-policy", "lossless-peer", "-point", "acceptor/write/connect_reply/1/reset", "-v")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{"fault point acceptor/write/connect_reply/1/reset: conn 1 s2c at offset 281",
		"lossless-peer acceptor/write/connect_reply/1/reset: PASS"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	for _, args := range [][]string{{"-point", "acceptor/write/nope/1/reset"}, {"-policy", "nope"}, {"-v"}, {"-rounds", "0"}} {
		if code, _, _ := run(t, append([]string{"explore"}, args...)...); code != 2 {
			t.Errorf("explore %v: exit %d, want 2", args, code)
		}
	}
}

// On a canary build, explore fails with exit 1 and replay lines that carry the canary.
func TestCanaryExplore(t *testing.T) {
	if !canary.Enabled {
		t.Skip("needs -tags canary")
	}
	defer canary.Set(canary.Set(canary.None))
	code, out, _ := run(t, "explore", "-policy", "lossless-peer", "-canary", "nodiscard", "-json")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var s exploreSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatal(err)
	}
	if s.Failed == 0 || len(s.Failing) != s.Failed || !strings.HasSuffix(s.Failing[0].Replay, " -v -canary nodiscard") {
		t.Fatalf("summary %+v", s)
	}
	code, out, _ = run(t, "explore", "-policy", "lossless-peer", "-point", s.Failing[0].Point, "-canary", "nodiscard")
	if code != 1 || !strings.Contains(out, "VIOLATION duplicate-delivery") {
		t.Fatalf("replay of %s: exit %d\n%s", s.Failing[0].Point, code, out)
	}
}
