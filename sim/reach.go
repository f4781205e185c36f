package sim

import (
	"fmt"
	"slices"
	"strings"

	"github.com/msgrsim/msgrsim/msgr/proto"
)

// Reachability goals (FoundationDB's CODE_PROBE, Antithesis' Sometimes): the messenger reports
// a proto.Probe each time it runs a rare path, a run counts them (Coverage.Reach, the "reach"
// category of its coverage), a sweep adds them up, and a sweep that must reach a probe fails
// when it never did (msgr-sim sweep -require-reach). docs/reach.md has the table of probes,
// their goals and how often a 1,000-seed default sweep reaches each.

// Goal says which sweeps must reach a probe.
type Goal uint8

// Goals, from the strictest.
const (
	// GoalCI: a short sweep (msgr-sim sweep -count 100, as .ci/run runs it) reaches it, and
	// so does every default sweep of 1,000 seeds.
	GoalCI Goal = iota + 1
	// GoalRequired: a default swarm sweep of 1,000 seeds reaches it.
	GoalRequired
	// GoalLater: a real path the default scenario cannot reach yet; the reason says what the
	// scenario lacks (peers of other policies, misconfigured peers, cephx).
	GoalLater
	// GoalUnreachable: no simulated run can reach it, by design (the reason says why).
	GoalUnreachable
)

var goalNames = [...]string{GoalCI: "ci", GoalRequired: "required", GoalLater: "required-later",
	GoalUnreachable: "unreachable"}

func (g Goal) String() string {
	if int(g) < len(goalNames) && goalNames[g] != "" {
		return goalNames[g]
	}
	return fmt.Sprintf("goal(%d)", g)
}

// ProbeGoal is the goal of one probe, with the reason when it is not required.
type ProbeGoal struct {
	Probe proto.Probe
	Goal  Goal
	Why   string
}

const (
	whyMisconfigured = "every peer of the default scenario is configured alike; the cluster workload's misconfigured " +
		"probe node reaches it"
	whyPolicy = "the default scenario has lossless_peer OSDs and lossy clients of a stateless, unregistered server, " +
		"so no session of this policy exists"
)

// ProbeGoals is every probe's goal, in proto.AllProbes order. GoalCI and GoalRequired are
// what the default workload's sweep (the configuration swarm on) reaches (docs/reach.md has
// the counts); the CI set is the probes reached in at least 4% of its seeds (those the swarm
// brought within reach, old messages, keepalives, throttles and timeouts: in at least 8%), so
// that a 100-seed sweep misses one only when a change makes it rarer.
var ProbeGoals = []ProbeGoal{
	{proto.ProbeRaceWonWait, GoalCI, ""},
	{proto.ProbeRaceWonWaitStale, GoalCI, ""},
	{proto.ProbeRaceLostReplace, GoalCI, ""},
	{proto.ProbeRaceWaitReplaced, GoalCI, ""},
	{proto.ProbeRaceWaitReconnect, GoalRequired, ""},
	{proto.ProbeReplaceLossy, GoalLater, whyPolicy + " (the cluster workload's registered OSD servers reach it)"},
	{proto.ProbeReplaceLosslessPeer, GoalCI, ""},
	{proto.ProbeReplacePeerReuse, GoalLater, whyPolicy + " (the synthetic workload's lossless_peer_reuse presets reach it)"},
	{proto.ProbeReplaceStateful, GoalLater, whyPolicy + " (the synthetic workload's stateful_server presets reach it)"},
	{proto.ProbeReplaceClient, GoalUnreachable, "a lossless_client's peer is a server, which never connects to it: no " +
		"accept decision ever finds a lossless_client session to replace"},
	{proto.ProbeReplacePeerRestart, GoalCI, ""},
	{proto.ProbeReplaceAfterRestart, GoalRequired, ""},
	{proto.ProbeReplaceRetryOpen, GoalCI, ""},
	{proto.ProbeReplyReady, GoalCI, ""},
	{proto.ProbeReplySeq, GoalCI, ""},
	{proto.ProbeReplyWait, GoalCI, ""},
	{proto.ProbeReplyRetrySession, GoalCI, ""},
	{proto.ProbeReplyRetryGlobal, GoalCI, ""},
	{proto.ProbeReplyResetSession, GoalCI, ""},
	{proto.ProbeReplyFeatures, GoalLater, whyMisconfigured},
	{proto.ProbeReplyBadProtoVer, GoalLater, whyMisconfigured},
	{proto.ProbeReplyBadAuthorizer, GoalLater, whyMisconfigured},
	{proto.ProbeReplyChallenge, GoalLater, "the default scenario runs auth none, which never asks for another round; " +
		"the cluster workload with cephx (-auth cephx) reaches it in every run: each authorizer to an OSD is challenged"},
	{proto.ProbeResend, GoalCI, ""},
	{proto.ProbeSeqDiscard, GoalCI, ""},
	{proto.ProbeOldMessage, GoalCI, ""},
	{proto.ProbeSendWakes, GoalCI, ""},
	{proto.ProbeKeepaliveWakes, GoalCI, ""},
	{proto.ProbeThrottleMessages, GoalCI, ""},
	{proto.ProbeThrottleBytes, GoalCI, ""},
	{proto.ProbeThrottleDispatch, GoalCI, ""},
	{proto.ProbeBackoffCap, GoalRequired, ""},
	{proto.ProbeHandshakeTimeout, GoalCI, ""},
	{proto.ProbeIdleTimeout, GoalRequired, ""},
}

