package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/msgrsim/msgrsim/workload/explore"
)

// printTable prints the single points as a table: a row per side/op/element/round, a column
// per policy, and in each cell a mark per action (reset, stall, block): "." passed, "r"
// passed after a session reset, "F" failed, "-" the point was never reached.
func printTable(out io.Writer, results []pointResult, f *exploreFlags) {
	type cellKey struct{ row, policy string }
	cells := map[cellKey]*[3]byte{}
	var rows []string
	rowPoint := map[string]explore.Point{}
	for _, r := range results {
		if len(r.points) != 1 {
			continue
		}
		p := r.points[0]
		row := fmt.Sprintf("%v/%v/%s/%d", p.Side, p.Op, p.Elem, p.Round)
		k := cellKey{row, r.Policy}
		if cells[k] == nil {
			cells[k] = &[3]byte{' ', ' ', ' '}
			if _, ok := rowPoint[row]; !ok {
				rows = append(rows, row)
				rowPoint[row] = explore.Point{Side: p.Side, Op: p.Op, Elem: p.Elem, Round: p.Round}
			}
		}
		cells[k][p.Action] = mark(r)
	}
	slices.SortFunc(rows, func(a, b string) int { return explore.Compare(rowPoint[a], rowPoint[b]) })
	width := len("point")
	for _, row := range rows {
		width = max(width, len(row))
	}
	fmt.Fprintf(out, "explore: marks per action (R reset, S stall, B block): . passed, r passed after a session reset, F failed, - not reached\n")
	fmt.Fprintf(out, "%-*s", width, "point")
	for _, pol := range f.policies {
		fmt.Fprintf(out, "  %-*s", colWidth(pol), pol.Name)
	}
	line := fmt.Sprintf("\n%-*s", width, "")
	for _, pol := range f.policies {
		line += fmt.Sprintf("  %-*s", colWidth(pol), "R S B")
	}
	fmt.Fprintln(out, strings.TrimRight(line, " "))
	for _, row := range rows {
		line := fmt.Sprintf("%-*s", width, row)
		for _, pol := range f.policies {
			c := cells[cellKey{row, pol.Name}]
			s := ""
			if c != nil {
				s = fmt.Sprintf("%c %c %c", c[0], c[1], c[2])
			}
			line += fmt.Sprintf("  %-*s", colWidth(pol), s)
		}
		fmt.Fprintln(out, strings.TrimRight(line, " "))
	}
}

func colWidth(pol explore.Policy) int { return max(len(pol.Name), 5) }

func mark(r pointResult) byte {
	switch {
	case r.Result == "fail":
		return 'F'
	case r.Result == "unreached":
		return '-'
	case r.Resets > 0:
		return 'r'
	}
	return '.'
}

// printSummary prints the counts and, for each failing point, its first violation and its
// replay line.
func printSummary(out io.Writer, s exploreSummary) {
	kind := "single faults"
	if s.Pairs {
		kind = "single faults and pairs"
	}
	fmt.Fprintf(out, "%d points (%d policies, rounds 1-%d, %s): %d passed, %d failed, %d not reached  (wall %.1fs)\n",
		s.Points, len(s.Policies), s.Rounds, kind, s.Passed, s.Failed, s.Unreached, s.WallMs/1e3)
	for _, f := range s.Failing {
		fmt.Fprintf(out, "  FAIL %s %s: %s\n       replay: %s\n", f.Policy, f.Point, strings.Join(f.Violations, "+"), f.Replay)
	}
}
