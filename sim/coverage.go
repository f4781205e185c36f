package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
)

// Coverage counts what a run (or, merged, a sweep) exercised of the protocol: ProtocolV1
// states entered, transitions taken, connect-reply tags and frame tags sent and received,
// the kinds of connection faults, accept decisions, invariant evaluations and reachability
// probes (sim/reach.go). Its JSON form is
// Result's "coverage" field; Table renders it for people.
type Coverage struct {
	Runs        int
	States      map[string]int // state entered → times
	Transitions map[string]int // "FROM -> TO" → times
	ReplySent   map[string]int // reply tag written by an acceptor
	ReplyRecv   map[string]int // reply tag read by the connector
	FrameSent   map[string]int // frame tag written on an open session
	FrameRecv   map[string]int // frame tag read by the peer
	Faults      map[string]int // connection fault kind (FaultKinds) → times
	Decisions   map[string]int // accept decision rule (msgr1-protocol.md §3.2 numbering) → times
	Invariants  map[string]int // invariant → times evaluated
	Reach       map[string]int // probe (proto.Probe) → times reached

	// hot counts the most frequent events (state changes, frame and reply tags) in arrays
	// during a run; flush adds them to the maps above before anything reads those.
	hot *hotCounts
}

// hotCounts are counts not yet added to a Coverage's maps.
type hotCounts struct {
	any                  bool
	n                    int   // states (proto.AllStates)
	trans                []int // [from*n+to], states in proto.AllStates order
	replySent, replyRecv [hotTags]int
	frameSent, frameRecv [hotTags]int
	// inv are invariant evaluations (Evaluated, several per step): callers pass the check
	// package's constants, so comparing a name with those seen is mostly a pointer compare,
	// cheaper than a map update that hashes the name every time.
	// They are kept in a small open-addressed table (invSlot): a scan of every name seen was
	// 3% of a run.
	inv  [invSlots]invCount
	ninv int
}

// invSlots is the size of hotCounts' invariant table; at most maxHotInvariants names are
// kept in it (the others are counted in the map directly).
const (
	invSlots         = 64
	maxHotInvariants = 40
)

// invSlot is where name's probe sequence in the invariant table starts: a hash of its length
// and three of its bytes (name is not empty).
func invSlot(name string) int {
	n := len(name)
	return int(uint(n)*37+uint(name[0])*3+uint(name[n/2])*5+uint(name[n-1])*7) & (invSlots - 1)
}

// invCount is evaluations of one invariant not yet added to Coverage.Invariants.
type invCount struct {
	name string
	n    int
}

// sizeMaps makes the empty state and transition maps as large as the hot counts will fill
// (a run's first flush adds dozens of names: growing the maps to them cost more than counting).
func (c *Coverage) sizeMaps(h *hotCounts) {
	var trans int
	var states [64]bool
	nstates := 0
	for i, n := range h.trans {
		if n > 0 {
			trans++
			if to := i % h.n; to < len(states) && !states[to] {
				states[to] = true
				nstates++
			}
		}
	}
	if len(c.Transitions) == 0 && trans > 0 {
		c.Transitions = make(map[string]int, trans)
	}
	if len(c.States) == 0 && nstates > 0 {
		c.States = make(map[string]int, nstates)
	}
}

// hotTags bounds the tags counted in arrays (every msgr1 tag is below it); a larger one, which
// only a corrupted or hostile frame has, is counted in the maps directly.
const hotTags = 32

// flush adds the counts kept in arrays to the maps (every reader of the maps calls it first).
func (c *Coverage) flush() {
	h := c.hot
	if h == nil || !h.any {
		return
	}
	h.any = false
	if len(c.Transitions) == 0 || len(c.States) == 0 {
		c.sizeMaps(h)
	}
	if len(c.Invariants) == 0 && h.ninv > 0 {
		// sized for the invariants counted and the few the end of a run adds (growing from
		// nothing to a run's twenty took several allocations and rehashes)
		c.Invariants = make(map[string]int, h.ninv+4)
	}
	if h.ninv > 0 {
		for i := range h.inv {
			if e := &h.inv[i]; e.name != "" {
				c.Invariants[e.name] += e.n
				*e = invCount{}
			}
		}
	}
	h.ninv = 0
	for i, n := range h.trans {
		if n > 0 {
			from, to := i/h.n, i%h.n
			c.States[stateNames[to]] += n
			c.Transitions[transitionNames[from][to]] += n
			h.trans[i] = 0
		}
	}
	for _, p := range []struct {
		counts *[hotTags]int
		into   map[string]int
	}{{&h.replySent, c.ReplySent}, {&h.replyRecv, c.ReplyRecv}, {&h.frameSent, c.FrameSent}, {&h.frameRecv, c.FrameRecv}} {
		for tag, n := range p.counts {
			if n > 0 {
				p.into[wire.Tag(tag).String()] += n
				p.counts[tag] = 0
			}
		}
	}
}

