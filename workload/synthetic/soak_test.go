//go:build linux

package synthetic_test

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/leakcheck"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/workload/synthetic"
)

var (
	soakFor     = flag.Duration("soak.duration", 0, "run the soak rounds for this long (0: one short round per policy)")
	soakOps     = flag.Int("soak.ops", 400, "operations per soak round")
	soakPayload = flag.Int("soak.payload", 64<<10, "largest payload of a soak round, bytes (Ceph: 4 MiB)")
	soakDrain   = flag.Duration("soak.drain", time.Minute, "how long a round may take to drain")
	soakOnly    = flag.String("soak.only", "", "run only this preset's rounds (inject, inject2 or inject3)")
)

// soakConfigs are the soak's rounds: Ceph's inject presets with at least 100 connections over
// 40 messengers (160 connection attempts over 256 client-server pairs), lossless (stateful_server/lossless_client, lossless_peer_reuse) and lossy
// (stateless_server/lossy_client), every one with 1-in-30 socket failures.
func soakConfigs() []synthetic.Config {
	var out []synthetic.Config
	for _, name := range []string{"inject", "inject2", "inject3"} {
		if *soakOnly != "" && name != *soakOnly {
			continue
		}
		c, _ := synthetic.Preset(name)
		c = c.Scaled(8, 32, *soakOps, *soakPayload)
		c.Clients, c.InitialConns, c.SocketFailures = 32, 160, 30
		out = append(out, c)
	}
	return out
}

// TestSoak is issue 8's real-stack soak: the SyntheticWorkload over epoll loopback with 1-in-30
// socket failures. Every round must lose, duplicate or reorder no lossless message (beyond the
// losses a reset or a drop accounts for), drain, leave no throttle unit, queued message or
// registered connection behind, and leak no goroutine. With -soak.duration it repeats the
// rounds for that long (scripts/soak.sh) and prints the totals.
func TestSoak(t *testing.T) {
	if testing.Short() && *soakFor == 0 {
		t.Skip("the soak runs real TCP for several seconds")
	}
	leaks := leakcheck.Take()
	var tot soakTotals
	start := time.Now()
	for round := uint64(1); ; round++ {
		for i, cfg := range soakConfigs() {
			r := runReal(t, cfg, round*10+uint64(i), *soakDrain)
			t.Logf("round %d: %v", round, r)
			tot.add(r)
			if len(r.violations) > 0 || len(r.leaked) > 0 {
				t.Fatalf("round %d (%v): %v\n%s", round, cfg, r.violations, leakcheck.Report(r.leaked))
			}
			if r.stats.ConnsMade < 100 {
				t.Errorf("round %d: only %d connections made, want at least 100", round, r.stats.ConnsMade)
			}
		}
		if time.Since(start) >= *soakFor {
			break
		}
	}
	t.Logf("soak totals: %v", tot.String(time.Since(start)))
	if rss := peakRSS(); rss != "" {
		t.Logf("peak RSS of the test process: %s", rss)
	}
	leaks.Check(t, 10*time.Second)
}

type soakTotals struct {
	rounds, conns, peakConns, sessions, sent, dispatched, lossless, lost int
	injected                                                             uint64
	violations                                                           map[string]int
}

func (s *soakTotals) add(r realReport) {
	s.rounds++
	s.conns += r.stats.ConnsMade
	s.peakConns = max(s.peakConns, r.peakConns)
	s.sessions += r.sessions
	s.sent += r.sent
	s.dispatched += r.dispatched
	s.lossless += r.lossless
	s.lost += r.lost
	s.injected += r.injected
	if s.violations == nil {
		s.violations = map[string]int{}
	}
	for _, v := range r.violations {
		s.violations[v.Name]++
	}
}

func (s *soakTotals) String(d time.Duration) string {
	return fmt.Sprintf("%v: %d rounds, %d connections made (peak %d open at once), %d sessions opened, %d messages sent, %d dispatched, "+
		"%d lossless, %d lossless lost to resets/drops (accounted), %d socket failures injected; "+
		"unaccounted losses %d, duplicates %d, reorders %d",
		d.Round(time.Second), s.rounds, s.conns, s.peakConns, s.sessions, s.sent, s.dispatched, s.lossless, s.lost, s.injected,
		s.violations[check.InvLosslessLoss], s.violations[check.InvDuplicate],
		s.violations[check.InvLosslessOrder]+s.violations[check.InvLossyOrder])
}

// outcomeOf names the violated invariants, sorted and deduplicated.
func outcomeOf(vs []check.Violation) string {
	seen := map[string]bool{}
	var names []string
	for _, v := range vs {
		if !seen[v.Name] {
			seen[v.Name] = true
			names = append(names, v.Name)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// peakRSS is the process's peak resident set size (VmHWM), or "" where /proc does not say.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
