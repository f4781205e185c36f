package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Reset attribution: the simulator sees both ends of every session, so every reset of a
// lossless session — a RESETSESSION written, a reset or remote_reset event — is attributed to
// a cause it can name, or reported as spurious-reset. A cause is licensed for a session (the
// pair of nonces) when it happens; a license stays until a reset used it and the session then
// opened again.

// Reset causes.
const (
	// CauseCrash: either end's messenger crashed or restarted (a new incarnation, perhaps with
	// the same nonce): the session state of one end is gone.
	CauseCrash = "crash"
	// CauseMarkDown: either end marked the session down (Connection.MarkDown, Messenger.MarkDown).
	CauseMarkDown = "mark-down"
	// CauseLossy: the session's policy is lossy: any fault may reset it.
	CauseLossy = "lossy-policy"
	// CauseHalfOpen: the half-open accept (msgr1-protocol.md §3.2 rules 8e and 8h, §3.5,
	// §6.3): the acceptor read a connect and opened the session (its READY/SEQ written or not),
	// the connector never read the reply. The two ends now disagree on connect_seq: the
	// connector retries with the one it had (0 against the opened session is "peer
	// restarted", reset with resetcheck), or the acceptor, faulting after it opened, reconnects
	// with connect_seq + 1 to a session that never opened on the other side, which answers
	// RESETSESSION (msgr/proto/testdata/half_open_accept.txt). A real ceph-mon answers the same
	// way: nothing on the wire tells the acceptor that the connector did not see its reply.
	//
	// A RESETSESSION is licensed only by the half-open of the peer it answers: on a
	// connection of the session the peer, as acceptor, read a connect of the side now
	// answering, and that side has not opened the session since. And not when that side read
	// the peer's opening reply (SEQ, cut before its in_seq: it knows that the peer opened the
	// session from its connect), answers a reconnect with RECONNECT_SEQ and has no resetcheck
	// for the peer: Ceph's rule 8h replaces then, and the SEQ exchange synchronises both ends,
	// so the reset only drops the peer's queue (quirk Q17; default seed 2696). A legacy
	// reconnect is reset then (quirk Q14: no SEQ exchange to synchronise the two numberings).
	CauseHalfOpen = "half-open-accept"
	// CauseNeverOpened: a connection that accepted a socket and never had a session stopped
	// (§6.3 step 4, the half-open accepted connection with nothing queued): no session,
	// nothing lost. A lossless connector that never opened is not stopped by a fault (it
	// backs off and reconnects, even with nothing queued), so its reset is not excused by
	// this cause; the mutation score found the gap (a fault rule that stopped never-opened
	// connectors with nothing queued passed).
	CauseNeverOpened = "never-opened"
	// causeNone marks a session whose spurious reset was reported: its later resets are not
	// reported again, and excuse nothing.
	causeNone = "unattributed"
)

// dirPair names a messenger (to) and its peer (from) by their nonces, in that direction.
type dirPair struct{ to, from uint32 }

// noncePair names a session by its ends' nonces, the lower first.
type noncePair struct{ lo, hi uint32 }

func makeNoncePair(a, b uint32) noncePair {
	if b < a {
		a, b = b, a
	}
	return noncePair{a, b}
}

type license struct {
	cause string
	used  bool
}

// EventConn names one connection of one messenger incarnation, for the event order.
type EventConn struct{ Msgr, Inc, Conn uint64 }

type eventState struct {
	opened, reset, markedDown bool
}

// knowPair remembers a session, for licensing it when either end restarts.
func (s *Sessions) knowPair(a, b uint32) {
	p := makeNoncePair(a, b)
	for _, q := range s.known[a] {
		if q == p {
			return
		}
	}
	s.known[a] = append(s.known[a], p)
	if b != a {
		s.known[b] = append(s.known[b], p)
	}
}

// license grants cause to the session of nonces a and b (an earlier cause stays).
func (s *Sessions) license(a, b uint32, cause string) {
	p := makeNoncePair(a, b)
	if l := s.lic[p]; l != nil && !l.used && l.cause != causeNone {
		return
	}
	s.lic[p] = &license{cause: cause}
}

// Started reports the first event of a messenger incarnation with address my; restarted says
// an earlier incarnation (with address old) ran: every session of either may now reset.
func (s *Sessions) Started(my, old wire.EntityAddr, restarted bool) {
	k := s.startedEpoch(my)
	if !restarted {
		return
	}
	s.epoch[k]++
	for _, n := range []uint32{old.Nonce, my.Nonce} {
		for _, p := range s.known[n] {
			s.lic[p] = &license{cause: CauseCrash}
		}
	}
}

// MarkedDown reports that a messenger (nonce my) marked its session with peer down, on its
// connection ec.
func (s *Sessions) MarkedDown(ec EventConn, my, peer uint32) {
	s.knowPair(my, peer)
	s.license(my, peer, CauseMarkDown)
	s.event(ec).markedDown = true
}

func (s *Sessions) event(ec EventConn) *eventState {
	st := s.events[ec]
	if st == nil {
		st = &eventState{}
		s.events[ec] = st
	}
	return st
}

// Opened reports a connect or accept event on connection ec (messenger nonce my, peer
// nonce peer): a used license of the session expires.
func (s *Sessions) Opened(ec EventConn, my, peer uint32) {
	s.orderedEvent(ec, "connect/accept")
	s.event(ec).opened = true
	s.knowPair(my, peer)
	if l := s.lic[makeNoncePair(my, peer)]; l != nil && l.used {
		delete(s.lic, makeNoncePair(my, peer))
	}
	if d := (dirPair{my, peer}); len(s.resetsTo[d]) > 0 {
		delete(s.resetsTo, d) // a RESETSESSION not read by now never will be: it opened since
	}
}

