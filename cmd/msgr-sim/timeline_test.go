package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/canary"
	"github.com/msgrsim/msgrsim/sim"
)

// The timeline page is self-contained and draws every message of the run.
func TestTimelinePage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run.html")
	code, stdout, _ := run(t, "timeline", "-seed", "6", "-workload", "small", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"http://", "https://", "<link", "src="} {
		if bytes.Contains(bytes.ReplaceAll(page, []byte(`"http://www.w3.org/2000/svg"`), nil), []byte(bad)) {
			t.Errorf("page refers to something outside itself: %q", bad)
		}
	}
	sf := scenarioFlags{osds: 2, clients: 1, messages: 20, faults: "swarm"}
	opts := sf.options(6)
	opts.KeepTrace = true
	r := sim.Run(opts)
	d := readTimelineData(t, out)
	if r.Sent == 0 || len(d.Messages) != r.Sent {
		t.Fatalf("the page has %d messages, the run sent %d", len(d.Messages), r.Sent)
	}
	checkRendered(t, out, r.Sent)
}

// The cluster workload's timeline draws every message the run sent (before, it drew none: the
// page knew only the default workload's marks), in Chromium.
func TestTimelineClusterDrawsEveryMessage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cluster.html")
	code, stdout, _ := run(t, "timeline", "-seed", "3", "-workload", "cluster", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	m := regexp.MustCompile(`sent (\d+) dispatched (\d+)`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no message counts in the output:\n%s", stdout)
	}
	sent, _ := strconv.Atoi(m[1])
	d := readTimelineData(t, out)
	if sent < 1000 || len(d.Messages) != sent || d.Sent != sent {
		t.Fatalf("the run sent %d messages, the page has %d (its count: %d)", sent, len(d.Messages), d.Sent)
	}
	lanes := 0
	for _, g := range d.Groups {
		lanes += len(g.Lanes)
		if len(g.Lanes) > 1 && !strings.HasPrefix(g.Lanes[1], g.Name+"/") {
			t.Errorf("group %s holds lane %s", g.Name, g.Lanes[1])
		}
	}
	if len(d.Groups) < 5 || lanes < 20 {
		t.Errorf("%d lanes in %d groups: want the cluster's messengers grouped per process", lanes, len(d.Groups))
	}
	checkRendered(t, out, sent)
}

// Every workload's timeline has every message sent, and the dispatches the checker counted.
func TestTimelineEveryWorkloadHasItsMessages(t *testing.T) {
	for _, w := range []string{"small", "cluster", "large", "synthetic"} {
		t.Run(w, func(t *testing.T) {
			if w == "large" && testing.Short() {
				t.Skip("large runs a few seconds")
			}
			sf := scenarioFlags{faults: "swarm", workload: w}
			if err := sf.finish(flag.NewFlagSet("test", flag.ContinueOnError)); err != nil {
				t.Fatal(err)
			}
			opts := sf.options(2)
			opts.KeepTrace = true
			r := sim.Run(opts)
			d := newTimelineData(r, "test", nil)
			dispatched := 0
			for _, m := range d.Messages {
				for _, x := range m.Dispatches {
					if !x.Duplicate {
						dispatched++
					}
				}
				if (len(m.Dispatches) == 0) == (m.Fate == fateDelivered) {
					t.Fatalf("message %d: fate %s with %d dispatches", m.ID, m.Fate, len(m.Dispatches))
				}
			}
			if r.Sent == 0 || len(d.Messages) != r.Sent || dispatched != r.Delivered {
				t.Fatalf("run sent %d dispatched %d; the timeline has %d messages, %d dispatches",
					r.Sent, r.Delivered, len(d.Messages), dispatched)
			}
		})
	}
}

