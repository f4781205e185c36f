package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/sim"
)

// reachFlag is sweep's -require-reach: bare (or =required) it requires every probe a default
// sweep of 1,000 seeds must reach, =ci the probes a short CI sweep must reach, =a,b the named
// probes (sim.ProbeGoals, docs/reach.md).
type reachFlag struct {
	spec   string
	probes []proto.Probe // nil: nothing required
}

func (f *reachFlag) String() string { return f.spec }

// IsBoolFlag lets -require-reach stand alone.
func (f *reachFlag) IsBoolFlag() bool { return true }

func (f *reachFlag) Set(s string) error {
	if s == "false" {
		f.spec, f.probes = "", nil
		return nil
	}
	ps, err := sim.ParseRequirement(s)
	if err != nil {
		return err
	}
	f.spec, f.probes = s, ps
	return nil
}

// finishReach fills the summary's probe counts from its protocol coverage (a sweep's runs, or
// merged shards).
func (s *sweepSummary) finishReach() {
	s.Reach = s.Coverage.Protocol.ReachCounts()
	s.Unreached = s.Coverage.Protocol.Unreached()
}

// requireReach records and returns the probes of want the sweep never reached.
func (s *sweepSummary) requireReach(want []proto.Probe) []string {
	if want == nil {
		return nil
	}
	s.ReachUnmet = s.Coverage.Protocol.Unmet(want)
	return s.ReachUnmet
}

// printReach is the summary's line about probes: how many were reached, which never were,
// and which required ones were missed.
func printReach(w io.Writer, s *sweepSummary) {
	fmt.Fprintf(w, "reach: %d of %d probes", len(s.Reach)-len(s.Unreached), len(s.Reach))
	if len(s.Unreached) > 0 {
		fmt.Fprintf(w, "; never reached: %s", strings.Join(s.Unreached, ", "))
	}
	fmt.Fprintln(w)
	if len(s.ReachUnmet) > 0 {
		fmt.Fprintf(w, "  FAIL reach: %d required probe(s) never hit: %s (docs/reach.md says why each is required)\n",
			len(s.ReachUnmet), strings.Join(s.ReachUnmet, ", "))
	}
}
