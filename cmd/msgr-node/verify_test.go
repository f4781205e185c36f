package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// The verifier of a Go monitor peer's session with a real ceph-mon, from both sides' logs: the
// peer's JSON log (peerEvent lines, one or several runs appended) and the mon's log
// (monLogEvent). Messages are identified by content: an MMonProbe we send carries our id in
// a field the mon ignores, so its front crc (which the mon logs) names it; an MMonPing carries
// a unique stamp, which the mon logs and echoes in its PING_REPLY. The mon's own probes and
// its probe replies are all alike; between two echoed stamps, what we dispatched must be what
// the mon queued, kind for kind.
//
// A message may go missing only if a reset accounts for it: a reset or remote reset reported
// on the connection it was sent on, a stop of our peer, or a restart of the mon, after it was
// sent (or queued). Nothing may be dispatched twice, out of order, or without having been sent.

// window is a planned outage (the mon killed and restarted, our peer stopped and restarted):
// stalls do not count the time inside one.
type window struct{ From, To time.Time }

// verdict is the verifier's report.
type verdict struct {
	Violations []string `json:"violations"`

	Sent           int `json:"sent"`             // messages we queued for the mon
	MonDispatched  int `json:"mon_dispatched"`   // of them, dispatched by the mon (once each)
	LostToMon      int `json:"lost_to_mon"`      // sent, never dispatched, accounted for by a reset
	MonQueued      int `json:"mon_queued"`       // messages the mon queued for us
	Dispatched     int `json:"dispatched"`       // messages we dispatched from the mon
	LostFromMon    int `json:"lost_from_mon"`    // echoed stamps never dispatched, accounted for by a reset
	Resends        int `json:"resends"`          // our writes beyond the messages acknowledged: resends after reconnects (and what a reset caught in flight)
	MonOldDropped  int `json:"mon_old_dropped"`  // resends the mon already had ("got old message")
	MonSkipped     int `json:"mon_skipped"`      // seq jumps the mon logged (after a reset: a new session's first seq)
	Handshakes     int `json:"handshakes"`       // completed handshakes (READY or SEQ) seen by our tap
	SessionResets  int `json:"session_resets"`   // resets and remote resets of a session connection
	MonRestarts    int `json:"mon_restarts"`     // mon starts after the first
	PeerRestarts   int `json:"peer_restarts"`    // our starts after the first
	MonCrashes     int `json:"mon_crashes"`      // crash lines in the mon's log
	StallToMon     Dur `json:"stall_to_mon"`     // longest gap between two dispatches by the mon (outside planned outages)
	StallFromMon   Dur `json:"stall_from_mon"`   // longest gap between two dispatches by us
	MaxLatencyPing Dur `json:"max_latency_ping"` // longest ping → echoed reply dispatched

	ReplyTagsSent     map[string]int `json:"reply_tags_sent"`     // connect reply tags we wrote (as acceptor)
	ReplyTagsReceived map[string]int `json:"reply_tags_received"` // connect reply tags we read (as connector)
	MonGot            map[string]int `json:"mon_connect_got"`     // reply tags the mon logged as connector
	Patterns          map[string]int `json:"handshake_patterns"`  // reply tag sequences of completed handshakes, e.g. RETRY_GLOBAL>SEQ
	Decisions         map[string]int `json:"decisions"`           // our accept decisions by rule (msgr1-protocol.md §3.2)
	LongestRetrySess  int            `json:"longest_retry_session_chain"`
}

// Dur is a duration that marshals as "1.5s".
type Dur time.Duration

func (d Dur) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }
func (d Dur) String() string               { return time.Duration(d).Round(time.Millisecond).String() }

func (v *verdict) fail(format string, args ...any) {
	if len(v.Violations) < 50 {
		v.Violations = append(v.Violations, fmt.Sprintf(format, args...))
	}
}

// readPeerLog reads a peer's JSON log.
func readPeerLog(path string) ([]peerEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parsePeerLog(f)
}

func parsePeerLog(r io.Reader) ([]peerEvent, error) {
	var evs []peerEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		var ev peerEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("peer log line %d: %w", n, err)
		}
		evs = append(evs, ev)
	}
	return evs, sc.Err()
}

func micros(us int64) time.Time { return time.UnixMicro(us) }

