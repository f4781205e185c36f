package sim

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/proto"
)

// ProbeGoals has one entry per probe, in proto.AllProbes order; a probe no sweep is required
// to reach says why, a required one does not need to.
func TestProbeGoals(t *testing.T) {
	all := proto.AllProbes()
	if len(ProbeGoals) != len(all) {
		t.Fatalf("%d goals for %d probes", len(ProbeGoals), len(all))
	}
	for i, g := range ProbeGoals {
		if g.Probe != all[i] {
			t.Fatalf("goal %d is for %v, want %v (proto.AllProbes order)", i, g.Probe, all[i])
		}
		required := g.Goal == GoalCI || g.Goal == GoalRequired
		if !required && g.Goal != GoalLater && g.Goal != GoalUnreachable {
			t.Errorf("%v: goal %v", g.Probe, g.Goal)
		}
		if required == (g.Why != "") {
			t.Errorf("%v (%v): reason %q", g.Probe, g.Goal, g.Why)
		}
	}
	ci, req := RequiredProbes(GoalCI), RequiredProbes(GoalRequired)
	if len(ci) == 0 || len(req) <= len(ci) {
		t.Fatalf("%d CI probes, %d required", len(ci), len(req))
	}
	for _, p := range ci {
		if GoalOf(p).Goal != GoalCI {
			t.Errorf("CI set has %v (%v)", p, GoalOf(p).Goal)
		}
	}
}

// docs/reach.md has one row per probe, with its goal; nothing else.
func TestReachDocTable(t *testing.T) {
	doc, err := os.ReadFile("../docs/reach.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` +\\| ([a-z-]+) +\\|")
	seen := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		name, goal := m[1], m[2]
		p, ok := proto.ParseProbe(name)
		switch {
		case !ok:
			t.Errorf("docs/reach.md names probe %q, which does not exist", name)
		case seen[name]:
			t.Errorf("docs/reach.md lists %s twice", name)
		case GoalOf(p).Goal.String() != goal:
			t.Errorf("docs/reach.md: %s is %s, sim.ProbeGoals says %v", name, goal, GoalOf(p).Goal)
		}
		seen[name] = true
	}
	for _, name := range ProbeNames() {
		if !seen[name] {
			t.Errorf("probe %s is missing from docs/reach.md", name)
		}
	}
	if !strings.Contains(string(doc), "-require-reach") {
		t.Error("docs/reach.md does not say how a sweep requires probes")
	}
}