// NewCoverage returns empty coverage.
func NewCoverage() *Coverage {
	return &Coverage{
		States: map[string]int{}, Transitions: map[string]int{}, ReplySent: map[string]int{},
		ReplyRecv: map[string]int{}, FrameSent: map[string]int{}, FrameRecv: map[string]int{},
		Faults: map[string]int{}, Decisions: map[string]int{}, Invariants: map[string]int{}, Reach: map[string]int{},
		hot: newHotCounts(),
	}
}

func newHotCounts() *hotCounts {
	if h, ok := spareHot.Get().(*hotCounts); ok {
		return h
	}
	n := len(stateNames)
	return &hotCounts{n: n, trans: make([]int, n*n)}
}

// spareHot holds the hot counts of finished runs (all zeros once flushed) for later runs.
var spareHot sync.Pool

// finishHot flushes the hot counts and lets later runs reuse them: c counts in its maps from
// now on.
func (c *Coverage) finishHot() {
	c.flush()
	if h := c.hot; h != nil {
		c.hot = nil
		spareHot.Put(h)
	}
}

// ReplyTags are the connect-reply tags (msgr1-protocol.md §2.3).
var ReplyTags = []wire.Tag{wire.TagReady, wire.TagResetSession, wire.TagWait, wire.TagRetrySession,
	wire.TagRetryGlobal, wire.TagBadProtoVer, wire.TagBadAuthorizer, wire.TagFeatures, wire.TagSeq,
	wire.TagChallengeAuthorizer}

// FrameTags are the tags that start a frame of an open session.
var FrameTags = []wire.Tag{wire.TagClose, wire.TagMsg, wire.TagAck, wire.TagKeepalive, wire.TagKeepalive2,
	wire.TagKeepalive2Ack}

// FaultKinds classify why a connection faulted (see faultKind).
var FaultKinds = []string{
	"transport: reset", "transport: broken pipe", "transport: eof", "transport: refused", "transport: other",
	"timeout: not ready", "timeout: idle",
	"rejected: wait", "rejected: bad protocol version", "rejected: features", "rejected: bad authorizer",
	"rejected: other", "auth: authorizer exchange", "bad signature",
	"protocol violation", "peer address mismatch",
	"wire: bad crc", "wire: bad banner", "wire: bad tag", "wire: too large", "wire: malformed",
	"wire: bad address", "wire: aborted message", "other",
}

// Unreachable names what a swarm sweep cannot reach by design, and why (keyed
// "category/item"). Coverage reports list them apart from what is missing: everything else
// in the universes above is reached by a 1,000-seed swarm sweep of the cluster workload
// (TestCoverageSweep; docs/testing.md, "Protocol coverage", has the numbers).
var Unreachable = map[string]string{
	"reply_tags/" + wire.TagChallengeAuthorizer.String(): "with auth none (the default) msgr.AuthNone accepts or " +
		"rejects an authorizer, it never asks for another round; the cluster workload with -auth cephx reaches it",
	"frame_tags/" + wire.TagKeepalive.String(): "the legacy bare KEEPALIVE is only sent to peers without " +
		"MSGR_KEEPALIVE2, and every simulated peer has it (Ceph Pacific's feature set)",
	"frame_tags/" + wire.TagClose.String(): "ProtocolV1 never sends CLOSE (msgr1-protocol.md §10 Q2); only its " +
		"reader handles one",
	"faults/auth: authorizer exchange": "the connector's side of CHALLENGE_AUTHORIZER and of the acceptor's proof: " +
		"unreachable with auth none, and with cephx every acceptor is this implementation and proves itself",
	"faults/bad signature": "no session is signed with auth none (the default); with -auth cephx the tamper " +
		"fault reaches it",
	"faults/rejected: other": "every rejection the protocol core makes has a kind of its own",
	"faults/protocol violation": "raised only when an acceptor breaks the protocol (RETRY_SESSION not above our " +
		"connect_seq, an open reply with an unexpected connect_seq); every simulated acceptor is this implementation",
	"faults/wire: bad banner": "every simulated peer speaks msgr1, and corruption targets only crc-protected bytes",
	"faults/wire: bad address": "addresses are not crc-protected, so corruption never targets them, and every " +
		"simulated peer encodes them correctly",
	"faults/wire: bad tag": "tags are not crc-protected, so corruption never targets them, and every simulated " +
		"peer writes valid ones",
	"faults/wire: too large": "every simulated message is within wire.Limits, and a corrupted length is caught by " +
		"the header crc first",
	"faults/wire: malformed": "corruption targets only crc-protected message bytes, never the handshake",
	"faults/transport: other": "on live hosts simnet and the socket-failure injector only produce reset, broken " +
		"pipe, EOF and refused",
	"faults/other": "every fault the core reports has a kind of its own",
}