// resets are the moments that end a session incarnation, and so may account for lost
// messages: resets and remote resets reported on a connection of ours (not the ones our own
// shutdown causes after a final drain), stops of our peer, restarts of the mon.
type resets struct {
	byConn  map[uint64][]time.Time // resets and remote resets per connection of ours
	session []time.Time            // resets and remote resets of connections that carried messages
	global  []time.Time            // our stops and the mon's restarts
}

// never is the boundary of an incarnation that no reset ended.
var never = time.Unix(1<<40, 0)

// firstAfter is the first of the moments at or after t, or never.
func firstAfter(t time.Time, lists ...[]time.Time) time.Time {
	first := never
	for _, l := range lists {
		for _, x := range l {
			if !x.Before(t) && x.Before(first) {
				first = x
			}
		}
	}
	return first
}

// endOfConn is when the incarnation a message sent on conn at t ended (never: it did not).
func (r *resets) endOfConn(conn uint64, t time.Time) time.Time {
	return firstAfter(t, r.byConn[conn], r.global)
}

// endOfSession is when the incarnation of whatever session carried a message the mon queued
// at t ended.
func (r *resets) endOfSession(t time.Time) time.Time { return firstAfter(t, r.session, r.global) }

// verify checks both directions and tallies what happened.
func verify(peer []peerEvent, mon []monLogEvent, outages []window) verdict {
	v := verdict{ReplyTagsSent: map[string]int{}, ReplyTagsReceived: map[string]int{}, MonGot: map[string]int{},
		Patterns: map[string]int{}, Decisions: map[string]int{}}
	rs := collectResets(&v, peer, mon)
	verifyToMon(&v, peer, mon, rs, outages)
	verifyFromMon(&v, peer, mon, rs, outages)
	tallyHandshakes(&v, peer, mon)
	return v
}

// collectResets gathers the resets, restarts and crashes both logs report.
func collectResets(v *verdict, peer []peerEvent, mon []monLogEvent) *resets {
	rs := &resets{byConn: map[uint64][]time.Time{}}
	starts, drained := 0, false
	var evidence time.Time // the last moment our core reset a session (see below)
	for _, ev := range peer {
		switch ev.Event {
		case "drain":
			drained = true // our shutdown follows: its resets lose nothing that counts
		case "decision", "reply":
			if strings.HasPrefix(ev.Rule, "8e ") || ev.Dir == "received" && ev.Tag == "RESETSESSION" {
				evidence = micros(ev.TS)
			}
		case "reset", "remote_reset":
			at := micros(ev.TS)
			// A remote reset reaches the dispatchers a little after the core reset the session
			// (on a peer restart, rule 8e, or a RESETSESSION received): the session ended then.
			if ev.Event == "remote_reset" && !evidence.IsZero() && at.Sub(evidence) < time.Second {
				at = evidence
			}
			if !drained {
				rs.byConn[ev.Conn] = append(rs.byConn[ev.Conn], at)
			}
		case "stop":
			rs.global = append(rs.global, micros(ev.TS))
		case "start":
			if starts++; starts > 1 {
				rs.global = append(rs.global, micros(ev.TS)) // the mon's session with our old process ends when it learns of the new one
			}
			drained = false
		case "end":
			if ev.Metrics != nil {
				v.Resends += max(int(ev.Metrics.MessagesOut)-int(ev.Acked), 0)
			}
		}
	}
	v.PeerRestarts = max(starts-1, 0)
	monStarts := 0
	for _, ev := range mon {
		switch ev.Kind {
		case "start":
			if monStarts++; monStarts > 1 {
				rs.global = append(rs.global, ev.At)
			}
		case "mon_reset":
			rs.global = append(rs.global, ev.At)
		case "connect_got":
			if ev.Tag == "RESETSESSION" { // the mon resets its session as a connector
				rs.global = append(rs.global, ev.At)
			}
		case "crash":
			v.MonCrashes++
			v.fail("the mon crashed: %s", ev.Text)
		case "old":
			v.MonOldDropped++
		case "skipped":
			v.MonSkipped++
		}
	}
	v.MonRestarts = max(monStarts-1, 0)
	sessionConns := map[uint64]bool{}
	for _, ev := range peer {
		if ev.Event == "send" || ev.Event == "dispatch" {
			sessionConns[ev.Conn] = true
		}
	}
	for c, ts := range rs.byConn {
		if sessionConns[c] {
			v.SessionResets += len(ts)
			rs.session = append(rs.session, ts...)
		}
	}
	return rs
}