// The same seed draws the same page, byte for byte.
func TestTimelineDeterministic(t *testing.T) {
	dir := t.TempDir()
	var pages [2][]byte
	for i := range pages {
		out := filepath.Join(dir, fmt.Sprintf("p%d.html", i))
		if code, stdout, _ := run(t, "timeline", "-seed", "5", "-workload", "cluster", "-o", out); code != 0 {
			t.Fatalf("exit %d\n%s", code, stdout)
		}
		var err error
		if pages[i], err = os.ReadFile(out); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(pages[0], pages[1]) {
		t.Fatal("two timelines of one seed differ")
	}
}

// A lost message, a duplicate and a violation long after the rest: the model marks the lost
// and duplicated messages, links them to the violations that name them, and the axis cuts the
// idle stretch out (the violation at 900 s is on the axis, not past it).
func TestTimelineModelOfAFailure(t *testing.T) {
	ms := time.Millisecond
	marks := []sim.Mark{
		{At: 0, Kind: "up", Node: "osd.0#1"},
		{At: 1 * ms, Kind: "send", Node: "osd.0#1", Peer: "osd.1", ID: 1, Text: "lossless"},
		{At: 2 * ms, Kind: "send", Node: "osd.0#1", Peer: "osd.1", ID: 2, Text: "lossless"},
		{At: 3 * ms, Kind: "send", Node: "client.0#1", Peer: "osd.1", ID: 3, Text: "lossy"},
		{At: 4 * ms, Kind: "dispatch", Node: "osd.1#1", ID: 2},
		{At: 5 * ms, Kind: "dispatch", Node: "osd.1#1", ID: 2},
		{At: 6 * ms, Kind: "fault", Node: "osd.1#1", Text: "fault"},
		{At: 900 * time.Second, Kind: "lost", ID: 1, Text: "unaccounted: no reset, crash or drop was reported"},
		{At: 900 * time.Second, Kind: "lost", ID: 3, Text: "accounted: lossy: may be lost"},
	}
	vs := []sim.Violation{
		{Name: sim.InvDuplicate, Detail: "stream osd.0->osd.1: message #1 (id 2) dispatched twice to osd.1#1", AtNs: int64(5 * ms)},
		{Name: sim.InvLosslessLoss, Detail: "stream osd.0->osd.1: 1 of 2 messages never dispatched and no reset reported (first #0)", AtNs: int64(900 * time.Second)},
	}
	msgs, other := buildMessages(marks)
	if len(msgs) != 3 || len(other) != 2 {
		t.Fatalf("%d messages, %d other marks", len(msgs), len(other))
	}
	fates := []string{msgs[0].Fate, msgs[1].Fate, msgs[2].Fate}
	if fmt.Sprint(fates) != "[lost duplicate lossy-dropped]" || !msgs[1].Dispatches[1].Duplicate || msgs[1].Dispatches[0].Duplicate {
		t.Fatalf("fates %v, dispatches %+v", fates, msgs[1].Dispatches)
	}
	tv := linkViolations(vs, msgs)
	if fmt.Sprint(tv[0].Messages, tv[1].Messages, msgs[0].Violations, msgs[1].Violations) != "[2] [1] [1] [0]" {
		t.Fatalf("violations %+v, messages %+v", tv, msgs)
	}
	segs := activeSegments(msgs, other, vs)
	last := segs[len(segs)-1]
	if len(segs) < 2 || last.FromNs != int64(900*time.Second) || last.ToNs != int64(900*time.Second) || segs[0].ToNs != int64(6*ms) {
		t.Fatalf("segments %+v: want the idle 900 s cut out", segs)
	}
	groups := groupLanes(msgs, other)
	if fmt.Sprint(groups) != "[{client.0 [client.0]} {osd.0 [osd.0]} {osd.1 [osd.1]}]" {
		t.Fatalf("groups %v", groups)
	}
}

// Lanes are grouped per process, the process's own lane first, numbers in number order.
func TestTimelineGroups(t *testing.T) {
	msgs := []tlMessage{{From: "osd.10/public", Peer: "mon.a", Dispatches: []tlDispatch{{Lane: "mon.a"}}},
		{From: "osd.2/cluster", Peer: "osd.10/cluster", Dispatches: []tlDispatch{{Lane: "osd.10/cluster"}}}}
	marks := []sim.Mark{{Node: "osd.10#3", Kind: "inject"}, {Node: "osd.2/public#1", Kind: "fault"}}
	got := fmt.Sprint(groupLanes(msgs, marks))
	want := "[{mon.a [mon.a]} {osd.2 [osd.2/cluster osd.2/public]} {osd.10 [osd.10 osd.10/cluster osd.10/public]}]"
	if got != want {
		t.Fatalf("groups\n got %s\nwant %s", got, want)
	}
}

// A shrunk tape of a broken build (canary norequeue: a lossless message lost at a fault): the
// page names the lost messages, links them from the violation, and draws them (a LOST label
// each, the violation on the axis).
func TestTimelineShrunkTapeShowsTheLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a canary binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "msgr-sim-canary")
	if out, err := exec.Command("go", "build", "-tags", "canary", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	page := filepath.Join(dir, "tape.html")
	cmd := exec.Command(bin, "timeline", "-tape", "../../testdata/regressions/canary_norequeue.tape", "-canary", "norequeue", "-o", page)
	cmd.Env = append(os.Environ(), canary.EnvVar+"=")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("timeline of the tape: %v, want exit 1\n%s", err, out)
	}
	d := readTimelineData(t, page)
	var lost []uint64
	for _, m := range d.Messages {
		if m.Fate == fateLost {
			lost = append(lost, m.ID)
		}
	}
	var linked []uint64
	for _, v := range d.Violations {
		if v.Name == sim.InvLosslessLoss {
			linked = v.Messages
		}
	}
	if len(lost) == 0 || fmt.Sprint(lost) != fmt.Sprint(linked) {
		t.Fatalf("lost messages %v, linked from the lossless-loss violation %v", lost, linked)
	}
	dom, ok := renderedDOM(t, page)
	if !ok {
		return
	}
	for _, id := range lost {
		if !bytes.Contains(dom, []byte(fmt.Sprintf(">LOST #%d<", id))) {
			t.Errorf("no LOST label for message %d", id)
		}
	}
	checkViolationsOnAxis(t, dom, len(d.Violations))

	// Seed 19 (the README's): violations 900 s after the rest, still on the axis.
	page = filepath.Join(dir, "seed19.html")
	cmd = exec.Command(bin, "timeline", "-seed", "19", "-canary", "norequeue", "-o", page)
	cmd.Env = append(os.Environ(), canary.EnvVar+"=")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("seed 19 passed on the canary build:\n%s", out)
	}
	d = readTimelineData(t, page)
	last := d.Violations[len(d.Violations)-1].AtNs
	if len(d.Segments) < 2 || last < int64(600*time.Second) || d.Segments[len(d.Segments)-1].ToNs != last {
		t.Fatalf("segments %+v, last violation at %d ns: want the idle stretch before it cut out", d.Segments, last)
	}
	if dom, ok = renderedDOM(t, page); ok {
		checkViolationsOnAxis(t, dom, len(d.Violations))
	}
}