// faultKind classifies a fault's error.
func faultKind(err error) string {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	switch {
	case errors.Is(err, proto.ErrTimeout):
		if strings.Contains(msg, "idle") {
			return "timeout: idle"
		}
		return "timeout: not ready"
	case errors.Is(err, proto.ErrRejected):
		return rejectedKind(msg)
	case errors.Is(err, proto.ErrPeerAddrMismatch):
		return "peer address mismatch"
	case errors.Is(err, proto.ErrAuth):
		return "auth: authorizer exchange"
	case errors.Is(err, proto.ErrBadSignature):
		return "bad signature"
	case errors.Is(err, proto.ErrProtocol):
		return "protocol violation"
	case errors.Is(err, proto.ErrTransport):
		return transportKind(err)
	}
	return wireKind(err)
}

func rejectedKind(msg string) string {
	for _, k := range []struct{ sub, kind string }{
		{"WAIT", "rejected: wait"}, {"protocol version", "rejected: bad protocol version"},
		{"features", "rejected: features"}, {"bad authorizer", "rejected: bad authorizer"},
	} {
		if strings.Contains(msg, k.sub) {
			return k.kind
		}
	}
	return "rejected: other"
}

func transportKind(err error) string {
	switch {
	case errors.Is(err, netio.ErrReset):
		return "transport: reset"
	case errors.Is(err, netio.ErrBrokenPipe):
		return "transport: broken pipe"
	case errors.Is(err, io.EOF):
		return "transport: eof"
	case errors.Is(err, netio.ErrRefused):
		return "transport: refused"
	}
	return "transport: other"
}

func wireKind(err error) string {
	for _, k := range []struct {
		err  error
		kind string
	}{
		{wire.ErrBadCRC, "wire: bad crc"}, {wire.ErrBadBanner, "wire: bad banner"}, {wire.ErrBadTag, "wire: bad tag"},
		{wire.ErrTooLarge, "wire: too large"}, {wire.ErrMalformed, "wire: malformed"}, {wire.ErrBadAddr, "wire: bad address"},
		{wire.ErrIncomplete, "wire: aborted message"},
	} {
		if errors.Is(err, k.err) {
			return k.kind
		}
	}
	return "other"
}

// Observe counts what a messenger trace event shows: a state entered and the transition
// taken, a fault's kind, an accept decision, a probe reached.
func (c *Coverage) Observe(ev msgr.TraceEvent) {
	switch ev.Kind {
	case msgr.TraceState:
		c.ObserveState(ev.From, ev.To)
	case msgr.TraceFault:
		c.Faults[faultKind(ev.Err)]++
	case msgr.TraceDecision:
		c.Decisions[ev.Rule]++
	case msgr.TraceReach:
		c.Reach[ev.Probe.String()]++
	}
}

// ObserveState counts a state transition (Observe of a TraceState event, the commonest kind,
// without copying the event): the state entered and the transition taken.
func (c *Coverage) ObserveState(from, to proto.State) {
	if h := c.hot; h != nil && int(from) < h.n && int(to) < h.n {
		h.trans[int(from)*h.n+int(to)]++
		h.any = true
		return
	}
	c.States[to.String()]++
	c.Transitions[transitionName(from, to)]++
}

// TagWritten counts a connect-reply tag (reply) or a frame tag written.
func (c *Coverage) TagWritten(reply bool, tag wire.Tag) {
	if h := c.hot; h != nil && tag < hotTags {
		h.any = true
		if reply {
			h.replySent[tag]++
		} else {
			h.frameSent[tag]++
		}
		return
	}
	if reply {
		c.ReplySent[tag.String()]++
	} else {
		c.FrameSent[tag.String()]++
	}
}