// sentMsg is one message we sent, as the verifier knows it.
type sentMsg struct {
	id   uint64
	conn uint64
	at   time.Time
	got  bool
}

// verifyToMon: the mon dispatched each of our messages at most once, in the order we sent
// them, and every one it did not dispatch is accounted for by a reset.
func verifyToMon(v *verdict, peer []peerEvent, mon []monLogEvent, rs *resets, outages []window) {
	var sent []*sentMsg
	byCRC := map[uint32][]*sentMsg{}
	byStamp := map[string]*sentMsg{}
	for _, ev := range peer {
		if ev.Event != "send" {
			continue
		}
		s := &sentMsg{id: ev.ID, conn: ev.Conn, at: micros(ev.TS)}
		sent = append(sent, s)
		if ev.Stamp != "" {
			byStamp[ev.Stamp] = s
		} else {
			byCRC[ev.CRC] = append(byCRC[ev.CRC], s)
		}
	}
	v.Sent = len(sent)
	var last uint64
	var times []time.Time
	for _, ev := range mon {
		if ev.Kind != "dispatch" {
			continue
		}
		s := matchSent(ev, byCRC, byStamp, last)
		if s == nil {
			v.fail("the mon dispatched %q (seq %d, crc %d) at %s: not a message we sent, or a duplicate",
				ev.Text, ev.Seq, ev.CRC, ev.At.Format(time.StampMilli))
			continue
		}
		if s.got {
			v.fail("the mon dispatched message %d twice", s.id)
			continue
		}
		if s.id < last {
			v.fail("the mon dispatched message %d after message %d", s.id, last)
		}
		s.got, last = true, max(last, s.id)
		v.MonDispatched++
		times = append(times, ev.At)
	}
	checkPrefixes(v, sent, rs)
	v.StallToMon = longestGap(times, outages)
}

// checkPrefixes: of the messages one incarnation carried, the mon dispatched a prefix (the
// ones lost are those the reset that ended it caught in flight), and all of them if no reset
// ended it.
func checkPrefixes(v *verdict, sent []*sentMsg, rs *resets) {
	type key struct {
		conn uint64
		end  time.Time
	}
	groups := map[key][]*sentMsg{}
	var keys []key
	for _, s := range sent {
		k := key{s.conn, rs.endOfConn(s.conn, s.at)}
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], s)
	}
	for _, k := range keys {
		g := groups[k]
		last := -1
		for i, s := range g {
			if s.got {
				last = i
			}
		}
		for i, s := range g {
			switch {
			case s.got:
			case i < last && gotBefore(g[i:], k.end.Add(-resetSlack)) != nil:
				v.fail("message %d (sent %s on connection %d) never reached the mon, though message %d sent after it on the same session did",
					s.id, s.at.Format(time.StampMicro), s.conn, gotBefore(g[i:], k.end.Add(-resetSlack)).id)
			case k.end == never:
				v.fail("message %d (sent %s on connection %d) never reached the mon, and no reset accounts for it",
					s.id, s.at.Format(time.StampMicro), s.conn)
			default:
				v.LostToMon++
			}
		}
	}
}

// resetSlack: a message sent this close before a reset may be carried by the session after
// it (it was still on its way into the connection when the reset discarded the queue), so it
// may arrive while the ones before it were lost.
const resetSlack = 100 * time.Millisecond

// gotBefore is the first message of g the mon dispatched that was sent before t, or nil.
func gotBefore(g []*sentMsg, t time.Time) *sentMsg {
	for _, s := range g {
		if s.got && s.at.Before(t) {
			return s
		}
	}
	return nil
}

// matchSent finds the message the mon dispatched: by stamp for a ping, else by front crc (the
// first not yet dispatched after the last one, should two fronts share a crc).
func matchSent(ev monLogEvent, byCRC map[uint32][]*sentMsg, byStamp map[string]*sentMsg, last uint64) *sentMsg {
	if ev.Message == "ping" {
		return byStamp[ev.Stamp]
	}
	cands := byCRC[ev.CRC]
	for _, s := range cands {
		if !s.got && s.id > last {
			return s
		}
	}
	for _, s := range cands {
		if !s.got {
			return s
		}
	}
	if len(cands) > 0 {
		return cands[0]
	}
	return nil
}

