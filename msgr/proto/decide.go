package proto

import "github.com/msgrsim/msgrsim/msgr/wire"

// Verdict is the kind of answer an acceptor gives to one connect message.
type Verdict uint8

// Verdicts.
const (
	// VerdictReply: write a reply with Decision.Tag and wait for another connect on this socket.
	VerdictReply Verdict = iota + 1
	// VerdictOpen: open a new session on this connection (reply READY or SEQ).
	VerdictOpen
	// VerdictReplace: the existing session takes this socket over (§3.5 replace). For a lossy
	// existing session the host stops it and the Decision it returns to the core is an Open.
	VerdictReplace
	// VerdictFault: drop this connection without a reply.
	VerdictFault
)

func (v Verdict) String() string {
	switch v {
	case VerdictReply:
		return "reply"
	case VerdictOpen:
		return "open"
	case VerdictReplace:
		return "replace"
	case VerdictFault:
		return "fault"
	}
	return "verdict?"
}

// Existing is a snapshot of the session already registered for the connecting peer's address,
// taken under that connection's lock.
type Existing struct {
	Present       bool // a connection is registered for the address
	IsSelf        bool // it is the connection asking (after a replace)
	Msgr2         bool // it speaks msgr2 (never, in this implementation)
	State         State
	Replacing     bool // it is in the middle of adopting a socket
	ConnectSeq    uint32
	PeerGlobalSeq uint32
	Lossy         bool // its policy is lossy
	Server        bool // its policy is server
	// ConnectUnheard: it wrote a connect and has read no reply since but an opening one
	// (READY, SEQ) it did not open the session with (Q17): the peer may have opened the
	// session from it.
	ConnectUnheard bool
}

// DecideInput is everything the accept decision depends on.
type DecideInput struct {
	Connect         wire.Connect
	Policy          Policy          // our policy for the peer's type
	ProtocolVersion uint32          // the protocol_version we expect (ProtocolVersion(…, false))
	AuthResult      int             // <0 rejected, 0 challenge, >0 accepted (auth none: 1)
	PeerAddr        wire.EntityAddr // the peer's announced legacy address
	MyAddr          wire.EntityAddr // our legacy address
	Replacing       bool            // the asking connection adopted this socket in a replace
	Existing        Existing
}

// Decision is the accept side's answer to one connect message.
type Decision struct {
	Verdict    Verdict
	Tag        wire.Tag // for VerdictReply
	GlobalSeq  uint32   // reply.global_seq (RETRY_GLOBAL)
	ConnectSeq uint32   // reply.connect_seq (RETRY_SESSION)
	// ResetExisting: session_reset the existing connection before it is replaced.
	ResetExisting bool
	// ResetFromPeer: the peer restarted (connect_seq 0 against a live session): open with
	// READY, not SEQ.
	ResetFromPeer bool
	// KeepaliveExisting: we won a connection race; poke our own outgoing connection.
	KeepaliveExisting bool
	// Rule names the row of the decision table that produced this decision (§3.2 numbering).
	Rule string
	// AuthReply is the authorizer of the reply (a challenge, or once the authorizer was
	// accepted the acceptor's proof, see AuthVerdict.Reply); Session signs the session an
	// Open decision opens. Decide sets neither: the host adds its ServerAuth's verdict (see
	// WithAuth).
	AuthReply []byte
	Session   Session
}

// WithAuth adds an authorizer verdict to a decision: the reply's authorizer goes with every
// reply but those decided before or by the authorizer check (BADPROTOVER, FEATURES,
// BADAUTHORIZER), and the session's signer with an open or a replace.
func (d Decision) WithAuth(v *AuthVerdict) Decision {
	switch d.Tag {
	case wire.TagBadProtoVer, wire.TagFeatures, wire.TagBadAuthorizer:
		if d.Verdict == VerdictReply {
			return d
		}
	}
	if d.Verdict == VerdictFault {
		return d
	}
	d.AuthReply = v.Reply
	if d.Verdict != VerdictReply {
		d.Session = v.Session
	}
	return d
}

func reply(tag wire.Tag, rule string) Decision {
	return Decision{Verdict: VerdictReply, Tag: tag, Rule: rule}
}