// TagRead counts a connect-reply tag (reply) or a frame tag read by the peer.
func (c *Coverage) TagRead(reply bool, tag wire.Tag) {
	if h := c.hot; h != nil && tag < hotTags {
		h.any = true
		if reply {
			h.replyRecv[tag]++
		} else {
			h.frameRecv[tag]++
		}
		return
	}
	if reply {
		c.ReplyRecv[tag.String()]++
	} else {
		c.FrameRecv[tag.String()]++
	}
}

// Evaluated counts n evaluations of invariant name.
func (c *Coverage) Evaluated(name string, n int) {
	if n <= 0 {
		return
	}
	if h := c.hot; h != nil && name != "" {
		for i := invSlot(name); ; i = (i + 1) & (invSlots - 1) {
			e := &h.inv[i]
			if e.name == name {
				e.n += n
				h.any = true
				return
			}
			if e.name == "" {
				if h.ninv == maxHotInvariants {
					break // the table is full enough: probe sequences stay short
				}
				*e = invCount{name, n}
				h.ninv++
				h.any = true
				return
			}
		}
	}
	c.Invariants[name] += n
}

// Merge adds o's counts to c (for sweeps).
func (c *Coverage) Merge(o *Coverage) {
	if o == nil {
		return
	}
	c.flush()
	o.flush()
	c.Runs += o.Runs
	for _, p := range [][2]map[string]int{{c.States, o.States}, {c.Transitions, o.Transitions},
		{c.ReplySent, o.ReplySent}, {c.ReplyRecv, o.ReplyRecv}, {c.FrameSent, o.FrameSent},
		{c.FrameRecv, o.FrameRecv}, {c.Faults, o.Faults}, {c.Decisions, o.Decisions}, {c.Invariants, o.Invariants},
		{c.Reach, o.Reach}} {
		//lint:ordered addition commutes
		for k, v := range p[1] {
			p[0][k] += v
		}
	}
}

// Category is one dimension of coverage, summarised: how many of the known items were
// reached, which were not (Missing), which of those cannot be by design (Unreachable, with
// the reason), and the counts.
type Category struct {
	Reached     int               `json:"reached"`
	Total       int               `json:"total,omitempty"` // 0: no fixed universe (transitions, decisions)
	Missing     []string          `json:"missing"`
	Unreachable map[string]string `json:"unreachable,omitempty"`
	Counts      map[string]int    `json:"counts,omitempty"`
	Sent        map[string]int    `json:"sent,omitempty"`
	Received    map[string]int    `json:"received,omitempty"`
}

// Summary is Coverage in the shape of Result's JSON "coverage" field.
type Summary struct {
	Runs        int      `json:"runs"`
	States      Category `json:"states"`
	Transitions Category `json:"transitions"`
	ReplyTags   Category `json:"reply_tags"`
	FrameTags   Category `json:"frame_tags"`
	Faults      Category `json:"faults"`
	Decisions   Category `json:"decisions"`
	Invariants  Category `json:"invariants"`
	Reach       Category `json:"reach"`
}

// Summary summarises the coverage against the known universes.
func (c *Coverage) Summary() Summary {
	c.flush()
	var states []string
	for _, s := range proto.AllStates() {
		states = append(states, s.String())
	}
	return Summary{
		Runs:        c.Runs,
		States:      category("states", states, c.States),
		Transitions: category("transitions", nil, c.Transitions),
		ReplyTags:   tagCategory("reply_tags", ReplyTags, c.ReplySent, c.ReplyRecv),
		FrameTags:   tagCategory("frame_tags", FrameTags, c.FrameSent, c.FrameRecv),
		Faults:      category("faults", FaultKinds, c.Faults),
		Decisions:   category("decisions", nil, c.Decisions),
		Invariants:  category("invariants", check.Names(), c.Invariants),
		Reach:       reachCategory(c.Reach),
	}
}

func category(name string, universe []string, counts map[string]int) Category {
	cat := Category{Total: len(universe), Counts: counts, Missing: []string{}}
	if universe == nil {
		cat.Reached = len(counts)
		return cat
	}
	for _, u := range universe {
		if counts[u] > 0 {
			cat.Reached++
			continue
		}
		cat.noteMissing(name, u)
	}
	return cat
}

func (cat *Category) noteMissing(name, item string) {
	if why, ok := Unreachable[name+"/"+item]; ok {
		if cat.Unreachable == nil {
			cat.Unreachable = map[string]string{}
		}
		cat.Unreachable[item] = why
		return
	}
	cat.Missing = append(cat.Missing, item)
}