// verifyFromMon: we dispatched each echoed stamp at most once and in order, every stamp the
// mon queued and we never dispatched is accounted for by a reset, seqs grow by one within a
// session incarnation, and between two echoed stamps we dispatched what the mon queued.
func verifyFromMon(v *verdict, peer []peerEvent, mon []monLogEvent, rs *resets, outages []window) {
	queued := map[string]int{} // stamp -> index in the mon's queue
	var q []monLogEvent
	for _, ev := range mon {
		if ev.Kind == "queue" {
			if ev.Message == "ping_reply" {
				queued[ev.Stamp] = len(q)
			}
			q = append(q, ev)
		}
	}
	v.MonQueued = len(q)
	got := map[string]bool{}
	var times []time.Time
	var lastStamp string
	inc := newIncarnations(peer)
	for i, ev := range peer {
		if ev.Event != "dispatch" {
			continue
		}
		v.Dispatched++
		times = append(times, micros(ev.TS))
		inc.dispatched(v, i, ev)
		if ev.Kind != "ping_reply" {
			continue
		}
		if _, ok := queued[ev.Stamp]; !ok {
			v.fail("we dispatched a PING_REPLY stamped %s that the mon never queued", ev.Stamp)
		}
		if got[ev.Stamp] {
			v.fail("we dispatched the PING_REPLY stamped %s twice", ev.Stamp)
		}
		if ev.Stamp < lastStamp {
			v.fail("we dispatched the PING_REPLY stamped %s after the one stamped %s", ev.Stamp, lastStamp)
		}
		got[ev.Stamp], lastStamp = true, max(lastStamp, ev.Stamp)
	}
	cutoff := drainCutoff(peer)
	checkEchoPrefixes(v, q, got, rs, cutoff)
	inc.compareBetweenStamps(v, q, queued)
	inc.compareTail(v, q, queued, cutoff, rs)
	v.StallFromMon = longestGap(times, outages)
	v.MaxLatencyPing = pingLatency(peer)
}

// checkEchoPrefixes: of the PING_REPLYs the mon queued within one session incarnation, we
// dispatched a prefix, and all of them if no reset ended it (but those queued in the last second
// of our final drain, which may still have been on their way).
func checkEchoPrefixes(v *verdict, q []monLogEvent, got map[string]bool, rs *resets, cutoff time.Time) {
	groups := map[time.Time][]monLogEvent{}
	var ends []time.Time
	for _, ev := range q {
		if ev.Message != "ping_reply" {
			continue
		}
		end := rs.endOfSession(ev.At)
		if groups[end] == nil {
			ends = append(ends, end)
		}
		groups[end] = append(groups[end], ev)
	}
	for _, end := range ends {
		g := groups[end]
		last := -1
		for i, ev := range g {
			if got[ev.Stamp] {
				last = i
			}
		}
		for i, ev := range g {
			switch {
			case got[ev.Stamp]:
			case i < last && g[last].At.Before(end.Add(-resetSlack)):
				v.fail("the mon queued a PING_REPLY stamped %s that we never dispatched, though we dispatched the one stamped %s queued after it on the same session",
					ev.Stamp, g[last].Stamp)
			case end == never && ev.At.Before(cutoff):
				v.fail("the mon queued a PING_REPLY stamped %s at %s that we never dispatched, and no reset accounts for it",
					ev.Stamp, ev.At.Format(time.StampMilli))
			default:
				v.LostFromMon++
			}
		}
	}
}

// incarnations splits our dispatches into session incarnations: a reset or remote reset of the
// connection, or a restart of our peer, starts a new one.
type incarnations struct {
	peer      []peerEvent
	lastSeq   map[uint64]uint64 // connection -> last seq dispatched in its incarnation
	segments  [][]peerEvent     // dispatches per incarnation, in order
	segByConn map[uint64]int    // connection -> its current incarnation
}

func newIncarnations(peer []peerEvent) *incarnations {
	return &incarnations{peer: peer, lastSeq: map[uint64]uint64{}, segByConn: map[uint64]int{}}
}

// dispatched checks that seqs grow by one within an incarnation, and files the dispatch.
func (in *incarnations) dispatched(v *verdict, i int, ev peerEvent) {
	seg := in.segment(i, ev.Conn)
	if last, ok := in.lastSeq[ev.Conn]; ok && len(in.segments[seg]) > 0 && ev.Seq != last+1 {
		v.fail("connection %d: we dispatched seq %d after seq %d in one session incarnation", ev.Conn, ev.Seq, last)
	}
	in.lastSeq[ev.Conn] = ev.Seq
	in.segments[seg] = append(in.segments[seg], ev)
}

