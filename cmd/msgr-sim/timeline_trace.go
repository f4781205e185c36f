package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/msgrsim/msgrsim/sim"
)

// The run as a Chrome trace (the Trace Event Format that chrome://tracing, Perfetto and
// Speedscope read): a process per simulated process, a thread (track) per lane, a short slice
// for every send and every dispatch joined by a flow event ("s" at the send, "f" at the
// dispatch), instant events for faults, connection events and violations, and a "network"
// process for what happens on no node. Timestamps are virtual microseconds.

// traceEvent is one event of the Trace Event Format.
type traceEvent struct {
	Name  string         `json:"name"`
	Cat   string         `json:"cat,omitempty"`
	Ph    string         `json:"ph"`
	Ts    *float64       `json:"ts,omitempty"`
	Dur   *float64       `json:"dur,omitempty"`
	Pid   int            `json:"pid"`
	Tid   int            `json:"tid"`
	ID    uint64         `json:"id,omitempty"`
	Bp    string         `json:"bp,omitempty"`
	Scope string         `json:"s,omitempty"`
	Args  map[string]any `json:"args,omitempty"`
}

// traceFile is the JSON object form of a trace.
type traceFile struct {
	TraceEvents     []traceEvent   `json:"traceEvents"`
	DisplayTimeUnit string         `json:"displayTimeUnit"`
	OtherData       map[string]any `json:"otherData"`
}

// sliceDur is the length of a send or dispatch slice: a virtual nanosecond.
const sliceDur = 0.001

func usOf(ns int64) *float64 { v := float64(ns) / 1e3; return &v }

// traceTrack is where a lane's events go.
type traceTrack struct{ pid, tid int }

// traceBuilder collects a run's events per track.
type traceBuilder struct {
	tracks map[string]traceTrack
	meta   []traceEvent
	events []traceEvent
	flows  uint64
}

// writeTrace writes r as a Chrome trace.
func writeTrace(w io.Writer, r sim.Result, reproduce string) error {
	b := newTraceBuilder(newTimelineData(r, reproduce, nil))
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(traceFile{TraceEvents: b.all(), DisplayTimeUnit: "ns", OtherData: map[string]any{
		"title": fmt.Sprintf("msgr-sim seed %d (%s)", r.Seed, r.Workload), "result": r.String(),
		"reproduce": reproduce, "faults": r.Faults.String()}})
}

// newTraceBuilder lays d out as trace events.
func newTraceBuilder(d timelineData) *traceBuilder {
	b := &traceBuilder{tracks: map[string]traceTrack{}}
	b.process(1, "network", []string{""})
	for i, g := range d.Groups {
		b.process(i+2, g.Name, g.Lanes)
	}
	for _, m := range d.Messages {
		b.message(m)
	}
	for _, m := range d.Marks {
		t := b.track(laneOf(m.Node))
		b.add(traceEvent{Name: m.Kind + " " + m.Text, Cat: m.Kind, Ph: "i", Ts: usOf(int64(m.At)), Pid: t.pid, Tid: t.tid,
			Scope: "t", Args: map[string]any{"node": m.Node, "conn": m.Conn}})
	}
	for _, v := range d.Violations {
		b.add(traceEvent{Name: "VIOLATION " + v.Name, Cat: "violation", Ph: "i", Ts: usOf(v.AtNs), Pid: 1, Tid: 1,
			Scope: "g", Args: map[string]any{"detail": v.Detail, "invariant": d.Docs[v.Name], "messages": v.Messages}})
	}
	return b
}

// process names a process and its lanes' threads ("" is the network's one thread).
func (b *traceBuilder) process(pid int, name string, lanes []string) {
	b.meta = append(b.meta, traceEvent{Name: "process_name", Ph: "M", Pid: pid, Args: map[string]any{"name": name}},
		traceEvent{Name: "process_sort_index", Ph: "M", Pid: pid, Args: map[string]any{"sort_index": pid}})
	for i, lane := range lanes {
		t := traceTrack{pid, i + 1}
		b.tracks[lane] = t
		label := lane
		if label == "" {
			label = "network"
		}
		b.meta = append(b.meta, traceEvent{Name: "thread_name", Ph: "M", Pid: pid, Tid: t.tid, Args: map[string]any{"name": label}},
			traceEvent{Name: "thread_sort_index", Ph: "M", Pid: pid, Tid: t.tid, Args: map[string]any{"sort_index": t.tid}})
	}
}

// track is a lane's track (the network's for an unknown lane).
func (b *traceBuilder) track(lane string) traceTrack {
	if t, ok := b.tracks[lane]; ok {
		return t
	}
	return b.tracks[""]
}

func (b *traceBuilder) add(e traceEvent) { b.events = append(b.events, e) }

// message adds a send slice, and a dispatch slice and a flow for every dispatch; a message
// never dispatched gets an instant event saying so on its sender's track.
func (b *traceBuilder) message(m tlMessage) {
	name := m.Kind
	if name == "" {
		name = "message"
	}
	policy := "lossy"
	if m.Lossless {
		policy = "lossless"
	}
	from := b.track(m.From)
	args := map[string]any{"id": m.ID, "from": m.FromNode, "to": m.Peer, "policy": policy, "fate": m.Fate}
	if m.Why != "" {
		args["why"] = m.Why
	}
	b.add(traceEvent{Name: "send " + name, Cat: "message", Ph: "X", Ts: usOf(m.SentNs), Dur: ptr(sliceDur), Pid: from.pid, Tid: from.tid, Args: args})
	for _, d := range m.Dispatches {
		b.flows++
		to := b.track(d.Lane)
		b.add(traceEvent{Name: name, Cat: "message", Ph: "s", ID: b.flows, Ts: usOf(m.SentNs), Pid: from.pid, Tid: from.tid})
		dname := "dispatch " + name
		if d.Duplicate {
			dname = "DUPLICATE dispatch " + name
		}
		b.add(traceEvent{Name: dname, Cat: "message", Ph: "X", Ts: usOf(d.AtNs), Dur: ptr(sliceDur), Pid: to.pid, Tid: to.tid,
			Args: map[string]any{"id": m.ID, "from": m.FromNode, "node": d.Node}})
		b.add(traceEvent{Name: name, Cat: "message", Ph: "f", Bp: "e", ID: b.flows, Ts: usOf(d.AtNs), Pid: to.pid, Tid: to.tid})
	}
	if len(m.Dispatches) == 0 {
		what := map[string]string{fateLost: "LOST (never dispatched, unaccounted)", fateDropped: "dropped (accounted)",
			fateLossyDropped: "lossy, not dispatched"}[m.Fate]
		b.add(traceEvent{Name: fmt.Sprintf("%s %s #%d", what, name, m.ID), Cat: m.Fate, Ph: "i", Ts: usOf(m.SentNs),
			Pid: from.pid, Tid: from.tid, Scope: "t", Args: args})
	}
}

func ptr(v float64) *float64 { return &v }

// all is the metadata, then every event in time order (so each track's are monotonic).
func (b *traceBuilder) all() []traceEvent {
	sort.SliceStable(b.events, func(i, j int) bool { return *b.events[i].Ts < *b.events[j].Ts })
	return append(b.meta, b.events...)
}
