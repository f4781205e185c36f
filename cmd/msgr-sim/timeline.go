package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/msgrsim/msgrsim/sim"
)

//go:embed timeline.html
var timelineHTML string

var timelineTmpl = template.Must(template.New("timeline").Parse(timelineHTML))

// timelineData is what the page draws; the page embeds it as JSON (a script element of type
// application/json, id timeline-data) for its own script and for tools and tests.
type timelineData struct {
	Title      string            `json:"title"`
	Reproduce  string            `json:"reproduce"`
	Result     string            `json:"result"`
	Faults     string            `json:"faults"`
	Workload   string            `json:"workload"`
	EndNs      int64             `json:"end_ns"`
	Sent       int               `json:"sent"` // messages the run sent (the checker's count)
	Groups     []tlGroup         `json:"groups"`
	Segments   []tlSegment       `json:"segments"`
	Messages   []tlMessage       `json:"messages"`
	Marks      []sim.Mark        `json:"marks"` // everything but the messages: faults, events, decisions
	Violations []tlViolation     `json:"violations"`
	Docs       map[string]string `json:"docs"`
	Models     []modelLink       `json:"models"`
}

// newTimelineData is the model of run r.
func newTimelineData(r sim.Result, reproduce string, links []modelLink) timelineData {
	msgs, marks := buildMessages(r.Marks)
	d := timelineData{
		Title: fmt.Sprintf("msgr-sim seed %d (%s)", r.Seed, r.Workload), Reproduce: reproduce, Result: r.String(),
		Faults: r.Faults.String(), Workload: r.Workload, EndNs: int64(r.VirtualTime), Sent: r.Sent,
		Groups: groupLanes(msgs, marks), Segments: activeSegments(msgs, marks, r.Violations), Messages: msgs,
		Marks: marks, Violations: linkViolations(r.Violations, msgs), Docs: sim.InvariantDoc, Models: links,
	}
	if d.Models == nil {
		d.Models = []modelLink{}
	}
	for i := range d.Models {
		d.Models[i].Text = stable(d.Models[i].Text)
	}
	for i := range d.Violations {
		d.Violations[i].Detail = stable(d.Violations[i].Detail)
	}
	return d
}

// modelLink is a porcupine check of the run: its verdict and, when it failed, porcupine's own
// visualization, copied next to the page.
type modelLink struct {
	Text string `json:"text"`
	Href string `json:"href,omitempty"`
}

func timelineCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("timeline", flag.ContinueOnError)
	var src source
	src.register(fs)
	out := fs.String("o", "", "write the HTML page (or the trace) to this file (required)")
	format := fs.String("format", "html", "html (a self-contained page) or trace (Chrome/Perfetto trace events JSON)")
	if err := parseFlags(fs, "Usage: msgr-sim timeline -seed N [scenario flags] | -tape FILE [-format html|trace] -o FILE", args, stdout); err != nil {
		return usageError("timeline", err, stderr)
	}
	if err := src.finish(fs); err != nil {
		return usageError("timeline", err, stderr)
	}
	if *out == "" {
		return usageError("timeline", errors.New("-o FILE is required"), stderr)
	}
	if *format != "html" && *format != "trace" {
		return usageError("timeline", fmt.Errorf("unknown -format %q: want html or trace", *format), stderr)
	}
	tape, from, err := src.load()
	if err != nil {
		fmt.Fprintf(stderr, "msgr-sim timeline: %v\n", err)
		return 2
	}
	opts := tape.Options()
	opts.KeepTrace = true
	r := sim.Run(opts)
	if err := writeTimelineFile(*out, *format, r, "msgr-sim replay "+from); err != nil {
		fmt.Fprintf(stderr, "msgr-sim timeline: %v\n", err)
		return 1
	}
	msgs, marks := buildMessages(r.Marks)
	groups := groupLanes(msgs, marks)
	lanes := 0
	for _, g := range groups {
		lanes += len(g.Lanes)
	}
	fmt.Fprintf(stdout, "%v\nwrote %s (%d messages, %d other marks, %d lanes in %d processes)\n", r, *out, len(msgs), len(marks), lanes, len(groups))
	if !r.Pass {
		return 1
	}
	return 0
}

// writeTimelineFile writes r to path as format: an HTML page (with porcupine's visualizations
// of failed model checks copied next to it) or a Chrome trace.
func writeTimelineFile(path, format string, r sim.Result, reproduce string) error {
	var links []modelLink
	if format == "html" {
		var err error
		if links, err = modelLinks(r, path); err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if format == "trace" {
		err = writeTrace(f, r, reproduce)
	} else {
		err = writeTimeline(f, r, reproduce, links)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeTimeline renders r as a self-contained HTML page (no network fetches).
func writeTimeline(w io.Writer, r sim.Result, reproduce string, links []modelLink) error {
	d := newTimelineData(r, reproduce, links)
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return timelineTmpl.Execute(w, struct {
		Title string
		Data  template.JS
	}{d.Title, template.JS(data)})
}

// modelLinks describes the run's porcupine checks; the visualization of a failed one is copied
// next to the page (PAGE-fifo.html, PAGE-kv.html) so the page links to it with a relative path.
func modelLinks(r sim.Result, page string) ([]modelLink, error) {
	var links []modelLink
	for _, m := range r.Models {
		l := modelLink{Text: m.String()}
		if m.Visualization != "" {
			data, err := os.ReadFile(m.Visualization)
			if err != nil {
				return nil, fmt.Errorf("porcupine visualization: %w", err)
			}
			dst := strings.TrimSuffix(page, filepath.Ext(page)) + "-" + m.Model + ".html"
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				return nil, err
			}
			l.Href = filepath.Base(dst)
		}
		links = append(links, l)
	}
	return links, nil
}
