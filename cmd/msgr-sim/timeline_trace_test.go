package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// The Chrome/Perfetto trace export, checked at the level of the Trace Event Format's schema:
// every event has the fields its phase requires, every track is named, timestamps never go
// back on a track, every flow has one start and one end, each bound to a slice on its track;
// one send slice per message the run sent, one flow per dispatch. The same seed writes the
// same bytes.
func TestTimelineTraceExport(t *testing.T) {
	dir := t.TempDir()
	var files [2][]byte
	var stdout string
	for i := range files {
		out := filepath.Join(dir, fmt.Sprintf("trace%d.json", i))
		var code int
		code, stdout, _ = run(t, "timeline", "-seed", "3", "-workload", "cluster", "-format", "trace", "-o", out)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stdout)
		}
		var err error
		if files[i], err = os.ReadFile(out); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Fatal("two traces of one seed differ")
	}
	m := regexp.MustCompile(`sent (\d+) dispatched (\d+)`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no message counts in the output:\n%s", stdout)
	}
	sent, _ := strconv.Atoi(m[1])
	delivered, _ := strconv.Atoi(m[2])
	st := checkTraceSchema(t, files[0])
	if st.sends != sent || st.flows < delivered || st.dispatches != st.flows {
		t.Fatalf("%d send slices, %d dispatch slices, %d flows; the run sent %d and dispatched %d",
			st.sends, st.dispatches, st.flows, sent, delivered)
	}
	if st.tracks < 20 || st.processes < 6 {
		t.Fatalf("%d tracks in %d processes: want one per messenger, grouped per node", st.tracks, st.processes)
	}
}

// traceStats counts what checkTraceSchema found.
type traceStats struct{ sends, dispatches, flows, tracks, processes int }

// checkTraceSchema checks a trace against the Trace Event Format, reading it as plain JSON.
func checkTraceSchema(t *testing.T, data []byte) traceStats {
	t.Helper()
	var file struct {
		TraceEvents     []map[string]any `json:"traceEvents"`
		DisplayTimeUnit string           `json:"displayTimeUnit"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatalf("not a JSON trace object: %v", err)
	}
	if len(file.TraceEvents) == 0 || (file.DisplayTimeUnit != "ns" && file.DisplayTimeUnit != "ms") {
		t.Fatalf("%d events, displayTimeUnit %q", len(file.TraceEvents), file.DisplayTimeUnit)
	}
	type track struct{ pid, tid float64 }
	type slice struct{ ts, end float64 }
	var st traceStats
	procNamed, threadNamed := map[float64]bool{}, map[track]bool{}
	last := map[track]float64{}
	slices := map[track][]slice{}
	type flowEnd struct {
		tr   track
		ts   float64
		name string
	}
	starts, ends := map[float64][]flowEnd{}, map[float64][]flowEnd{}
	for i, e := range file.TraceEvents {
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("event %d %v: %s", i, e, fmt.Sprintf(format, args...))
		}
		name, _ := e["name"].(string)
		ph, _ := e["ph"].(string)
		pid, okp := e["pid"].(float64)
		tid, okt := e["tid"].(float64)
		if name == "" || ph == "" || !okp || !okt {
			fail("every event needs name, ph, pid and tid")
		}
		tr := track{pid, tid}
		if ph == "M" {
			args, _ := e["args"].(map[string]any)
			switch name {
			case "process_name", "thread_name":
				if s, ok := args["name"].(string); !ok || s == "" {
					fail("metadata without args.name")
				}
				if name == "process_name" {
					procNamed[pid] = true
				} else {
					threadNamed[tr] = true
				}
			case "process_sort_index", "thread_sort_index":
				if _, ok := args["sort_index"].(float64); !ok {
					fail("sort index without args.sort_index")
				}
			default:
				fail("unknown metadata event")
			}
			continue
		}
		ts, ok := e["ts"].(float64)
		if !ok || ts < 0 {
			fail("no ts")
		}
		if !procNamed[pid] || !threadNamed[tr] {
			fail("on a track without process_name and thread_name metadata before it")
		}
		if ts < last[tr] {
			fail("ts %v before the track's previous event at %v", ts, last[tr])
		}
		last[tr] = ts
		switch ph {
		case "X":
			dur, ok := e["dur"].(float64)
			if !ok || dur < 0 {
				fail("complete event without dur")
			}
			slices[tr] = append(slices[tr], slice{ts, ts + dur})
			if e["cat"] == "message" {
				if regexp.MustCompile(`^send `).MatchString(name) {
					st.sends++
				} else {
					st.dispatches++
				}
			}
		case "i":
			if s, _ := e["s"].(string); s != "g" && s != "p" && s != "t" {
				fail("instant event scope %q", s)
			}
		case "s", "f":
			id, ok := e["id"].(float64)
			if !ok || e["cat"] == nil {
				fail("flow event without id or cat")
			}
			if ph == "f" && e["bp"] != "e" {
				fail("flow end not bound to its enclosing slice (bp e)")
			}
			if ph == "s" {
				starts[id] = append(starts[id], flowEnd{tr, ts, name})
			} else {
				ends[id] = append(ends[id], flowEnd{tr, ts, name})
			}
		default:
			fail("unexpected phase %q", ph)
		}
	}
	enclosed := func(f flowEnd) bool {
		for _, s := range slices[f.tr] {
			if s.ts <= f.ts && f.ts <= s.end {
				return true
			}
		}
		return false
	}
	for id, s := range starts {
		e := ends[id]
		if len(s) != 1 || len(e) != 1 || s[0].name != e[0].name || e[0].ts < s[0].ts {
			t.Fatalf("flow %v: starts %v, ends %v", id, s, e)
		}
		if !enclosed(s[0]) || !enclosed(e[0]) {
			t.Fatalf("flow %v is not bound to slices on its tracks", id)
		}
	}
	if len(ends) != len(starts) {
		t.Fatalf("%d flow ends for %d flow starts", len(ends), len(starts))
	}
	st.flows, st.tracks, st.processes = len(starts), len(threadNamed), len(procNamed)
	return st
}
