// Command benchplot draws the msgr-bench matrix as an SVG, from the JSON report that
// "msgr-bench run -out report.json" writes (or from the {"results":[…]} line of -json):
//
//	go run ./scripts/benchplot docs/bench/results.json > docs/bench/bench.svg
//
// For each mode it draws throughput (operations per second) and CPU per operation of every
// contender, cell by cell (size × connections), on log scales; then the paired ratios of msgr
// to the other contenders, when the report has them, against the targets' reference lines.
//
// With -md it prints the same data as Markdown tables instead (as pasted into BENCHMARKS.md):
//
//	go run ./scripts/benchplot -md docs/bench/results.json
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
)

func main() {
	args := os.Args[1:]
	md := len(args) == 2 && args[0] == "-md"
	if md {
		args = args[1:]
	}
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: benchplot [-md] REPORT.json > plot.svg")
		os.Exit(2)
	}
	rep, err := load(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchplot:", err)
		os.Exit(1)
	}
	if md {
		err = markdown(os.Stdout, rep)
	} else {
		err = render(os.Stdout, rep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchplot:", err)
		os.Exit(1)
	}
}

// markdown prints one table per mode (a row per cell, msgs/s and CPU µs/op per contender,
// latencies for msgr and stdlib) and the paired ratios of msgr to stdlib and rawframed.
func markdown(w io.Writer, rep *report) error {
	var b strings.Builder
	for _, m := range modes {
		cells := cellsOf(rep, m)
		if len(cells) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n#### %s\n\n| size | conns |", m)
		for _, ct := range contenders {
			fmt.Fprintf(&b, " %s ops/s | %s µs/op |", ct, ct)
		}
		if m != "oneway" {
			b.WriteString(" msgr p50/p99 µs | stdlib p50/p99 µs |")
		}
		b.WriteString(" msgr allocs/op |\n|---|---|")
		for range contenders {
			b.WriteString("---:|---:|")
		}
		if m != "oneway" {
			b.WriteString("---:|---:|")
		}
		b.WriteString("---:|\n")
		for _, c := range cells {
			fmt.Fprintf(&b, "| %s | %d |", sizeName(c.size), c.conns)
			for _, ct := range contenders {
				if r, ok := find(rep, m, ct, c); ok {
					fmt.Fprintf(&b, " %s | %s |", num(r.MsgsPerSec), num(r.CPUUsPer))
				} else {
					b.WriteString(" – | – |")
				}
			}
			if m != "oneway" {
				for _, ct := range []string{"msgr", "stdlib"} {
					if r, ok := find(rep, m, ct, c); ok {
						fmt.Fprintf(&b, " %s / %s |", num(r.P50us), num(r.P99us))
					} else {
						b.WriteString(" – |")
					}
				}
			}
			if r, ok := find(rep, m, "msgr", c); ok {
				fmt.Fprintf(&b, " %.2f |", r.Allocs)
			} else {
				b.WriteString(" – |")
			}
			b.WriteString("\n")
		}
	}
	if len(rep.Ratios) > 0 {
		b.WriteString("\n#### Paired ratios msgr / other (median [min, max] over repetitions)\n\n")
		b.WriteString("| mode | size | conns | ops/s vs stdlib | CPU/op vs stdlib | p50 vs stdlib | ops/s vs rawframed | ops/s vs rawtcp |\n")
		b.WriteString("|---|---|---|---:|---:|---:|---:|---:|\n")
		for _, m := range modes {
			for _, c := range cellsOf(rep, m) {
				fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %s |\n", m, sizeName(c.size), c.conns,
					ratioText(rep, m, c, "stdlib", "msgs_per_sec"), ratioText(rep, m, c, "stdlib", "cpu_us_per_msg"),
					ratioText(rep, m, c, "stdlib", "p50_us"), ratioText(rep, m, c, "rawframed", "msgs_per_sec"),
					ratioText(rep, m, c, "rawtcp", "msgs_per_sec"))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ratioText(rep *report, mode string, c cellID, versus, metric string) string {
	for _, r := range rep.Ratios {
		if r.Mode == mode && r.Size == c.size && r.Conns == c.conns && r.Versus == versus && r.Metric == metric {
			return fmt.Sprintf("%.2f [%.2f, %.2f]", r.Median, r.Min, r.Max)
		}
	}
	return "–"
}

// num renders a value with about three significant digits.
func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.2fk", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// result is one contender on one cell (the summary msgr-bench writes).
type result struct {
	Contender  string  `json:"contender"`
	Mode       string  `json:"mode"`
	Size       int     `json:"size"`
	Conns      int     `json:"conns"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	CPUUsPer   float64 `json:"cpu_us_per_msg"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	Allocs     float64 `json:"allocs_per_msg"`
}

// ratio is a paired msgr/other comparison of one metric on one cell.
type ratio struct {
	Mode   string  `json:"mode"`
	Size   int     `json:"size"`
	Conns  int     `json:"conns"`
	Of     string  `json:"of"` // empty for msgr; msgr-inline's ratios are left out of the plots
	Versus string  `json:"versus"`
	Metric string  `json:"metric"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

type report struct {
	Env     map[string]any `json:"env"`
	Results []result       `json:"results"`
	Ratios  []ratio        `json:"ratios"`
}

// load reads a report file, or the last line of msgr-bench's -json output.
func load(path string) (*report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if err2 := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err2 != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if len(rep.Results) == 0 {
		return nil, errors.New(path + ": no results")
	}
	ratios := rep.Ratios[:0]
	for _, r := range rep.Ratios {
		if r.Of == "" {
			ratios = append(ratios, r)
		}
	}
	rep.Ratios = ratios
	return &rep, nil
}

var (
	modes      = []string{"oneway", "pingpong", "rr"}
	contenders = []string{"msgr", "stdlib", "rawframed", "rawtcp"}
	colors     = map[string]string{"msgr": "#d62728", "stdlib": "#1f77b4", "rawframed": "#7f7f7f", "rawtcp": "#bcbd22"}
)

// Layout of the picture.
const (
	width     = 1200
	panelH    = 230
	marginL   = 70
	marginR   = 20
	titleH    = 28
	axisH     = 46
	legendGap = 16
)

// svg accumulates the drawing.
type svg struct{ b strings.Builder }

func (s *svg) printf(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

func (s *svg) text(x, y float64, anchor, size, body string) {
	s.printf(`<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%s">%s</text>`+"\n", x, y, anchor, size, escape(body))
}

func escape(t string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(t)
}

func render(w io.Writer, rep *report) error {
	var s svg
	panels := 0
	for _, m := range modes {
		if len(cellsOf(rep, m)) > 0 {
			panels += 2
		}
	}
	ratioPanels := 0
	if len(rep.Ratios) > 0 {
		ratioPanels = 1
	}
	height := 60 + (panels+ratioPanels)*(panelH+titleH+axisH) + ratioPanels*110 // rotated labels
	s.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif">`+"\n", width, height)
	s.printf(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	s.text(width/2, 24, "middle", "16", title(rep))
	legend(&s, 40)
	y := 60.0
	for _, m := range modes {
		cells := cellsOf(rep, m)
		if len(cells) == 0 {
			continue
		}
		unit := "operations/s"
		if m != "oneway" {
			unit = "round trips/s"
		}
		bars(&s, rep, m, cells, y, m+": "+unit+" (log scale)", func(r result) float64 { return r.MsgsPerSec })
		y += panelH + titleH + axisH
		bars(&s, rep, m, cells, y, m+": CPU µs per operation, whole process (log scale, lower is better)", func(r result) float64 { return r.CPUUsPer })
		y += panelH + titleH + axisH
	}
	if ratioPanels > 0 {
		ratios(&s, rep, y)
	}
	s.printf("</svg>\n")
	_, err := io.WriteString(w, s.b.String())
	return err
}

func title(rep *report) string {
	t := "msgr-bench: msgr vs Go net (stdlib, msgr1 framing) vs raw TCP on loopback"
	if cpu, ok := rep.Env["cpu"].(string); ok && cpu != "" {
		t += " — " + cpu
	}
	return t
}

func legend(s *svg, y float64) {
	x := float64(marginL)
	for _, c := range contenders {
		s.printf(`<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/>`+"\n", x, y-10, colors[c])
		s.text(x+16, y, "start", "12", c)
		x += 110
	}
}

type cellID struct{ size, conns int }

func (c cellID) label() string { return fmt.Sprintf("%s ×%d", sizeName(c.size), c.conns) }

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dK", n>>10)
	}
	return fmt.Sprint(n)
}

// cellsOf lists the cells of a mode, by size then connections.
func cellsOf(rep *report, mode string) []cellID {
	seen := map[cellID]bool{}
	var out []cellID
	for _, r := range rep.Results {
		c := cellID{r.Size, r.Conns}
		if r.Mode == mode && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].size != out[j].size {
			return out[i].size < out[j].size
		}
		return out[i].conns < out[j].conns
	})
	return out
}

