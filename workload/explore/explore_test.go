package explore

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func mustPoint(t *testing.T, s string) Point {
	t.Helper()
	p, err := ParsePoint(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustPolicy(t *testing.T, name string) Policy {
	t.Helper()
	p, ok := PolicyNamed(name)
	if !ok {
		t.Fatalf("no policy %q", name)
	}
	return p
}

func TestParsePoint(t *testing.T) {
	for _, s := range []string{"acceptor/write/connect_reply/1/reset", "connector/read/ack_seq/3/reset",
		"connector/write/keepalive2/2/block", "acceptor/write/footer/1/stall"} {
		if got := mustPoint(t, s).String(); got != s {
			t.Errorf("ParsePoint(%q).String() = %q", s, got)
		}
	}
	for _, s := range []string{"", "acceptor/write/connect_reply/1", "server/write/connect/1/reset",
		"acceptor/send/connect/1/reset", "acceptor/write/nope/1/reset", "acceptor/write/connect/0/reset",
		"acceptor/write/connect/1/explode", "acceptor/read/connect/1/stall"} {
		if _, err := ParsePoint(s); err == nil {
			t.Errorf("ParsePoint(%q) succeeded", s)
		}
	}
}

// The enumeration covers every handshake step of both sides and every session frame the
// scenario carries: a bug that only a fault in one of them triggers is reached.
func TestEnumerateCoversHandshakeAndFrames(t *testing.T) {
	points, base := Enumerate(mustPolicy(t, "lossless-peer"), 3, 0)
	if !base.Pass {
		t.Fatalf("the fault-free scenario fails: %v", base.Violations)
	}
	have := map[string]bool{}
	for _, p := range points {
		have[fmt.Sprintf("%v/%v/%s", p.Side, p.Op, p.Elem)] = true
	}
	var missing []string
	for _, side := range []Side{Connector, Acceptor} {
		for _, op := range []Op{Write, Read} {
			writer := side
			if op == Read {
				writer = side.other()
			}
			elems := []string{"banner", "addr", "in_seq", "msg", "header", "front", "middle", "footer", "ack", "ack_seq"}
			if writer == Connector {
				elems = append(elems, "connect", "connect_auth", "data", "keepalive2", "keepalive2_stamp")
			} else {
				elems = append(elems, "connect_reply", "data", "keepalive2_ack", "keepalive2_ack_stamp")
			}
			for _, e := range elems {
				if k := fmt.Sprintf("%v/%v/%s", side, op, e); !have[k] {
					missing = append(missing, k)
				}
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("no points at %v", missing)
	}
}

// A point fires at exactly the first byte of its element: the banner is 9 bytes and an address
// 136, so the connector's connect starts at 145 and the acceptor's reply at 281 (after its
// own address and the connector's as it saw it).
func TestPointFiresAtElementStart(t *testing.T) {
	cases := []struct {
		point string
		want  string
	}{
		{"connector/write/connect/1/reset", "conn 1 c2s at offset 145"},
		{"acceptor/read/connect/1/reset", "conn 1 c2s at offset 145"},
		{"acceptor/write/connect_reply/1/reset", "conn 1 s2c at offset 281"},
		{"connector/read/connect_reply/1/reset", "conn 1 s2c at offset 281"},
		{"acceptor/write/addr/2/stall", "conn 1 s2c at offset 145"},
	}
	for _, c := range cases {
		r := Run(Config{Policy: mustPolicy(t, "lossless-peer"), Points: []Point{mustPoint(t, c.point)}, KeepTrace: true})
		line := grep(r.Trace, "fault point "+c.point)
		if !strings.Contains(line, c.want) {
			t.Errorf("%s fired as %q, want %q", c.point, line, c.want)
		}
		if !r.AllFired() || !r.Pass {
			t.Errorf("%s: fired %v, violations %v", c.point, r.Fired, r.Violations)
		}
	}
}

// A stall holds the stream exactly at its element: the peer reads everything before it, then
// nothing until the hold ends.
func TestStallHoldsTheStream(t *testing.T) {
	p := mustPoint(t, "acceptor/write/connect_reply/1/stall")
	r := Run(Config{Policy: mustPolicy(t, "stateful-server"), Points: []Point{p}, KeepTrace: true})
	fired := at(t, grep(r.Trace, "fault point "+p.String()))
	released := at(t, grep(r.Trace, "hold released"))
	if d := released - fired; d < 0.299 || d > 0.301 {
		t.Errorf("hold from %.6fs to %.6fs, want %v", fired, released, StallFor)
	}
	if !r.Pass {
		t.Errorf("violations %v", r.Violations)
	}
}

func grep(lines []string, s string) string {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

var traceTime = regexp.MustCompile(`^\s*([0-9.]+)s `)

func at(t *testing.T, line string) float64 {
	t.Helper()
	m := traceTime.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no time in %q", line)
	}
	var f float64
	fmt.Sscan(m[1], &f)
	return f
}

func TestRunIsDeterministic(t *testing.T) {
	pol := mustPolicy(t, "lossless-peer-reuse")
	for _, seed := range []uint64{0, 7} {
		p := []Point{mustPoint(t, "connector/read/connect_reply/1/reset"), mustPoint(t, "acceptor/write/msg/1/block")}
		a := Run(Config{Policy: pol, Points: p, Seed: seed})
		b := Run(Config{Policy: pol, Points: p, Seed: seed, KeepTrace: true})
		if a.TraceHash != b.TraceHash || a.Steps != b.Steps {
			t.Errorf("seed %d: two runs differ: %016x/%d vs %016x/%d", seed, a.TraceHash, a.Steps, b.TraceHash, b.Steps)
		}
	}
}

// Every single point under every policy passes on this code: the regression check of explore
// (msgr-sim explore runs the same).
func TestAllSinglePointsPass(t *testing.T) {
	total := 0
	for _, pol := range Policies {
		points, base := Enumerate(pol, 3, 0)
		if !base.Pass {
			t.Fatalf("%s: the fault-free scenario fails: %v", pol.Name, base.Violations)
		}
		for _, p := range points {
			r := Run(Config{Policy: pol, Points: []Point{p}})
			total++
			if !r.Pass {
				t.Errorf("%s %v: %v (replay: msgr-sim explore -policy %s -point %v -v)", pol.Name, p, r.Violations[0], pol.Name, p)
			}
			if !r.AllFired() {
				t.Errorf("%s %v: never fired", pol.Name, p)
			}
		}
	}
	if total < 800 {
		t.Errorf("only %d points", total)
	}
}

// Pairs begin where their first point fired: every second point is an element written after
// it, and the pair's run reaches both.
func TestPairs(t *testing.T) {
	pol := mustPolicy(t, "lossless-peer")
	first := mustPoint(t, "connector/read/connect_reply/1/reset")
	r := Run(Config{Policy: pol, Points: []Point{first}})
	seconds := Seconds(r, 1)
	if len(seconds) < 20 {
		t.Fatalf("only %d second points: %v", len(seconds), seconds)
	}
	var sawReconnect bool
	for _, s := range seconds {
		if s.Elem == "connect" && s.Side == Connector && s.Op == Write {
			sawReconnect = s.Round == 2
		}
	}
	if !sawReconnect {
		t.Errorf("no second point at the connector's reconnect (connect round 2): %v", seconds)
	}
	for _, s := range seconds[:8] {
		pr := Run(Config{Policy: pol, Points: []Point{first, s}})
		if !pr.AllFired() || !pr.Pass {
			t.Errorf("pair %v, %v: fired %v, violations %v", first, s, pr.Fired, pr.Violations)
		}
	}
}

// fault-loss is not vacuous: a lossless message lost to a session reset fails it. The test
// marks the session down mid-run, which explore's points never do (a mark_down may drop
// queued messages: the run is outside the invariant's premise, which is the point here).
func TestFaultLossCatchesAnExcusedLoss(t *testing.T) {
	r := Run(Config{Policy: mustPolicy(t, "lossless-peer"), markDownAt: 1_100_000})
	if !violated(r, InvFaultLoss) {
		t.Fatalf("a lossless message lost to a mark_down passed fault-loss: %v", r.Violations)
	}
	if violated(r, "lossless-loss") {
		t.Errorf("the loss was excused, lossless-loss should not fire: %v", r.Violations)
	}
}

func violated(r Result, name string) bool {
	for _, v := range r.Violations {
		if v.Name == name {
			return true
		}
	}
	return false
}
