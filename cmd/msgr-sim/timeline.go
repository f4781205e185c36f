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
	"slices"
	"strings"

	"github.com/msgrsim/msgrsim/sim"
)

//go:embed timeline.html
var timelineHTML string

var timelineTmpl = template.Must(template.New("timeline").Parse(timelineHTML))

// timelineData is what the page draws; the page's script reads it as JSON.
type timelineData struct {
	Title      string            `json:"title"`
	Reproduce  string            `json:"reproduce"`
	Result     string            `json:"result"`
	Faults     string            `json:"faults"`
	EndNs      int64             `json:"end_ns"`
	Lanes      []string          `json:"lanes"`
	Marks      []sim.Mark        `json:"marks"`
	Violations []sim.Violation   `json:"violations"`
	Docs       map[string]string `json:"docs"`
	Models     []modelLink       `json:"models"`
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
	out := fs.String("o", "", "write the HTML page to this file (required)")
	if err := parseFlags(fs, "Usage: msgr-sim timeline -seed N [scenario flags] | -tape FILE -o run.html", args, stdout); err != nil {
		return usageError("timeline", err, stderr)
	}
	if err := src.finish(fs); err != nil {
		return usageError("timeline", err, stderr)
	}
	if *out == "" {
		return usageError("timeline", errors.New("-o FILE is required"), stderr)
	}
	if err := checkWritable(*out); err != nil {
		return fail("timeline", err, stderr)
	}
	src.resolve(*out)
	tape, from, err := src.load()
	if err != nil {
		return fail("timeline", err, stderr)
	}
	opts := src.tapeOptions(tape)
	opts.KeepTrace = true
	r := sim.Run(opts)
	links, err := modelLinks(r, *out)
	if err != nil {
		return fail("timeline", ioError(err), stderr)
	}
	f, err := os.Create(*out)
	if err == nil {
		err = writeTimeline(f, r, program()+" replay "+from, links)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fail("timeline", ioError(err), stderr)
	}
	fmt.Fprintf(stdout, "%v\nwrote %s (%d marks on %d lanes)\n", r, *out, len(r.Marks), len(lanesOf(r.Marks)))
	if !r.Pass {
		return exitViolation
	}
	return exitPass
}

// writeTimeline renders r as a self-contained HTML page (no network fetches).
func writeTimeline(w io.Writer, r sim.Result, reproduce string, links []modelLink) error {
	d := timelineData{
		Title: fmt.Sprintf("msgr-sim seed %d", r.Seed), Reproduce: reproduce, Result: r.String(),
		Faults: r.Faults.String(), EndNs: int64(r.VirtualTime), Lanes: lanesOf(r.Marks), Marks: r.Marks,
		Violations: r.Violations, Docs: sim.InvariantDoc, Models: links,
	}
	if d.Models == nil {
		d.Models = []modelLink{}
	}
	if d.Marks == nil {
		d.Marks = []sim.Mark{}
	}
	if d.Violations == nil {
		d.Violations = []sim.Violation{}
	}
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return timelineTmpl.Execute(w, struct {
		Title string
		Data  template.JS
	}{d.Title, template.JS(data)})
}

// lanesOf lists the nodes in order of appearance: incarnations of a node next to each other.
func lanesOf(marks []sim.Mark) []string {
	var lanes []string
	for _, m := range marks {
		if m.Node != "" && !slices.Contains(lanes, m.Node) {
			lanes = append(lanes, m.Node)
		}
	}
	slices.SortStableFunc(lanes, func(a, b string) int {
		na, _, _ := strings.Cut(a, "#")
		nb, _, _ := strings.Cut(b, "#")
		return strings.Compare(na, nb)
	})
	return lanes
}

// modelLinks describes the run's porcupine checks; the visualization of a failed one is linked
// with a relative path: where it is when it was written beside the page (the default
// artifacts directory), else copied next to the page (PAGE-fifo.html, PAGE-kv.html).
func modelLinks(r sim.Result, page string) ([]modelLink, error) {
	var links []modelLink
	for _, m := range r.Models {
		l := modelLink{Text: m.String()}
		if m.Visualization != "" && filepath.Dir(m.Visualization) == filepath.Dir(page) {
			l.Href = filepath.Base(m.Visualization) // written beside the page already (-artifacts)
		} else if m.Visualization != "" {
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
