package harness

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Knobs is a run's messenger configuration as the configuration swarm draws it per seed
// (FoundationDB's randomized knobs): the feature bits each node advertises, buffer sizes,
// worker counts, throttles, timeouts, backoff, keepalives, message sizes and priorities. The
// zero value is the default configuration (Ceph's defaults, every feature advertised); every
// field's zero value is its default. A workload applies what it can (the default workload
// applies them all).
type Knobs struct {
	// LegacyNodes: bit i (i < 16) set means the workload's node i does not advertise RECONNECT_SEQ, so
	// its reconnects are legacy ones (READY, no SEQ exchange: old messages are resent).
	LegacyNodes uint64
	// OldFooterNodes: bit i set means node i does not advertise MSG_AUTH: its sessions carry
	// the 13-byte footer.
	OldFooterNodes uint64
	Prefetch       int           // ms_tcp_prefetch_max_size in bytes (0: 4 KiB)
	Workers        int           // event centers per messenger (0: 3)
	ThrottleMsgs   int64         // the policy's message throttle toward every peer type (0: none)
	ThrottleBytes  int64         // the policy's byte throttle (0: none)
	DispatchBytes  int64         // ms_dispatch_throttle_bytes (0: 100 MiB)
	ReadyTimeout   time.Duration // ms_connection_ready_timeout (0: 10 s)
	IdleTimeout    time.Duration // ms_connection_idle_timeout (0: 900 s)
	InitialBackoff time.Duration // ms_initial_backoff (0: 0.2 s)
	MaxBackoff     time.Duration // ms_max_backoff (0: 15 s)
	Keepalive      time.Duration // each node sends a keepalive on its sessions this often (0: never)
	MsgSize        int           // message sizes: 0 the workload's own, 1 tiny (8-byte fronts), 2 large (a data section on 1 in 4)
	Priorities     bool          // messages carry one of a few priorities, not the default one
}

// knobSalt separates the knob stream from the run's other streams: the knobs are drawn from a
// source of their own, so adding a knob perturbs neither the faults nor the schedule.
const knobSalt = 0x6b6e6f6273776172 // "knobswar"

// SeedKnobs draws the knobs of seed from the seed's own knob stream (DrawKnobs).
func SeedKnobs(seed uint64) Knobs { return DrawKnobs(detrand.NewSeeded(seed ^ knobSalt)) }

// DrawKnobs draws a configuration: each knob keeps its default with probability 1/2, else takes
// a value within its legal range, small enough to stall throttles, fire timeouts and read a
// message a byte at a time. The order of the draws is fixed; a new knob is drawn last.
func DrawKnobs(r *detrand.Rand) Knobs {
	var k Knobs
	pick := func(vs ...int64) int64 { return vs[r.IntN(len(vs))] }
	ms := time.Millisecond
	if r.Bool() {
		k.LegacyNodes = r.Uint64() & 0xffff
	}
	if r.Bool() {
		k.OldFooterNodes = r.Uint64() & 0xffff
	}
	if r.Bool() {
		k.Prefetch = int(pick(1, 2, 7, 64, 512, 65536))
	}
	if r.Bool() {
		k.Workers = r.Range(1, 5)
	}
	if r.Bool() {
		k.ThrottleMsgs = pick(1, 2, 5)
	}
	if r.Bool() {
		k.ThrottleBytes = pick(1, 300, 4096, 65536)
	}
	if r.Bool() {
		k.DispatchBytes = pick(1, 512, 8192)
	}
	if r.Bool() {
		k.ReadyTimeout = time.Duration(pick(50, 200, 1000)) * ms
	}
	if r.Bool() {
		k.IdleTimeout = time.Duration(pick(100, 500, 2000)) * ms
	}
	if r.Bool() {
		k.InitialBackoff = time.Duration(pick(1, 5, 20)) * ms
	}
	if r.Bool() {
		k.MaxBackoff = time.Duration(pick(50, 300, 1000)) * ms
	}
	if r.Bool() {
		k.Keepalive = time.Duration(pick(5, 30, 100)) * ms
	}
	if r.Bool() {
		k.MsgSize = r.Range(1, 2)
	}
	if r.Bool() {
		k.Priorities = true
	}
	return k
}

// Legacy reports whether node i advertises no RECONNECT_SEQ.
func (k Knobs) Legacy(i int) bool { return i < 64 && k.LegacyNodes&(1<<i) != 0 }

// OldFooter reports whether node i advertises no MSG_AUTH.
func (k Knobs) OldFooter(i int) bool { return i < 64 && k.OldFooterNodes&(1<<i) != 0 }

