package main

import (
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/sim"
)

// The timeline's model of a run, built from its marks: every message with its dispatches and
// its fate, the lanes grouped per process, the violations with the messages they concern, and
// the active stretches of time the axis draws (idle stretches between them are compressed).

// tlGroup is one process (e.g. "osd.1") and its lanes: one per messenger ("osd.1/cluster"),
// across incarnations. A lane named like the group carries the process's own marks (a crash,
// an injected fault).
type tlGroup struct {
	Name  string   `json:"name"`
	Lanes []string `json:"lanes"`
}

// tlMessage is one message sent during the run.
type tlMessage struct {
	ID         uint64       `json:"id"`
	From       string       `json:"from"`      // the sender's lane
	FromNode   string       `json:"from_node"` // the sender's incarnation
	Peer       string       `json:"peer"`      // the receiver the sender named (its lane when never dispatched)
	SentNs     int64        `json:"sent_ns"`
	Lossless   bool         `json:"lossless"`
	Kind       string       `json:"kind,omitempty"` // what it carried (e.g. osd_op), when the workload says
	Dispatches []tlDispatch `json:"dispatches"`
	// Fate: "delivered"; "duplicate" (dispatched twice to one incarnation, a violation);
	// "lost" (a lossless message never dispatched and never accounted for, a violation);
	// "dropped" (a lossless message never dispatched, accounted for by a reset, a crash or a
	// drop); "lossy-dropped" (a lossy message never dispatched).
	Fate       string `json:"fate"`
	Why        string `json:"why,omitempty"`
	Violations []int  `json:"violations,omitempty"` // indices into the violations that concern it
}