// orderedEvent checks that no event follows a connection's reset (event-order).
func (s *Sessions) orderedEvent(ec EventConn, what string) {
	s.evaluated(InvEventOrder)
	if st := s.events[ec]; st != nil && st.reset {
		s.violate(InvEventOrder, "messenger %d#%d conn %d: %s event after the connection's reset", ec.Msgr, ec.Inc, ec.Conn, what)
	}
}

// Reset attributes a reset (remote false) or remote_reset (remote true) event queued on
// connection ec of the messenger with nonce my, whose peer has nonce peer; lossy says the
// session's policy is lossy. It returns the cause, and whether it excuses the loss of what was
// sent on the session (false: a spurious reset, reported).
func (s *Sessions) Reset(ec EventConn, my, peer uint32, remote, lossy bool) (string, bool) {
	s.orderedEvent(ec, map[bool]string{false: "reset", true: "remote_reset"}[remote])
	st := s.event(ec)
	if !remote {
		st.reset = true
	}
	s.evaluated(InvSpuriousReset)
	cause := ""
	switch {
	case lossy:
		cause = CauseLossy
	case !remote && st.markedDown:
		cause = CauseMarkDown
	case !remote && !st.opened && s.steps[ec].accepted:
		cause = CauseNeverOpened
	case remote && len(s.resetsTo[dirPair{my, peer}]) > 0:
		// The remote_reset of a RESETSESSION it read: attributed as that RESETSESSION was when
		// it was written (and reported then if spurious), even if the session opened at both
		// ends in between and took the license with it (default seed 265395).
		d := dirPair{my, peer}
		q := s.resetsTo[d]
		cause = q[0]
		if s.resetsTo[d] = q[1:]; len(q) == 1 {
			delete(s.resetsTo, d)
		}
		if cause == causeNone {
			return causeNone, false
		}
	default:
		return s.attribute(my, peer, func(*halfConn) bool { return true }, func() string {
			return fmt.Sprintf("messenger %d#%d conn %d: %s of its lossless session with nonce %d between live incarnations: no crash, mark_down or msgr1 case accounts for it",
				ec.Msgr, ec.Inc, ec.Conn, map[bool]string{false: "reset", true: "remote_reset"}[remote], peer)
		})
	}
	s.causes[cause]++
	return cause, true
}

// attribute looks up the license of the session of my and peer: its cause, or a
// spurious-reset (described by detail) when there is none. halfOpen says whether a half-open
// connection of the session licenses the reset (CauseHalfOpen) when nothing else does.
func (s *Sessions) attribute(my, peer uint32, halfOpen func(h *halfConn) bool, detail func() string) (string, bool) {
	p := makeNoncePair(my, peer)
	l := s.lic[p]
	if l == nil && s.anyHalfOpen(p, halfOpen) {
		l = &license{cause: CauseHalfOpen}
		s.lic[p] = l
	}
	switch {
	case l == nil:
		s.violate(InvSpuriousReset, "%s", detail())
		s.lic[p] = &license{cause: causeNone}
		s.causes[causeNone]++
		return causeNone, false
	case l.cause == causeNone:
		return causeNone, false
	}
	l.used = true
	s.causes[l.cause]++
	return l.cause, true
}

// anyHalfOpen reports whether a half-open connection of session p satisfies ok.
func (s *Sessions) anyHalfOpen(p noncePair, ok func(h *halfConn) bool) bool {
	hs := s.halfOpen[p]
	for i := range hs {
		if ok(&hs[i]) {
			return true
		}
	}
	return false
}

// SetResetcheck tells the attribution whether the messenger with a nonce has resetcheck in
// its policy for peers of a type (nil, the default: it may have, and a RESETSESSION after an
// opening reply read is licensed).
func (s *Sessions) SetResetcheck(f func(nonce uint32, peer wire.EntityType) bool) { s.resetcheck = f }

// resetSessionWritten attributes a RESETSESSION the acceptor wrote on connection w.
func (s *Sessions) resetSessionWritten(w *wconn) {
	s.evaluated(InvSpuriousReset)
	answering, peer := w.end[1].nonce, w.end[0].nonce
	legacy := w.last.Features&wire.FeatureReconnectSeq == 0
	halfOpen := func(h *halfConn) bool {
		switch {
		case h.opener != peer || h.conn == w.id:
			return false // not the peer's half-open accept of a connect of ours
		case !h.told || legacy:
			return true
		}
		return s.resetcheck == nil || s.resetcheck(answering, w.last.HostType)
	}
	cause, _ := s.attribute(w.end[0].nonce, w.end[1].nonce, halfOpen, func() string {
		return fmt.Sprintf("conn %d: %v answered RESETSESSION to %v (connect_seq %d) between live incarnations: no crash, mark_down or msgr1 case accounts for it",
			w.id, w.addr[1], w.addr[0], w.last.ConnectSeq)
	})
	d := dirPair{to: w.end[0].nonce, from: w.end[1].nonce}
	s.resetsTo[d] = append(s.resetsTo[d], cause)
}

// Causes counts the attributed resets by cause ("unattributed": spurious ones).
func (s *Sessions) Causes() map[string]int { return s.causes }

// FormatCauses renders counts by cause, sorted by name: "crash=3 mark-down=1".
func FormatCauses(c map[string]int) string {
	names := make([]string, 0, len(c))
	for n := range c { //lint:ordered (sorted below)
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", n, c[n])
	}
	return b.String()
}