// Features is the feature bits node i advertises: f without the bits the knobs drop for it
// (RECONNECT_SEQ for a legacy node, MSG_AUTH for an old-footer node).
func (k Knobs) Features(i int, f uint64) uint64 {
	if k.Legacy(i) {
		f &^= wire.FeatureReconnectSeq
	}
	if k.OldFooter(i) {
		f &^= wire.FeatureMsgAuth
	}
	return f
}

// Backoff is the reconnect backoff the knobs set (0, 0: the messenger's defaults). When only
// one end was drawn the other gets a value that keeps initial ≤ max: an initial of the cap or
// 200 ms, whichever is less, or Ceph's 15 s cap.
func (k Knobs) Backoff() (initial, max time.Duration) {
	initial, max = k.InitialBackoff, k.MaxBackoff
	if max > 0 && initial == 0 {
		initial = min(max, 200*time.Millisecond)
	}
	if initial > 0 && max == 0 {
		max = 15 * time.Second
	}
	return initial, max
}

// Apply sets what k says of a messenger's configuration: the prefetch buffer, workers, the
// dispatch throttle, the ready and idle timeouts and the reconnect backoff. A knob at its
// default leaves cfg's own value (the workload's, else the messenger's default); a drawn
// initial backoff without a drawn cap keeps cfg's own cap when that is at least the initial.
func (k Knobs) Apply(cfg *msgr.Config) {
	setDrawn(&cfg.PrefetchSize, k.Prefetch)
	setDrawn(&cfg.Workers, k.Workers)
	setDrawn(&cfg.DispatchThrottleBytes, k.DispatchBytes)
	setDrawn(&cfg.ReadyTimeout, k.ReadyTimeout)
	setDrawn(&cfg.IdleTimeout, k.IdleTimeout)
	initial, max := k.Backoff()
	if initial == 0 {
		return
	}
	if k.MaxBackoff == 0 && cfg.MaxBackoff >= initial {
		max = cfg.MaxBackoff
	}
	cfg.InitialBackoff, cfg.MaxBackoff = initial, max
}

// Policy is p as node i runs it: the feature bits the knobs drop for the node (Features) and
// the drawn receive throttles (a throttle at its default leaves p's own).
func (k Knobs) Policy(i int, p proto.Policy) proto.Policy {
	p.FeaturesSupported = k.Features(i, p.FeaturesSupported)
	setDrawn(&p.ThrottlerMessages, k.ThrottleMsgs)
	setDrawn(&p.ThrottlerBytes, k.ThrottleBytes)
	return p
}

// ScheduleKeepalives applies the keepalive knob (Knobs.Keepalive): every node sends a
// keepalive on each of its connections that often during window. nodes is the workload's
// node count; messenger(i) is node i's messenger when the job runs, nil while it is down.
func (r *Run) ScheduleKeepalives(window time.Duration, nodes int, messenger func(i int) *msgr.Messenger) {
	every := r.Cfg.Knobs.Keepalive
	if every <= 0 {
		return
	}
	var conns []*msgr.Connection // scratch of the jobs (they run one at a time)
	for i := range nodes {
		job := func() { // one function per node, scheduled at every interval
			m := messenger(i)
			if m == nil {
				return
			}
			conns = m.AppendConnections(conns[:0])
			for _, c := range conns {
				c.SendKeepalive()
			}
		}
		for at := every; at < window; at += every {
			r.W.Schedule(at, job)
		}
	}
}

// setDrawn sets *dst to a drawn knob's value v; v at its default (0) leaves *dst.
func setDrawn[T int | int64 | time.Duration](dst *T, v T) {
	if v != 0 {
		*dst = v
	}
}

// knobField is one knob as String writes it and ParseKnobs reads it.
type knobField struct {
	name string
	get  func(*Knobs) int64
	set  func(*Knobs, int64)
	dur  bool
	hex  bool
}