// Decide is the accept side's decision table (Ceph's handle_connect_message_2, in Ceph's
// order; msgr1-protocol.md §3.2). It is a pure function: the host takes the snapshot, calls
// Decide and carries out the side effects on the existing connection.
//
// Three of Ceph's quirks are not copied: Q6 (identical addresses in a race make Ceph assert;
// here the incoming connection is dropped), Q9 (an existing session busy reading a message is
// treated as open, not as a connection race) and Q11 (found by this project's rapid test): two
// lossless peers reconnecting to each other at once, each with a connect_seq below the other's
// outgoing one, answer each other RETRY_SESSION forever in Ceph — each retry raises the
// connector's connect_seq above the other's, so the next connect is stale again. Here, when
// the existing session is itself connecting (a race), the side whose outgoing connection wins
// the race by address order answers WAIT instead, as rule 8g does for equal connect_seqs; the
// other side still answers RETRY_SESSION, and the race ends with the winner's connection.
// Q12 (found by the test_msgr StatefulTest port over epoll): a registered session that is
// closed but not yet unregistered (Ceph's rule 8a: "existing CLOSED → open") made Ceph open a
// fresh session for a peer reconnecting with connect_seq > 0; the peer keeps its in_seq, so
// our first messages, numbered from 1 again, are dropped as old. Here a closed existing
// session counts as none (rule 9): connect_seq > 0 gets RESETSESSION. Q14 (found by the
// configuration swarm, peers without RECONNECT_SEQ): a legacy reconnect (connect_seq > 0, no
// RECONNECT_SEQ) to a never-opened session is answered RESETSESSION, not replaced (rule 8h).
// Q17 (found by the default sweep, seed 30690) extends it to every reconnect to a
// never-opened session, unless the peer may have opened the session from a connect of ours
// whose reply we never read (then it replaces, and a fault before the SEQ exchange forgets
// the session), and a connect_seq 0 connect to a standby session that never opened replaces
// it instead of answering RETRY_SESSION.
func Decide(in *DecideInput) Decision {
	c := &in.Connect
	if c.ProtocolVersion != in.ProtocolVersion {
		return reply(wire.TagBadProtoVer, "2 protocol version mismatch")
	}
	if in.Policy.FeaturesRequired&^c.Features != 0 {
		return reply(wire.TagFeatures, "4 missing required features")
	}
	switch {
	case in.AuthResult < 0:
		return reply(wire.TagBadAuthorizer, "5 authorizer rejected")
	case in.AuthResult == 0:
		return reply(wire.TagChallengeAuthorizer, "5 authorizer challenge")
	}
	if in.Policy.Server && in.Policy.Lossy && !in.Policy.RegisterLossyClients {
		return Decision{Verdict: VerdictOpen, Rule: "6 stateless server: open unregistered"}
	}
	ex := &in.Existing
	if !ex.Present || ex.IsSelf || ex.Msgr2 {
		return decideNoExisting(in)
	}
	return decideExisting(in)
}

func decideNoExisting(in *DecideInput) Decision {
	if !in.Replacing && in.Connect.ConnectSeq > 0 {
		return reply(wire.TagResetSession, "9 no session but connect_seq > 0: we reset")
	}
	return Decision{Verdict: VerdictOpen, Rule: "9 no existing session: open"}
}