// tagCategory: a tag is reached when it was both sent and received.
func tagCategory(name string, tags []wire.Tag, sent, recv map[string]int) Category {
	cat := Category{Total: len(tags), Sent: sent, Received: recv, Missing: []string{}}
	for _, t := range tags {
		if sent[t.String()] > 0 && recv[t.String()] > 0 {
			cat.Reached++
			continue
		}
		cat.noteMissing(name, t.String())
	}
	return cat
}

// MarshalJSON renders the summary (see Summary).
func (c *Coverage) MarshalJSON() ([]byte, error) { return json.Marshal(c.Summary()) }

// UnmarshalJSON reads a summary back into counts, so that coverage written by sweep shards
// can be merged.
func (c *Coverage) UnmarshalJSON(b []byte) error {
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*c = *NewCoverage()
	c.Runs = s.Runs
	for _, p := range [][2]map[string]int{{c.States, s.States.Counts}, {c.Transitions, s.Transitions.Counts},
		{c.ReplySent, s.ReplyTags.Sent}, {c.ReplyRecv, s.ReplyTags.Received}, {c.FrameSent, s.FrameTags.Sent},
		{c.FrameRecv, s.FrameTags.Received}, {c.Faults, s.Faults.Counts}, {c.Decisions, s.Decisions.Counts},
		{c.Invariants, s.Invariants.Counts}, {c.Reach, s.Reach.Counts}} {
		//lint:ordered copying commutes
		for k, v := range p[1] {
			p[0][k] = v
		}
	}
	return nil
}

// Table renders the coverage as a readable table: one line per category, then the items
// missing and unreachable, then the counts of every item.
func (c *Coverage) Table() string {
	s := c.Summary()
	var b strings.Builder
	fmt.Fprintf(&b, "coverage over %d run(s):\n", s.Runs)
	for _, row := range s.rows() {
		total := "   -"
		if row.cat.Total > 0 {
			total = fmt.Sprintf("%4d", row.cat.Total)
		}
		fmt.Fprintf(&b, "  %-12s reached %4d of %s", row.name, row.cat.Reached, total)
		if len(row.cat.Missing) > 0 {
			fmt.Fprintf(&b, "  missing: %s", strings.Join(row.cat.Missing, ", "))
		}
		b.WriteString("\n")
		for _, k := range sortedKeys(row.cat.Unreachable) {
			fmt.Fprintf(&b, "  %-12s   unreachable by design: %s (%s)\n", "", k, row.cat.Unreachable[k])
		}
	}
	for _, row := range s.rows() {
		c.tableCounts(&b, row.name, row.cat)
	}
	return b.String()
}

type summaryRow struct {
	name string
	cat  Category
}

func (s Summary) rows() []summaryRow {
	return []summaryRow{{"states", s.States}, {"transitions", s.Transitions}, {"reply tags", s.ReplyTags},
		{"frame tags", s.FrameTags}, {"faults", s.Faults}, {"decisions", s.Decisions}, {"invariants", s.Invariants},
		{"reach", s.Reach}}
}

func (c *Coverage) tableCounts(b *strings.Builder, name string, cat Category) {
	fmt.Fprintf(b, "%s:\n", name)
	if cat.Counts != nil {
		for _, k := range sortedKeys(cat.Counts) {
			fmt.Fprintf(b, "  %9d  %s\n", cat.Counts[k], k)
		}
		return
	}
	keys := sortedKeys(cat.Sent)
	for _, k := range sortedKeys(cat.Received) {
		if cat.Sent[k] == 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "  sent %9d  received %9d  %s\n", cat.Sent[k], cat.Received[k], k)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	//lint:ordered sorted below
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// stateNames holds every state's name, in proto.AllStates order.
var stateNames = func() []string {
	var names []string
	for _, s := range proto.AllStates() {
		names = append(names, s.String())
	}
	return names
}()

// transitionNames holds "FROM -> TO" for every pair of states, so that counting a transition
// (every state change of every run) does not build a string.
var transitionNames = func() [][]string {
	all := proto.AllStates()
	t := make([][]string, len(all))
	for i, from := range all {
		t[i] = make([]string, len(all))
		for j, to := range all {
			t[i][j] = from.String() + " -> " + to.String()
		}
	}
	return t
}()

func transitionName(from, to proto.State) string {
	if int(from) < len(transitionNames) && int(to) < len(transitionNames) {
		return transitionNames[from][to]
	}
	return from.String() + " -> " + to.String()
}