var knobFields = []knobField{
	{name: "legacy", hex: true, get: func(k *Knobs) int64 { return int64(k.LegacyNodes) }, set: func(k *Knobs, v int64) { k.LegacyNodes = uint64(v) }},
	{name: "oldfooter", hex: true, get: func(k *Knobs) int64 { return int64(k.OldFooterNodes) }, set: func(k *Knobs, v int64) { k.OldFooterNodes = uint64(v) }},
	{name: "prefetch", get: func(k *Knobs) int64 { return int64(k.Prefetch) }, set: func(k *Knobs, v int64) { k.Prefetch = int(v) }},
	{name: "workers", get: func(k *Knobs) int64 { return int64(k.Workers) }, set: func(k *Knobs, v int64) { k.Workers = int(v) }},
	{name: "throttle-msgs", get: func(k *Knobs) int64 { return k.ThrottleMsgs }, set: func(k *Knobs, v int64) { k.ThrottleMsgs = v }},
	{name: "throttle-bytes", get: func(k *Knobs) int64 { return k.ThrottleBytes }, set: func(k *Knobs, v int64) { k.ThrottleBytes = v }},
	{name: "dispatch-bytes", get: func(k *Knobs) int64 { return k.DispatchBytes }, set: func(k *Knobs, v int64) { k.DispatchBytes = v }},
	{name: "ready-timeout", dur: true, get: func(k *Knobs) int64 { return int64(k.ReadyTimeout) }, set: func(k *Knobs, v int64) { k.ReadyTimeout = time.Duration(v) }},
	{name: "idle-timeout", dur: true, get: func(k *Knobs) int64 { return int64(k.IdleTimeout) }, set: func(k *Knobs, v int64) { k.IdleTimeout = time.Duration(v) }},
	{name: "backoff", dur: true, get: func(k *Knobs) int64 { return int64(k.InitialBackoff) }, set: func(k *Knobs, v int64) { k.InitialBackoff = time.Duration(v) }},
	{name: "max-backoff", dur: true, get: func(k *Knobs) int64 { return int64(k.MaxBackoff) }, set: func(k *Knobs, v int64) { k.MaxBackoff = time.Duration(v) }},
	{name: "keepalive", dur: true, get: func(k *Knobs) int64 { return int64(k.Keepalive) }, set: func(k *Knobs, v int64) { k.Keepalive = time.Duration(v) }},
	{name: "msg-size", get: func(k *Knobs) int64 { return int64(k.MsgSize) }, set: func(k *Knobs, v int64) { k.MsgSize = int(v) }},
	{name: "priorities", get: func(k *Knobs) int64 {
		if k.Priorities {
			return 1
		}
		return 0
	}, set: func(k *Knobs, v int64) { k.Priorities = v != 0 }},
}

// KnobNames are the knobs' names, in the order String writes them.
func KnobNames() []string {
	names := make([]string, len(knobFields))
	for i, f := range knobFields {
		names[i] = f.name
	}
	return names
}

// Set returns the knobs that differ from their default, by name.
func (k Knobs) Set() []string {
	var names []string
	for _, f := range knobFields {
		if f.get(&k) != 0 {
			names = append(names, f.name)
		}
	}
	return names
}

// Reset returns k with the named knob back at its default.
func (k Knobs) Reset(name string) Knobs {
	for _, f := range knobFields {
		if f.name == name {
			f.set(&k, 0)
		}
	}
	return k
}

// String writes the knobs that differ from their default as name=value, space-separated
// ("default" when none does); ParseKnobs reads it back.
func (k Knobs) String() string {
	var parts []string
	for _, f := range knobFields {
		v := f.get(&k)
		switch {
		case v == 0:
		case f.dur:
			parts = append(parts, f.name+"="+time.Duration(v).String())
		case f.hex:
			parts = append(parts, fmt.Sprintf("%s=%#x", f.name, uint64(v)))
		default:
			parts = append(parts, fmt.Sprintf("%s=%d", f.name, v))
		}
	}
	if len(parts) == 0 {
		return "default"
	}
	return strings.Join(parts, " ")
}

// ParseKnobs reads what Knobs.String wrote.
func ParseKnobs(s string) (Knobs, error) {
	var k Knobs
	s = strings.TrimSpace(s)
	if s == "default" || s == "" {
		return k, nil
	}
	for _, part := range strings.Fields(s) {
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return k, fmt.Errorf("knob %q: want name=value", part)
		}
		found := false
		for _, f := range knobFields {
			if f.name != name {
				continue
			}
			found = true
			var v int64
			switch {
			case f.dur:
				d, err := time.ParseDuration(val)
				if err != nil {
					return k, fmt.Errorf("knob %s: %w", name, err)
				}
				v = int64(d)
			case f.hex:
				u, err := strconv.ParseUint(val, 0, 64)
				if err != nil {
					return k, fmt.Errorf("knob %s: %w", name, err)
				}
				v = int64(u)
			default:
				n, err := strconv.ParseInt(val, 10, 64)
				if err != nil || n < 0 {
					return k, fmt.Errorf("knob %s: bad value %q", name, val)
				}
				v = n
			}
			f.set(&k, v)
		}
		if !found {
			return k, fmt.Errorf("unknown knob %q", name)
		}
	}
	return k, nil
}
