package proto

import (
	"strconv"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Probe names a rare path of the protocol (a reachability goal, as FoundationDB's CODE_PROBE
// and Antithesis' Sometimes): the code reports it each time the path runs, so that a
// simulator can tell whether a sweep ever exercised it. A probe is a counter hit, never a
// decision: it changes nothing the connection does.
type Probe uint8

// Probes. The accept-decision probes (race, lossy replace) are reported by the messenger,
// which carries out the decision; the rest by the Conn.
const (
	ProbeNone Probe = iota

	// Connection races (§3.2 rule 8g, and 8f for quirk Q11).
	ProbeRaceWonWait         // acceptor won a connection race by address order: answered WAIT
	ProbeRaceWonWaitStale    // acceptor won a race against a stale connect_seq (Q11): answered WAIT
	ProbeRaceLostReplace     // acceptor lost a race: its connecting session adopts the winner's socket
	ProbeRaceWaitReplaced    // a session waiting after WAIT was taken over by the winner's connection
	ProbeRaceWaitReconnect   // a connector that read WAIT reconnected itself after its backoff
	ProbeReplaceLossy        // 8d: a lossy session replaced (stopped, a new one opened)
	ProbeReplaceLosslessPeer // a lossless_peer session adopted a new socket
	ProbeReplacePeerReuse    // a lossless_peer_reuse session adopted a new socket
	ProbeReplaceStateful     // a stateful_server session adopted a new socket
	ProbeReplaceClient       // a lossless_client session adopted a new socket
	ProbeReplacePeerRestart  // 8e: a session adopted the socket of a peer that restarted
	ProbeReplaceAfterRestart // a replace on a session that already went through an 8e replace
	ProbeReplaceRetryOpen    // an adopted session opened after its RETRY_GLOBAL was retried

	// Connect-reply tags a connector read (§2.3).
	ProbeReplyReady
	ProbeReplySeq
	ProbeReplyWait
	ProbeReplyRetrySession
	ProbeReplyRetryGlobal
	ProbeReplyResetSession
	ProbeReplyFeatures
	ProbeReplyBadProtoVer
	ProbeReplyBadAuthorizer
	ProbeReplyChallenge

	// Messages across a reconnect (§5).
	ProbeResend     // a session opened with unacknowledged messages to send again
	ProbeSeqDiscard // the SEQ exchange said the peer had some of them: they were dropped
	ProbeOldMessage // a message with seq <= in_seq arrived (a legacy resend) and was dropped
	ProbeSendWakes  // a message queued on a STANDBY session made it reconnect
	ProbeKeepaliveWakes

	// Throttles, backoff and timeouts.
	ProbeThrottleMessages // a received message waited for the policy's message throttle
	ProbeThrottleBytes    // … for the policy's byte throttle
	ProbeThrottleDispatch // … for the messenger's dispatch throttle
	ProbeBackoffCap       // the reconnect backoff doubled up to ms_max_backoff
	ProbeHandshakeTimeout // the session did not open within the ready timeout
	ProbeIdleTimeout      // nothing was read or written for the idle timeout

	NumProbes
)

var probeNames = [NumProbes]string{
	ProbeNone:                "none",
	ProbeRaceWonWait:         "race-won-wait",
	ProbeRaceWonWaitStale:    "race-won-wait-stale",
	ProbeRaceLostReplace:     "race-lost-replace",
	ProbeRaceWaitReplaced:    "race-wait-replaced",
	ProbeRaceWaitReconnect:   "race-wait-reconnect",
	ProbeReplaceLossy:        "replace-lossy",
	ProbeReplaceLosslessPeer: "replace-lossless-peer",
	ProbeReplacePeerReuse:    "replace-lossless-peer-reuse",
	ProbeReplaceStateful:     "replace-stateful-server",
	ProbeReplaceClient:       "replace-lossless-client",
	ProbeReplacePeerRestart:  "replace-peer-restart",
	ProbeReplaceAfterRestart: "replace-after-peer-restart",
	ProbeReplaceRetryOpen:    "replace-retry-global-open",
	ProbeReplyReady:          "reply-ready",
	ProbeReplySeq:            "reply-seq",
	ProbeReplyWait:           "reply-wait",
	ProbeReplyRetrySession:   "reply-retry-session",
	ProbeReplyRetryGlobal:    "reply-retry-global",
	ProbeReplyResetSession:   "reply-resetsession",
	ProbeReplyFeatures:       "reply-features",
	ProbeReplyBadProtoVer:    "reply-badprotover",
	ProbeReplyBadAuthorizer:  "reply-badauthorizer",
	ProbeReplyChallenge:      "reply-challenge-authorizer",
	ProbeResend:              "resend-after-reconnect",
	ProbeSeqDiscard:          "seq-exchange-discard",
	ProbeOldMessage:          "old-message-dropped",
	ProbeSendWakes:           "send-wakes-standby",
	ProbeKeepaliveWakes:      "keepalive-wakes-standby",
	ProbeThrottleMessages:    "throttle-stall-messages",
	ProbeThrottleBytes:       "throttle-stall-bytes",
	ProbeThrottleDispatch:    "throttle-stall-dispatch",
	ProbeBackoffCap:          "backoff-cap",
	ProbeHandshakeTimeout:    "timeout-handshake",
	ProbeIdleTimeout:         "timeout-idle",
}

func (p Probe) String() string {
	if p < NumProbes {
		return probeNames[p]
	}
	return "probe(" + strconv.Itoa(int(p)) + ")"
}

// AllProbes lists every probe (ProbeNone excluded) in declaration order.
func AllProbes() []Probe {
	ps := make([]Probe, 0, NumProbes-1)
	for p := ProbeNone + 1; p < NumProbes; p++ {
		ps = append(ps, p)
	}
	return ps
}

// ParseProbe returns the probe called name.
func ParseProbe(name string) (Probe, bool) {
	for p := ProbeNone + 1; p < NumProbes; p++ {
		if probeNames[p] == name {
			return p, true
		}
	}
	return ProbeNone, false
}

// Reacher is an optional extension of Host: a Host that implements it is told each time the
// connection runs a rare path (Probe). The core checks for it once, when the Conn is created;
// without it a probe costs one nil check. Production hosts do not implement it.
type Reacher interface {
	Reached(p Probe)
}

// reached reports p to the host's Reacher, if it has one.
func (c *Conn) reached(p Probe) {
	if c.reach != nil && p != ProbeNone {
		c.reach.Reached(p)
	}
}

// replyProbes maps a connect-reply tag to its probe.
var replyProbes = [...]Probe{
	wire.TagReady: ProbeReplyReady, wire.TagSeq: ProbeReplySeq, wire.TagWait: ProbeReplyWait,
	wire.TagRetrySession: ProbeReplyRetrySession, wire.TagRetryGlobal: ProbeReplyRetryGlobal,
	wire.TagResetSession: ProbeReplyResetSession, wire.TagFeatures: ProbeReplyFeatures,
	wire.TagBadProtoVer: ProbeReplyBadProtoVer, wire.TagBadAuthorizer: ProbeReplyBadAuthorizer,
	wire.TagChallengeAuthorizer: ProbeReplyChallenge,
}

// replyProbe is the probe of reply tag t (ProbeNone for a tag that is no reply).
func replyProbe(t wire.Tag) Probe {
	if int(t) < len(replyProbes) {
		return replyProbes[t]
	}
	return ProbeNone
}

// replaceProbe is the probe of a lossless session of policy p adopting a new socket.
func replaceProbe(p Policy) Probe {
	switch {
	case p.Server:
		return ProbeReplaceStateful
	case p.Standby && p.Resetcheck:
		return ProbeReplacePeerReuse
	case p.Standby:
		return ProbeReplaceLosslessPeer
	}
	return ProbeReplaceClient
}

// throttleProbe is the probe of a received message stalling in throttle state s.
func throttleProbe(s State) Probe {
	switch s {
	case StateThrottleMessage:
		return ProbeThrottleMessages
	case StateThrottleBytes:
		return ProbeThrottleBytes
	}
	return ProbeThrottleDispatch
}

// reachedAdopt reports the probes of this session adopting a new socket (Adopt): the replace
// by the session's policy, a peer restart, and a replace after an earlier peer-restart one.
func (c *Conn) reachedAdopt(resetFromPeer bool) {
	if c.reach == nil {
		return
	}
	c.reached(replaceProbe(c.policy))
	if c.restartAdopt {
		c.reached(ProbeReplaceAfterRestart)
	}
	if resetFromPeer {
		c.restartAdopt = true
		c.reached(ProbeReplacePeerRestart)
	}
}

// DecisionProbe is the probe of an accept decision d taken for in, if any: a race won (WAIT,
// against an equal or a stale connect_seq), a race lost (the existing session, itself in a
// handshake, is replaced by the peer's), a lossy session replaced. The messenger that
// carries out the decision reports it.
func DecisionProbe(in *DecideInput, d Decision) Probe {
	ex := &in.Existing
	switch {
	case d.Verdict == VerdictReply && d.Tag == wire.TagWait:
		if in.Connect.ConnectSeq < ex.ConnectSeq {
			return ProbeRaceWonWaitStale
		}
		return ProbeRaceWonWait
	case d.Verdict != VerdictReplace:
		return ProbeNone
	case ex.Lossy:
		return ProbeReplaceLossy
	case in.Connect.ConnectSeq != ex.ConnectSeq || ex.State.open() || ex.State == StateStandby:
		return ProbeNone
	}
	return ProbeRaceLostReplace
}