// segment returns the incarnation a dispatch at index i on conn belongs to, starting a new one
// after a reset of conn or a start of our peer since the previous dispatch on conn.
func (in *incarnations) segment(i int, conn uint64) int {
	seg, ok := in.segByConn[conn]
	if ok {
		// A reset of conn, or a restart, between the previous dispatch on conn and this one?
		prev := in.segments[seg][len(in.segments[seg])-1]
		for j := i - 1; j >= 0 && in.peer[j].TS >= prev.TS; j-- {
			e := in.peer[j]
			if (e.Event == "reset" || e.Event == "remote_reset") && e.Conn == conn || e.Event == "start" {
				ok = false
				break
			}
		}
	}
	if !ok {
		seg = len(in.segments)
		in.segments = append(in.segments, nil)
		in.segByConn[conn] = seg
		delete(in.lastSeq, conn)
	}
	return seg
}

// compareBetweenStamps: within one incarnation, between two consecutive echoed stamps, we
// dispatched as many messages of each kind as the mon queued between them.
func (in *incarnations) compareBetweenStamps(v *verdict, q []monLogEvent, queued map[string]int) {
	for _, seg := range in.segments {
		prevAt := -1 // index in seg of the previous PING_REPLY
		for k, ev := range seg {
			if ev.Kind != "ping_reply" {
				continue
			}
			if prevAt >= 0 {
				a, okA := queued[seg[prevAt].Stamp]
				b, okB := queued[ev.Stamp]
				if okA && okB && a < b {
					want := kindCounts(q[a+1 : b])
					gotK := map[string]int{}
					for _, x := range seg[prevAt+1 : k] {
						gotK[x.Kind]++
					}
					if fmt.Sprint(want) != fmt.Sprint(gotK) {
						v.fail("between the PING_REPLYs stamped %s and %s the mon queued %v, we dispatched %v",
							seg[prevAt].Stamp, ev.Stamp, want, gotK)
					}
				}
			}
			prevAt = k
		}
	}
}

// compareTail: after the last echoed stamp of the last incarnation, we dispatched at least
// what the mon queued a second before our final drain ended (and at most all it queued), unless
// a reset came after that stamp.
func (in *incarnations) compareTail(v *verdict, q []monLogEvent, queued map[string]int, cutoff time.Time, rs *resets) {
	if len(in.segments) == 0 {
		return
	}
	seg := in.segments[len(in.segments)-1]
	last := -1
	for k, ev := range seg {
		if ev.Kind == "ping_reply" {
			last = k
		}
	}
	if last < 0 {
		return
	}
	a, ok := queued[seg[last].Stamp]
	if !ok || rs.endOfSession(q[a].At) != never {
		return
	}
	var before []monLogEvent
	for _, ev := range q[a+1:] {
		if ev.At.Before(cutoff) {
			before = append(before, ev)
		}
	}
	want, all, got := kindCounts(before), kindCounts(q[a+1:]), map[string]int{}
	for _, x := range seg[last+1:] {
		got[x.Kind]++
	}
	for k := range mergeKeys(want, got, all) {
		if got[k] < want[k] || got[k] > all[k] {
			v.fail("after the last PING_REPLY (stamped %s) the mon queued %v (%v before the end of our drain), we dispatched %v",
				seg[last].Stamp, all, want, got)
			return
		}
	}
}

// drainCutoff is a second before the end of our last drain: what the mon queued before it
// must have arrived (the drain waits for a quiet second). Without a drain, the end of time.
func drainCutoff(peer []peerEvent) time.Time {
	cutoff := time.Unix(1<<40, 0)
	for _, ev := range peer {
		if ev.Event == "drain" {
			cutoff = micros(ev.TS).Add(-time.Second)
		}
	}
	return cutoff
}

func mergeKeys(ms ...map[string]int) map[string]bool {
	keys := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			keys[k] = true
		}
	}
	return keys
}

func kindCounts(evs []monLogEvent) map[string]int {
	m := map[string]int{}
	for _, ev := range evs {
		m[ev.Message]++
	}
	return m
}

