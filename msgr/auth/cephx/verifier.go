package cephx

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Verdict is what a service answers an authorizer with.
type Verdict int

// Verdicts, in the order of msgr.Auth's Verify convention (< 0, 0, > 0).
const (
	Reject    Verdict = -1 // BADAUTHORIZER
	Challenge Verdict = 0  // CHALLENGE_AUTHORIZER: send the reply, expect the authorizer again
	Accept    Verdict = 1  // READY or SEQ, with the reply as the connect reply's authorizer
)

// String names the verdict after the connect reply tag it leads to.
func (v Verdict) String() string {
	switch v {
	case Reject:
		return "BADAUTHORIZER"
	case Challenge:
		return "CHALLENGE_AUTHORIZER"
	case Accept:
		return "accept"
	}
	return fmt.Sprintf("verdict(%d)", int(v))
}

// Peer is what a verified authorizer says about the peer.
type Peer struct {
	Ticket     Ticket // entity name, global id, caps, validity
	SessionKey Key    // shared with the peer; signs the session's messages
}

// ConnVerifier verifies the authorizers one incoming connection presents (the service side
// of cephx_verify_authorizer and the msgr1 challenge round of AuthServer::handle_auth_request).
// It is a small state machine, one per connection: with challenges on (the peer has
// CEPHX_V2), the first authorizer is answered with a fresh random challenge, and only an
// authorizer that proves it (challenge + 1, encrypted with the ticket's session key) is
// accepted; a second authorizer that fails is rejected and the state starts over. An
// authorizer recorded from another connection therefore cannot be replayed: it answers
// another challenge, or none. As in Ceph, the ticket's expiry is not checked: a ticket stops
// working when the secret it was sealed with rotates out of the daemon's ServiceKeys. Not
// safe for concurrent use.
type ConnVerifier struct {
	keys       KeyStore
	rand       io.Reader
	challenges bool

	pending   bool // a challenge was sent and not yet answered
	challenge uint64
}

// NewConnVerifier returns a verifier for one connection. challenges says whether to run the
// CEPHX_V2 challenge round (Ceph skips it only when the peer lacks CEPHX_V2); rand draws the
// challenges.
func NewConnVerifier(keys KeyStore, rand io.Reader, challenges bool) *ConnVerifier {
	return &ConnVerifier{keys: keys, rand: rand, challenges: challenges}
}

// Verify checks one authorizer. It returns the verdict, the bytes to put in the connect
// reply's authorizer (the encrypted challenge for Challenge, the encrypted reply for Accept,
// nothing for Reject), what the ticket says about the peer (for Accept), and for Reject an
// error wrapping ErrBadAuthorizer that says why.
func (v *ConnVerifier) Verify(authorizer []byte) (Verdict, []byte, Peer, error) {
	verdict, reply, peer, err := v.verify(authorizer)
	if verdict != Challenge {
		v.pending = false // accepted, or failed: a new connect round starts over
	}
	return verdict, reply, peer, err
}

func (v *ConnVerifier) verify(authorizer []byte) (Verdict, []byte, Peer, error) {
	info, auth, err := OpenAuthorizer(authorizer, v.keys)
	if err != nil {
		return Reject, nil, Peer{}, err
	}
	peer := Peer(info)
	if v.challenges {
		if !auth.HaveChallenge || !v.pending {
			if v.pending {
				return Reject, nil, Peer{}, fmt.Errorf("%w: the challenge was not answered", ErrBadAuthorizer)
			}
			return v.newChallenge(info.SessionKey)
		}
		if auth.ServerChallengePlusOne != v.challenge+1 {
			return Reject, nil, Peer{}, fmt.Errorf("%w: wrong answer to the challenge", ErrBadAuthorizer)
		}
	}
	reply, err := SealAuthorizeReply(info.SessionKey, auth.Nonce)
	if err != nil {
		return Reject, nil, Peer{}, err
	}
	return Accept, reply, peer, nil
}

func (v *ConnVerifier) newChallenge(sessionKey Key) (Verdict, []byte, Peer, error) {
	var b [8]byte
	if _, err := io.ReadFull(v.rand, b[:]); err != nil {
		return Reject, nil, Peer{}, fmt.Errorf("cephx: draw a challenge: %w", err)
	}
	c := binary.LittleEndian.Uint64(b[:])
	blob, err := Seal(sessionKey, appendChallenge(nil, c))
	if err != nil {
		return Reject, nil, Peer{}, err
	}
	v.pending, v.challenge = true, c
	return Challenge, blob, Peer{}, nil
}

// OpenAuthorizer decodes an authorizer, finds the secret its ticket was sealed with, opens
// the ticket, checks that the global id it declares is the ticket's, and opens the
// CephXAuthorize with the ticket's session key. It checks no challenge: that is
// ConnVerifier's job. Errors wrap ErrBadAuthorizer.
func OpenAuthorizer(authorizer []byte, keys KeyStore) (ServiceTicketInfo, Authorize, error) {
	a, err := DecodeAuthorizer(authorizer)
	if err != nil {
		return ServiceTicketInfo{}, Authorize{}, fmt.Errorf("%w: %w", ErrBadAuthorizer, err)
	}
	return openAuthorizer(&a, keys)
}

func openAuthorizer(a *Authorizer, keys KeyStore) (ServiceTicketInfo, Authorize, error) {
	fail := func(format string, args ...any) (ServiceTicketInfo, Authorize, error) {
		return ServiceTicketInfo{}, Authorize{}, fmt.Errorf("%w: %s", ErrBadAuthorizer, fmt.Sprintf(format, args...))
	}
	if len(a.Ticket.Blob) == 0 {
		return fail("empty ticket for %s", serviceName(a.Service))
	}
	secret, ok := keys.Secret(a.Service, a.Ticket.SecretID)
	if !ok {
		return fail("no secret %d for service %s", int64(a.Ticket.SecretID), serviceName(a.Service))
	}
	info, err := OpenTicket(a.Ticket, secret)
	if err != nil {
		return fail("ticket for %s: %v", serviceName(a.Service), err)
	}
	if info.Ticket.GlobalID != a.GlobalID {
		return fail("global id %d declared, ticket is for %d", a.GlobalID, info.Ticket.GlobalID)
	}
	auth, err := decodeSealed(info.SessionKey, a.Sealed, "CephXAuthorize", func(d *decoder) Authorize { return d.authorize() })
	if err != nil {
		return fail("%v", err)
	}
	return info, auth, nil
}

// SealAuthorizeReply builds the service's reply to an accepted authorizer: a length-prefixed
// envelope holding CephXAuthorizeReply with nonce + 1.
func SealAuthorizeReply(sessionKey Key, nonce uint64) ([]byte, error) {
	e := encoder{}
	e.authorizeReply(&AuthorizeReply{NoncePlusOne: nonce + 1})
	return AppendSealed(nil, sessionKey, e.b)
}