func decideExisting(in *DecideInput) Decision {
	c, ex := &in.Connect, &in.Existing
	switch {
	case ex.State == StateClosed:
		if !in.Replacing && c.ConnectSeq > 0 {
			return reply(wire.TagResetSession, "8a existing closed, connect_seq > 0: we reset")
		}
		return Decision{Verdict: VerdictOpen, Rule: "8a existing closed: open"}
	case ex.Replacing:
		return Decision{Verdict: VerdictReply, Tag: wire.TagRetryGlobal, GlobalSeq: ex.PeerGlobalSeq,
			Rule: "8b existing replacing: retry global"}
	case c.GlobalSeq < ex.PeerGlobalSeq:
		return Decision{Verdict: VerdictReply, Tag: wire.TagRetryGlobal, GlobalSeq: ex.PeerGlobalSeq,
			Rule: "8c stale global_seq: retry global"}
	case ex.Lossy:
		return Decision{Verdict: VerdictReplace, ResetExisting: true, Rule: "8d existing lossy: reset and replace"}
	case c.ConnectSeq == 0 && ex.ConnectSeq > 0:
		return Decision{Verdict: VerdictReplace, ResetFromPeer: true, ResetExisting: in.Policy.Resetcheck,
			Rule: "8e peer restarted: replace"}
	case c.ConnectSeq < ex.ConnectSeq:
		if ex.State.connecting() && !ex.Server && wire.Compare(in.PeerAddr, in.MyAddr) > 0 {
			return Decision{Verdict: VerdictReply, Tag: wire.TagWait, KeepaliveExisting: true,
				Rule: "8f connection race with a stale connect_seq won by us: wait"}
		}
		return Decision{Verdict: VerdictReply, Tag: wire.TagRetrySession, ConnectSeq: ex.ConnectSeq + 1,
			Rule: "8f stale connect_seq: retry session"}
	case c.ConnectSeq == ex.ConnectSeq:
		return decideEqualConnectSeq(in)
	}
	if ex.ConnectSeq == 0 {
		switch {
		case in.Policy.Resetcheck:
			return reply(wire.TagResetSession, "8h reconnect to a never-opened session: reset")
		case c.Features&wire.FeatureReconnectSeq == 0:
			// Quirk Q14: a legacy reconnect (no SEQ exchange) to a session that never opened
			// here (we restarted with the same nonce, or the peer's session was half-open):
			// nothing tells us how far the peer read, so our messages, numbered from 1, would
			// be dropped as old. Ceph replaces; here the session is reset.
			return reply(wire.TagResetSession, "8h legacy reconnect to a never-opened session: reset")
		}
		// Quirk Q17: without resetcheck Ceph replaces, so a session that never opened here
		// takes over a session it never had (we restarted with the same nonce, or lost the
		// session), and when the socket fails before the open it reconnects with
		// connect_seq + 1 as if it continued the peer's session, whose in_seq, counted in
		// another numbering, drops its messages as old (and acknowledges them). A session
		// that never opened holds no session state: unless the peer may have opened the
		// session from a connect of ours whose reply we never read (then the session is the
		// one both ends share, and a reset would drop the peer's queue for nothing), it is
		// answered as no session is (rule 9): RESETSESSION. When it replaces, a fault before
		// the SEQ exchange completes forgets the session (fault.go).
		if ex.ConnectUnheard {
			return Decision{Verdict: VerdictReplace, Rule: "8h reconnect to a never-opened session our connect may have opened: replace"}
		}
		return reply(wire.TagResetSession, "8h reconnect to a never-opened session without resetcheck: reset")
	}
	return Decision{Verdict: VerdictReplace, Rule: "8h reconnect: replace"}
}

func decideEqualConnectSeq(in *DecideInput) Decision {
	ex := &in.Existing
	if ex.State.open() || ex.State == StateStandby {
		if in.Policy.Resetcheck && ex.ConnectSeq == 0 {
			return Decision{Verdict: VerdictReplace, Rule: "8g open session with connect_seq 0: replace"}
		}
		if ex.ConnectSeq == 0 {
			// Quirk Q17: a session that never opened (standby after a fault while adopting a
			// socket) has nothing to retry: RETRY_SESSION's reconnect would be reset (rule
			// 8h, or Q14's legacy reset), the connector would come back with connect_seq 0,
			// and the two would alternate for as long as the session stays standby. Ceph's
			// resetcheck row above replaces; so does this one.
			return Decision{Verdict: VerdictReplace, Rule: "8g standby session that never opened: replace"}
		}
		return Decision{Verdict: VerdictReply, Tag: wire.TagRetrySession, ConnectSeq: ex.ConnectSeq + 1,
			Rule: "8g session open: retry session"}
	}
	cmp := wire.Compare(in.PeerAddr, in.MyAddr)
	switch {
	case cmp < 0 || ex.Server:
		return Decision{Verdict: VerdictReplace, Rule: "8g connection race won by the peer: replace"}
	case cmp == 0:
		return Decision{Verdict: VerdictFault, Rule: "8g connection race between identical addresses: drop"}
	}
	return Decision{Verdict: VerdictReply, Tag: wire.TagWait, KeepaliveExisting: true,
		Rule: "8g connection race won by us: wait"}
}