// GoalOf returns the goal of probe p.
func GoalOf(p proto.Probe) ProbeGoal {
	for _, g := range ProbeGoals {
		if g.Probe == p {
			return g
		}
	}
	return ProbeGoal{Probe: p}
}

// RequiredProbes returns the probes a sweep must reach at goal level g: GoalCI gives the CI
// set, GoalRequired the CI set and the rest a full default sweep must reach.
func RequiredProbes(g Goal) []proto.Probe {
	var ps []proto.Probe
	for _, pg := range ProbeGoals {
		if pg.Goal <= g {
			ps = append(ps, pg.Probe)
		}
	}
	return ps
}

// ParseRequirement reads what a sweep must reach: "required" (or "" or "true"), "ci", or a
// comma-separated list of probe names.
func ParseRequirement(s string) ([]proto.Probe, error) {
	switch s {
	case "", "true", GoalRequired.String():
		return RequiredProbes(GoalRequired), nil
	case GoalCI.String():
		return RequiredProbes(GoalCI), nil
	}
	var ps []proto.Probe
	for _, name := range strings.Split(s, ",") {
		p, ok := proto.ParseProbe(strings.TrimSpace(name))
		if !ok {
			return nil, fmt.Errorf("unknown probe %q (want required, ci, or probe names: %s)", name, strings.Join(ProbeNames(), ", "))
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// ProbeNames lists every probe's name in proto.AllProbes order.
func ProbeNames() []string {
	var names []string
	for _, p := range proto.AllProbes() {
		names = append(names, p.String())
	}
	return names
}

// ReachCounts returns every probe's count in c, unreached ones included (0).
func (c *Coverage) ReachCounts() map[string]int {
	m := make(map[string]int, proto.NumProbes)
	for _, p := range proto.AllProbes() {
		m[p.String()] = c.Reach[p.String()]
	}
	return m
}

// Unreached lists the probes c never reached, in proto.AllProbes order.
func (c *Coverage) Unreached() []string {
	out := []string{}
	for _, p := range proto.AllProbes() {
		if c.Reach[p.String()] == 0 {
			out = append(out, p.String())
		}
	}
	return out
}

// Unmet returns the probes of want that c never reached, in want's order without repeats.
func (c *Coverage) Unmet(want []proto.Probe) []string {
	out := []string{}
	for _, p := range want {
		if c.Reach[p.String()] == 0 && !slices.Contains(out, p.String()) {
			out = append(out, p.String())
		}
	}
	return out
}

// reachCategory summarises the probe counts: what was never reached is missing, unless no run
// can reach it (GoalUnreachable: listed with the reason).
func reachCategory(counts map[string]int) Category {
	cat := Category{Total: len(ProbeGoals), Counts: counts, Missing: []string{}}
	for _, g := range ProbeGoals {
		name := g.Probe.String()
		switch {
		case counts[name] > 0:
			cat.Reached++
		case g.Goal == GoalUnreachable:
			if cat.Unreachable == nil {
				cat.Unreachable = map[string]string{}
			}
			cat.Unreachable[name] = g.Why
		default:
			cat.Missing = append(cat.Missing, name)
		}
	}
	return cat
}
