package proto

import (
	"errors"
	"fmt"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Authentication in the msgr1 handshake (Ceph's AuthClient/AuthServer for ProtocolV1): the
// connector puts an authorizer in its connect message; the acceptor verifies it and answers
// BADAUTHORIZER, CHALLENGE_AUTHORIZER (with a challenge in the reply's authorizer: the
// connector answers it in its next connect message) or opens the session, the reply's
// authorizer then carrying the acceptor's proof. A session opened with a signing scheme
// (cephx) signs every message it writes and checks every message it reads before delivery.
//
// The core never looks inside the blobs: ClientAuth, ServerAuth and Session do, and an
// implementation that draws randomness must draw it from the Host's source (the simulator
// replays it).

// Session signs and checks the messages of an authenticated session (Ceph's
// AuthSessionHandler). A nil Session signs and checks nothing.
type Session interface {
	// Sign sets the footer's signature of a message about to be written, whose header crc,
	// seq and footer crcs are final; features are the session's negotiated features.
	Sign(m *wire.Message, features uint64) error
	// Check verifies a received message's signature before it is delivered. An error faults
	// the connection and the message is dropped; it should wrap ErrBadSignature.
	Check(m *wire.Message, features uint64) error
}

// ClientAuth is the connector's side of the authorizer exchange of one connection attempt.
// The core asks the Host for one when it sends its first connect message on a socket, keeps it
// across the RETRY_*, RESETSESSION and CHALLENGE_AUTHORIZER rounds on that socket (the
// answer to a challenge is resent, as Ceph does), and drops it when the socket goes.
type ClientAuth interface {
	// Authorizer is the protocol and blob for the next connect message.
	Authorizer() (protocol uint32, blob []byte)
	// Challenge reads the authorizer of a CHALLENGE_AUTHORIZER reply; the next Authorizer
	// answers it. An error faults the connection.
	Challenge(challenge []byte) error
	// Done checks the authorizer of any other reply (empty when the acceptor sent none) and
	// returns the session's signer, nil for an unsigned session. An error faults the
	// connection: the acceptor did not prove who it is.
	Done(reply []byte) (Session, error)
}

// AuthVerdict is an acceptor's verdict on one authorizer.
type AuthVerdict struct {
	// Result: < 0 rejects (BADAUTHORIZER), 0 challenges (CHALLENGE_AUTHORIZER), > 0 accepts.
	Result int
	// Reply is the authorizer of the connect reply: the challenge, or once accepted the
	// acceptor's proof, sent with READY/SEQ and with every RETRY_*, RESETSESSION or WAIT
	// that follows on the socket (as Ceph does).
	Reply []byte
	// Session signs the session once it opens (nil: unsigned).
	Session Session
	// Reason says why an authorizer was rejected or challenged (for logs and traces).
	Reason error
}

// ServerAuth verifies the authorizers presented on one accepted socket: challenge state
// lives across the connect rounds on the socket.
type ServerAuth interface {
	Verify(peer wire.EntityType, protocol uint32, authorizer []byte, features uint64) AuthVerdict
}

// Errors of the authorizer exchange and of signed sessions (wrapped with context).
var (
	// ErrAuth: the acceptor's authorizer reply or challenge did not verify, or it challenged
	// too many times in a row.
	ErrAuth = errors.New("msgr1: authentication failed")
	// ErrBadSignature: a received message's signature does not match its contents; nothing
	// was delivered.
	ErrBadSignature = errors.New("msgr1: bad message signature")
)

// maxChallenges bounds the CHALLENGE_AUTHORIZER replies one connection attempt answers: Ceph
// has no bound, and a hostile acceptor could keep a connector busy forever.
const maxChallenges = 3

// newClientAuth starts the authorizer exchange for a connection attempt.
func (c *Conn) newClientAuth() {
	c.clientAuth = c.host.ClientAuth(c.peerType)
	c.challenges = 0
}

// handleChallenge answers a CHALLENGE_AUTHORIZER with the next connect message.
func (c *Conn) handleChallenge() error {
	c.challenges++
	if c.challenges > maxChallenges {
		return fmt.Errorf("%w: %d authorizer challenges in a row", ErrAuth, c.challenges)
	}
	if err := c.clientAuth.Challenge(c.authorizer); err != nil {
		return fmt.Errorf("%w: %w", ErrAuth, err)
	}
	c.sendConnect()
	return nil
}

// verifyReplyAuthorizer checks the authorizer of a non-challenge reply and keeps the
// session's signer for when the session opens.
func (c *Conn) verifyReplyAuthorizer() error {
	s, err := c.clientAuth.Done(c.authorizer)
	if err != nil {
		return fmt.Errorf("%w: %v reply: %w", ErrAuth, c.reply.Tag, err)
	}
	c.pendingSession = s
	return nil
}

// sign signs a message about to be written on a signed session.
func (c *Conn) sign(m *wire.Message) {
	if c.session != nil { // inlined: a check on an unsigned session
		c.signSession(m)
	}
}

// signSession is sign on a signed session (not inlined, so that sign is).
//
//go:noinline
func (c *Conn) signSession(m *wire.Message) {
	if err := c.session.Sign(m, c.features); err != nil {
		// Signing fails only when the key is unusable, which the handshake would have found:
		// the peer will refuse the message and fault the session.
		m.Footer.Sig = 0
	}
}

// checkSignature verifies a received message on a signed session.
func (c *Conn) checkSignature(m *wire.Message) error {
	if c.session == nil { // inlined: a check on an unsigned session
		return nil
	}
	return c.checkSession(m)
}

// checkSession is checkSignature on a signed session.
func (c *Conn) checkSession(m *wire.Message) error {
	if canaryNoSigCheck() {
		return nil
	}
	if err := c.session.Check(m, c.features); err != nil {
		return fmt.Errorf("%w: seq %d type %d: %w", ErrBadSignature, m.Header.Seq, m.Header.Type, err)
	}
	return nil
}

// Signed reports whether the open session signs its messages.
func (c *Conn) Signed() bool { return c.session != nil }