// checkViolationsOnAxis checks the n violation bands lie within the chart.
func checkViolationsOnAxis(t *testing.T, dom []byte, n int) {
	t.Helper()
	w := regexp.MustCompile(`<svg id="svg"[^>]* width="([\d.]+)"`).FindSubmatch(dom)
	bands := regexp.MustCompile(`<rect id="viol-\d+" x="([\d.]+)"`).FindAllSubmatch(dom, -1)
	if w == nil || len(bands) != n {
		t.Fatalf("chart width %q, %d violation bands, want %d", w, len(bands), n)
	}
	width, _ := strconv.ParseFloat(string(w[1]), 64)
	for _, b := range bands {
		if x, _ := strconv.ParseFloat(string(b[1]), 64); x < 0 || x > width {
			t.Errorf("a violation band at x=%v, outside the chart (width %v)", x, width)
		}
	}
}

// readTimelineData reads the JSON a page embeds.
func readTimelineData(t *testing.T, page string) timelineData {
	t.Helper()
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<script type="application/json" id="timeline-data">(.*?)</script>`).FindSubmatch(html)
	if m == nil {
		t.Fatal("the page embeds no timeline-data")
	}
	var d timelineData
	if err := json.Unmarshal(m[1], &d); err != nil {
		t.Fatalf("timeline-data: %v", err)
	}
	if d.Messages == nil || d.Marks == nil || d.Violations == nil {
		t.Fatal("timeline-data lacks messages, marks or violations")
	}
	return d
}

// checkRendered loads the page in headless Chromium and checks its script drew want messages
// (want < 0: at least one), counting the message elements in the DOM it left.
func checkRendered(t *testing.T, page string, want int) {
	t.Helper()
	dom, ok := renderedDOM(t, page)
	if !ok {
		return
	}
	m := regexp.MustCompile(`data-messages="(\d+)"`).FindSubmatch(dom)
	if m == nil || !bytes.Contains(dom, []byte(`data-rendered="yes"`)) {
		t.Fatalf("the page's script did not render (no data-messages in the DOM)")
	}
	drawn := bytes.Count(dom, []byte(`<g class="msg"`))
	if n, _ := strconv.Atoi(string(m[1])); n != drawn {
		t.Fatalf("the page says it drew %d messages, its DOM has %d", n, drawn)
	}
	if (want < 0 && drawn == 0) || (want >= 0 && drawn != want) {
		t.Fatalf("drew %d messages, want %d", drawn, want)
	}
}

// renderedDOM is the DOM headless Chromium leaves once the page's script ran; false (the test
// logs why) when chromium is not installed and MSGRSIM_REQUIRE_CHROMIUM is not set.
func renderedDOM(t *testing.T, page string) ([]byte, bool) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("MSGRSIM_REQUIRE_CHROMIUM") != "" {
			t.Fatal("chromium is required (MSGRSIM_REQUIRE_CHROMIUM) but not installed")
		}
		t.Log("SKIPPED RENDERING: chromium not installed, the page was not rendered " +
			"(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)")
		return nil, false
	}
	abs, err := filepath.Abs(page)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,900",
		"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+abs)
	done := make(chan struct{})
	var dom []byte
	go func() {
		defer close(done)
		dom, err = cmd.Output()
	}()
	select {
	case <-done:
	case <-time.After(120 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("chromium did not finish")
	}
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return dom, true
}

// An unknown -format is a usage error, found before the run.
func TestTimelineUnknownFormat(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x")
	code, _, stderr := run(t, "timeline", "-seed", "1", "-format", "svg", "-o", out)
	if code != 2 || !strings.Contains(stderr, `unknown -format "svg"`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("wrote a file anyway")
	}
}