// tlDispatch is one dispatch of a message to a receiver incarnation.
type tlDispatch struct {
	Node      string `json:"node"`
	Lane      string `json:"lane"`
	AtNs      int64  `json:"at_ns"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// tlViolation is a violation and the messages it concerns.
type tlViolation struct {
	sim.Violation
	Messages []uint64 `json:"messages"`
}

// tlSegment is a stretch of time the axis draws to scale; the gaps between segments are
// idle and drawn compressed.
type tlSegment struct {
	FromNs int64 `json:"from_ns"`
	ToNs   int64 `json:"to_ns"`
}

// Fates of a message.
const (
	fateDelivered    = "delivered"
	fateDuplicate    = "duplicate"
	fateLost         = "lost"
	fateDropped      = "dropped"
	fateLossyDropped = "lossy-dropped"
)

// laneOf is a node's lane: the node without its incarnation ("osd.1/cluster#2" → "osd.1/cluster").
func laneOf(node string) string {
	lane, _, _ := strings.Cut(node, "#")
	return lane
}

// groupOf is a lane's process ("osd.1/cluster" → "osd.1").
func groupOf(lane string) string {
	g, _, _ := strings.Cut(lane, "/")
	return g
}

// buildMessages pairs the run's send, dispatch and lost marks by message id; the other marks
// are returned as they are.
func buildMessages(marks []sim.Mark) (msgs []tlMessage, other []sim.Mark) {
	index := map[uint64]int{}
	other = []sim.Mark{}
	for _, m := range marks {
		switch m.Kind {
		case "send":
			index[m.ID] = len(msgs)
			policy, kind, _ := strings.Cut(m.Text, " ")
			msgs = append(msgs, tlMessage{ID: m.ID, From: laneOf(m.Node), FromNode: m.Node, Peer: m.Peer,
				SentNs: int64(m.At), Lossless: policy == "lossless", Kind: kind, Dispatches: []tlDispatch{}, Fate: fateDelivered})
		case "dispatch":
			i, ok := index[m.ID]
			if !ok {
				other = append(other, m) // a message nobody sent: the violation says so
				continue
			}
			msg := &msgs[i]
			dup := slices.ContainsFunc(msg.Dispatches, func(d tlDispatch) bool { return d.Node == m.Node })
			msg.Dispatches = append(msg.Dispatches, tlDispatch{Node: m.Node, Lane: laneOf(m.Node), AtNs: int64(m.At), Duplicate: dup})
			if dup {
				msg.Fate = fateDuplicate
			}
		case "lost":
			i, ok := index[m.ID]
			if !ok {
				continue
			}
			msg := &msgs[i]
			how, why, _ := strings.Cut(m.Text, ": ")
			msg.Why = why
			switch {
			case !msg.Lossless:
				msg.Fate = fateLossyDropped
			case how == "unaccounted":
				msg.Fate = fateLost
			default:
				msg.Fate = fateDropped
			}
		default:
			other = append(other, m)
		}
	}
	if msgs == nil {
		msgs = []tlMessage{}
	}
	return msgs, other
}

// groupLanes lists the lanes of the messages and marks grouped per process, processes and
// lanes in name order (numbers compared as numbers: osd.2 before osd.10).
func groupLanes(msgs []tlMessage, marks []sim.Mark) []tlGroup {
	seen := map[string]bool{}
	var lanes []string
	add := func(lane string) {
		if lane != "" && !seen[lane] {
			seen[lane] = true
			lanes = append(lanes, lane)
		}
	}
	for _, m := range msgs {
		add(m.From)
		for _, d := range m.Dispatches {
			add(d.Lane)
		}
		if len(m.Dispatches) == 0 {
			add(laneOf(m.Peer))
		}
	}
	for _, m := range marks {
		add(laneOf(m.Node))
	}
	slices.SortFunc(lanes, func(a, b string) int {
		if c := naturalCompare(groupOf(a), groupOf(b)); c != 0 {
			return c
		}
		if groupOf(a) == a { // the process's own lane first
			return -1
		}
		if groupOf(b) == b {
			return 1
		}
		return naturalCompare(a, b)
	})
	groups := []tlGroup{}
	for _, lane := range lanes {
		g := groupOf(lane)
		if len(groups) == 0 || groups[len(groups)-1].Name != g {
			groups = append(groups, tlGroup{Name: g})
		}
		last := &groups[len(groups)-1]
		last.Lanes = append(last.Lanes, lane)
	}
	return groups
}

var digitsRE = regexp.MustCompile(`\d+|\D+`)

// naturalCompare orders strings with their runs of digits compared as numbers.
func naturalCompare(a, b string) int {
	pa, pb := digitsRE.FindAllString(a, -1), digitsRE.FindAllString(b, -1)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, errx := strconv.Atoi(pa[i])
		y, erry := strconv.Atoi(pb[i])
		if errx == nil && erry == nil && x != y {
			if x < y {
				return -1
			}
			return 1
		}
		if c := strings.Compare(pa[i], pb[i]); c != 0 {
			return c
		}
	}
	return len(pa) - len(pb)
}

var msgIDRE = regexp.MustCompile(`\bid (\d+)\b`)
var streamRE = regexp.MustCompile(`^stream (\S+)->(\S+?)[: ]`)

// linkViolations attaches to each violation the messages it names (by id) and, for a lost
// lossless stream, the stream's lost messages; each message learns its violations.
func linkViolations(vs []sim.Violation, msgs []tlMessage) []tlViolation {
	byID := map[uint64]int{}
	for i, m := range msgs {
		byID[m.ID] = i
	}
	out := []tlViolation{}
	for vi, v := range vs {
		tv := tlViolation{Violation: v, Messages: []uint64{}}
		link := func(i int) {
			if !slices.Contains(tv.Messages, msgs[i].ID) {
				tv.Messages = append(tv.Messages, msgs[i].ID)
				msgs[i].Violations = append(msgs[i].Violations, vi)
			}
		}
		for _, sm := range msgIDRE.FindAllStringSubmatch(v.Detail, -1) {
			id, _ := strconv.ParseUint(sm[1], 10, 64)
			if i, ok := byID[id]; ok {
				link(i)
			}
		}
		if st := streamRE.FindStringSubmatch(v.Detail); st != nil && v.Name == sim.InvLosslessLoss {
			for i, m := range msgs {
				if m.Fate == fateLost && m.From == st[1] && laneOf(m.Peer) == st[2] {
					link(i)
				}
			}
		}
		out = append(out, tv)
	}
	return out
}

// Axis compression: a gap between successive happenings longer than breakFraction of the
// time still drawn to scale is cut out (at most maxBreaks gaps, each at least minBreak).
const (
	breakFraction = 0.2
	maxBreaks     = 16
	minBreak      = time.Millisecond
)

// activeSegments are the stretches of the run's time the axis draws to scale.
func activeSegments(msgs []tlMessage, marks []sim.Mark, vs []sim.Violation) []tlSegment {
	var ts []int64
	for _, m := range msgs {
		ts = append(ts, m.SentNs)
		for _, d := range m.Dispatches {
			ts = append(ts, d.AtNs)
		}
	}
	for _, m := range marks {
		ts = append(ts, int64(m.At))
	}
	for _, v := range vs {
		ts = append(ts, v.AtNs)
	}
	ts = append(ts, 0)
	slices.Sort(ts)
	ts = slices.Compact(ts)
	type gap struct {
		at  int // ts[at] → ts[at+1]
		len int64
	}
	var gaps []gap
	for i := 0; i+1 < len(ts); i++ {
		gaps = append(gaps, gap{i, ts[i+1] - ts[i]})
	}
	sort.SliceStable(gaps, func(i, j int) bool { return gaps[i].len > gaps[j].len })
	remaining := ts[len(ts)-1] - ts[0]
	var cut []int
	for _, g := range gaps {
		if len(cut) == maxBreaks || g.len < int64(minBreak) || float64(g.len) <= breakFraction*float64(remaining) {
			break
		}
		cut = append(cut, g.at)
		remaining -= g.len
	}
	slices.Sort(cut)
	segs := []tlSegment{}
	from := ts[0]
	for _, at := range cut {
		segs = append(segs, tlSegment{FromNs: from, ToNs: ts[at]})
		from = ts[at+1]
	}
	return append(segs, tlSegment{FromNs: from, ToNs: ts[len(ts)-1]})
}

var (
	elapsedRE = regexp.MustCompile(`(linearizable|unknown \(timed out\)) \(\d[^)]*\)`)
	visualRE  = regexp.MustCompile(`; visualization: \S+`)
)

// stable drops from a porcupine report what differs between two runs of one seed: the time
// the check took and where its visualization was written (the page links its own copy).
func stable(text string) string {
	return visualRE.ReplaceAllString(elapsedRE.ReplaceAllString(text, "$1"), "")
}