// longestGap is the longest time between two consecutive moments, not counting the time
// inside the outages.
func longestGap(ts []time.Time, outages []window) Dur {
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	var longest time.Duration
	for i := 1; i < len(ts); i++ {
		gap := ts[i].Sub(ts[i-1])
		for _, w := range outages {
			from, to := maxTime(w.From, ts[i-1]), minTime(w.To, ts[i])
			if to.After(from) {
				gap -= to.Sub(from)
			}
		}
		longest = max(longest, gap)
	}
	return Dur(longest)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// pingLatency is the longest time from sending a ping to dispatching its echo.
func pingLatency(peer []peerEvent) Dur {
	sentAt := map[string]int64{}
	var longest int64
	for _, ev := range peer {
		switch {
		case ev.Event == "send" && ev.Stamp != "":
			sentAt[ev.Stamp] = ev.TS
		case ev.Event == "dispatch" && ev.Kind == "ping_reply":
			if t, ok := sentAt[ev.Stamp]; ok {
				longest = max(longest, ev.TS-t)
			}
		}
	}
	return Dur(time.Duration(longest) * time.Microsecond)
}

// tallyHandshakes counts reply tags both ways and the tag sequence of every handshake our tap
// saw complete (per socket: e.g. RETRY_GLOBAL>SEQ).
func tallyHandshakes(v *verdict, peer []peerEvent, mon []monLogEvent) {
	seqs := map[string][]string{}
	for _, ev := range peer {
		if ev.Event == "decision" {
			v.Decisions[ev.Rule]++
		}
		if ev.Event != "reply" {
			continue
		}
		if ev.Dir == "sent" {
			v.ReplyTagsSent[ev.Tag]++
		} else {
			v.ReplyTagsReceived[ev.Tag]++
		}
		key := fmt.Sprint(ev.Dir, ev.Sock, ev.Local, ev.Remote)
		seqs[key] = append(seqs[key], ev.Tag)
		v.LongestRetrySess = max(v.LongestRetrySess, trailing(seqs[key], "RETRY_SESSION"))
		switch ev.Tag {
		case "READY", "SEQ":
			v.Patterns[strings.Join(seqs[key], ">")]++
			v.Handshakes++
			delete(seqs, key)
		case "RETRY_GLOBAL", "RETRY_SESSION", "RESETSESSION", "CHALLENGE_AUTHORIZER":
		default: // WAIT, BADPROTOVER, …: the connector leaves the socket
			delete(seqs, key)
		}
	}
	for _, ev := range mon {
		if ev.Kind == "connect_got" {
			v.MonGot[ev.Tag]++
		}
	}
}

// trailing counts how many of the last elements of tags are tag.
func trailing(tags []string, tag string) int {
	n := 0
	for i := len(tags) - 1; i >= 0 && tags[i] == tag; i-- {
		n++
	}
	return n
}

// hasPattern reports whether a completed handshake's tag sequence contains tag.
func (v *verdict) hasPattern(tag string) bool {
	for p := range v.Patterns {
		if slices.Contains(strings.Split(p, ">"), tag) {
			return true
		}
	}
	return false
}

// String renders the verdict for a log.
func (v verdict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Go → mon: sent %d, dispatched by the mon %d, lost at resets %d; resends %d, old resends the mon dropped %d\n",
		v.Sent, v.MonDispatched, v.LostToMon, v.Resends, v.MonOldDropped)
	fmt.Fprintf(&b, "mon → Go: queued by the mon %d, dispatched %d, echoes lost at resets %d\n", v.MonQueued, v.Dispatched, v.LostFromMon)
	fmt.Fprintf(&b, "handshakes %d, session resets %d, mon restarts %d, peer restarts %d, mon crashes %d\n",
		v.Handshakes, v.SessionResets, v.MonRestarts, v.PeerRestarts, v.MonCrashes)
	fmt.Fprintf(&b, "longest stall: to the mon %v, from the mon %v; longest ping echo %v\n", v.StallToMon, v.StallFromMon, v.MaxLatencyPing)
	fmt.Fprintf(&b, "reply tags we sent %v, received %v; the mon logged %v\n", sortedMap(v.ReplyTagsSent), sortedMap(v.ReplyTagsReceived), sortedMap(v.MonGot))
	fmt.Fprintf(&b, "handshake patterns %v; longest RETRY_SESSION chain on a socket %d\n", sortedMap(v.Patterns), v.LongestRetrySess)
	fmt.Fprintf(&b, "our accept decisions %v\n", sortedMap(v.Decisions))
	for _, s := range v.Violations {
		fmt.Fprintf(&b, "VIOLATION: %s\n", s)
	}
	return b.String()
}

func sortedMap(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return "{" + strings.Join(parts, " ") + "}"
}
