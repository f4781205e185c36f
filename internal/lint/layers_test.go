package lint

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

const mod = "github.com/msgrsim/msgrsim/"

// simLayers is the simulator's import order, top to bottom: a package may import packages
// of the layers below its own, never of its own layer or above (imports run one way), and
// never those it forbids.
var simLayers = [][]string{
	{"sim"},
	{"workload/pingpong", "workload/cluster", "workload/synthetic/synthsim", "workload/explore"},
	{"workload/synthetic"}, // the workload itself, over real TCP too: see forbidden
	{"sim/harness"},
	{"sim/fault"},
	{"sim/world", "sim/check"},
}

// forbidden are imports a package must not have whatever the layers say: the checks run over
// real TCP (no simulated world, no network, and no lock: the real-TCP side serializes them),
// the world knows no invariant, and the synthetic workload links no simulator.
var forbidden = map[string][]string{
	"sim/check":          {mod + "sim/world", mod + "simnet", "sync"},
	"sim/world":          {mod + "sim/check"},
	"workload/synthetic": {mod + "sim/world", mod + "sim/fault", mod + "sim/harness", mod + "simnet"},
}

// The simulator's packages import one way, down the layers (sim → workload/… → sim/harness →
// sim/fault → sim/world, sim/check), and the checks stay usable over real TCP.
func TestSimulatorLayers(t *testing.T) {
	layer := map[string]int{}
	var patterns []string
	for i, l := range simLayers {
		for _, p := range l {
			layer[mod+p] = i
			patterns = append(patterns, mod+p)
		}
	}
	var problems []string
	for _, p := range load(t, patterns...) {
		for imp := range p.Imports {
			if l, ok := layer[imp]; ok && l <= layer[p.PkgPath] {
				problems = append(problems, fmt.Sprintf("%s imports %s (same layer or above)", p.PkgPath, imp))
			}
			for _, f := range forbidden[strings.TrimPrefix(p.PkgPath, mod)] {
				if imp == f {
					problems = append(problems, fmt.Sprintf("%s imports %s (forbidden)", p.PkgPath, imp))
				}
			}
		}
	}
	sort.Strings(problems)
	for _, pr := range problems {
		t.Error(pr)
	}
}