func find(rep *report, mode, ct string, c cellID) (result, bool) {
	for _, r := range rep.Results {
		if r.Mode == mode && r.Contender == ct && r.Size == c.size && r.Conns == c.conns {
			return r, true
		}
	}
	return result{}, false
}

// bars draws one panel of grouped bars on a log axis.
func bars(s *svg, rep *report, mode string, cells []cellID, top float64, label string, val func(result) float64) {
	lo, hi := math.Inf(1), 0.0
	for _, c := range cells {
		for _, ct := range contenders {
			if r, ok := find(rep, mode, ct, c); ok && val(r) > 0 {
				lo, hi = math.Min(lo, val(r)), math.Max(hi, val(r))
			}
		}
	}
	if hi == 0 {
		return
	}
	lmin, lmax := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if lmax == lmin {
		lmax++
	}
	plotTop, plotH := top+titleH, float64(panelH)
	yOf := func(v float64) float64 { return plotTop + plotH - (math.Log10(v)-lmin)/(lmax-lmin)*plotH }
	s.text(marginL, top+18, "start", "13", label)
	for e := lmin; e <= lmax; e++ {
		y := yOf(math.Pow(10, e))
		s.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", marginL, y, width-marginR, y)
		s.text(marginL-6, y+4, "end", "11", tick(math.Pow(10, e)))
	}
	groupW := float64(width-marginL-marginR) / float64(len(cells))
	barW := groupW * 0.8 / float64(len(contenders))
	for i, c := range cells {
		x0 := float64(marginL) + float64(i)*groupW + groupW*0.1
		for j, ct := range contenders {
			r, ok := find(rep, mode, ct, c)
			if !ok || val(r) <= 0 {
				continue
			}
			y := yOf(val(r))
			s.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s %s: %.4g</title></rect>`+"\n",
				x0+float64(j)*barW, y, barW-1, plotTop+plotH-y, colors[ct], ct, mode, c.label(), val(r))
		}
		s.text(x0+groupW*0.4, plotTop+plotH+16, "middle", "11", c.label())
	}
}

func tick(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

// ratios draws the paired msgr/other throughput ratios of every cell (median and range).
func ratios(s *svg, rep *report, top float64) {
	type pt struct {
		label  string
		versus string
		r      ratio
	}
	var pts []pt
	for _, r := range rep.Ratios {
		if r.Metric != "msgs_per_sec" {
			continue
		}
		pts = append(pts, pt{fmt.Sprintf("%s %s ×%d", r.Mode, sizeName(r.Size), r.Conns), r.Versus, r})
	}
	if len(pts) == 0 {
		return
	}
	lmin, lmax := -1.0, 1.0 // 0.1× to 10×
	plotTop, plotH := top+titleH, float64(panelH)
	yOf := func(v float64) float64 {
		v = math.Min(math.Max(v, 0.1), 10)
		return plotTop + plotH - (math.Log10(v)-lmin)/(lmax-lmin)*plotH
	}
	s.text(marginL, top+18, "start", "13", "paired throughput ratio msgr / other (median and range over repetitions, log scale); lines at 0.7, 0.95, 1.2, 1.3")
	for _, v := range []float64{0.1, 0.3, 1, 3, 10} {
		y := yOf(v)
		s.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", marginL, y, width-marginR, y)
		s.text(marginL-6, y+4, "end", "11", fmt.Sprintf("%g×", v))
	}
	for _, v := range []float64{0.7, 0.95, 1.2, 1.3} {
		y := yOf(v)
		s.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#999" stroke-dasharray="4 3"/>`+"\n", marginL, y, width-marginR, y)
	}
	labels := []string{}
	index := map[string]int{}
	for _, p := range pts {
		if _, ok := index[p.label]; !ok {
			index[p.label] = len(labels)
			labels = append(labels, p.label)
		}
	}
	step := float64(width-marginL-marginR) / float64(len(labels))
	offset := map[string]float64{"stdlib": -0.25, "rawframed": 0, "rawtcp": 0.25}
	for _, p := range pts {
		x := float64(marginL) + (float64(index[p.label])+0.5+offset[p.versus]*0.6)*step
		s.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x, yOf(p.r.Min), x, yOf(p.r.Max), colors[p.versus])
		s.printf(`<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>msgr/%s %s: %.3g [%.3g, %.3g]</title></circle>`+"\n",
			x, yOf(p.r.Median), colors[p.versus], p.versus, p.label, p.r.Median, p.r.Min, p.r.Max)
	}
	for i, l := range labels {
		x := float64(marginL) + (float64(i)+0.5)*step
		s.printf(`<text x="%.1f" y="%.1f" text-anchor="end" font-size="9" transform="rotate(-60 %.1f %.1f)">%s</text>`+"\n",
			x, plotTop+plotH+10, x, plotTop+plotH+10, escape(l))
	}
}
