package cephx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// An authorizer proves to a service that its holder has a ticket for it (CephXAuthorizer):
//
//	u8 struct_v 1 (which doubles as AUTH_MODE_AUTHORIZER), le64 global_id, le32 service_id,
//	CephXTicketBlob, then a length-prefixed envelope, encrypted with the ticket's session
//	key, holding CephXAuthorize: u8 struct_v 2, le64 nonce, u8 have_challenge,
//	le64 server_challenge + 1.
//
// With CEPHX_V2 the service answers the first authorizer with a challenge (an envelope
// without length prefix holding CephXAuthorizeChallenge: u8 struct_v 1, le64 challenge) and
// the client sends the same authorizer again with have_challenge set and the challenge plus
// one. The service accepts with a length-prefixed envelope holding CephXAuthorizeReply: u8
// struct_v 1 (2 when a connection secret follows), le64 nonce + 1.

// Errors of the authorizer exchange.
var (
	// ErrBadAuthorizer: an authorizer or its reply does not verify (wrong key or ticket,
	// unknown secret, mismatched global id, wrong nonce or challenge answer).
	ErrBadAuthorizer = errors.New("cephx: bad authorizer")
)

// Authorizer is a decoded authorizer. Sealed is the encrypted CephXAuthorize, opened with the
// ticket's session key once the ticket is decrypted.
type Authorizer struct {
	GlobalID uint64
	Service  uint32
	Ticket   TicketBlob
	Sealed   []byte
}

func (d *decoder) authorizer() Authorizer {
	d.version("authorizer.struct_v", 1, 1)
	a := Authorizer{
		GlobalID: d.u64("authorizer.global_id"),
		Service:  d.u32("authorizer.service_id"),
		Ticket:   d.ticketBlob(),
		Sealed:   d.bytes("authorizer.CephXAuthorize"),
	}
	return a
}

// AppendEncoded appends the authorizer: its plain part, then Sealed with its length prefix.
func (a *Authorizer) AppendEncoded(dst []byte) []byte {
	e := encoder{b: dst}
	e.u8(1)
	e.u64(a.GlobalID)
	e.u32(a.Service)
	e.ticketBlob(&a.Ticket)
	e.bytes(a.Sealed)
	return e.b
}

// DecodeAuthorizer decodes an authorizer that fills b exactly; byte slices alias b.
func DecodeAuthorizer(b []byte) (Authorizer, error) {
	d := newDecoder(b, "CephXAuthorizer")
	a := d.authorizer()
	if err := d.finish(); err != nil {
		return Authorizer{}, err
	}
	return a, nil
}

// Authorize is CephXAuthorize, the encrypted part of an authorizer.
type Authorize struct {
	Nonce                  uint64
	HaveChallenge          bool
	ServerChallengePlusOne uint64
}

func (e *encoder) authorize(a *Authorize) {
	e.u8(2)
	e.u64(a.Nonce)
	e.bool(a.HaveChallenge)
	e.u64(a.ServerChallengePlusOne)
}

func (d *decoder) authorize() Authorize {
	v := d.version("CephXAuthorize.struct_v", 1, 2)
	a := Authorize{Nonce: d.u64("nonce")}
	if v >= 2 {
		a.HaveChallenge = d.bool("have_challenge")
		a.ServerChallengePlusOne = d.u64("server_challenge_plus_one")
	}
	return a
}

// AppendEncoded appends the plaintext of a CephXAuthorize (struct_v 2).
func (a *Authorize) AppendEncoded(dst []byte) []byte {
	e := encoder{b: dst}
	e.authorize(a)
	return e.b
}

// DecodeAuthorize decodes a CephXAuthorize plaintext (struct_v 1 or 2) that fills b exactly.
func DecodeAuthorize(b []byte) (Authorize, error) {
	d := newDecoder(b, "CephXAuthorize")
	a := d.authorize()
	if err := d.finish(); err != nil {
		return Authorize{}, err
	}
	return a, nil
}

// AuthorizeReply is CephXAuthorizeReply. ConnectionSecret is empty on msgr1.
type AuthorizeReply struct {
	NoncePlusOne     uint64
	ConnectionSecret []byte
}

func (e *encoder) authorizeReply(r *AuthorizeReply) {
	if len(r.ConnectionSecret) == 0 {
		e.u8(1)
		e.u64(r.NoncePlusOne)
		return
	}
	e.u8(2)
	e.u64(r.NoncePlusOne)
	e.bytes(r.ConnectionSecret)
}

func (d *decoder) authorizeReply() AuthorizeReply {
	v := d.version("CephXAuthorizeReply.struct_v", 1, 2)
	r := AuthorizeReply{NoncePlusOne: d.u64("nonce_plus_one")}
	if v >= 2 {
		r.ConnectionSecret = d.bytes("connection_secret")
	}
	return r
}

// AppendEncoded appends the plaintext of a CephXAuthorizeReply (struct_v 1, or 2 with a
// connection secret).
func (r *AuthorizeReply) AppendEncoded(dst []byte) []byte {
	e := encoder{b: dst}
	e.authorizeReply(r)
	return e.b
}

// DecodeAuthorizeReplyPlain decodes a CephXAuthorizeReply plaintext that fills b exactly.
func DecodeAuthorizeReplyPlain(b []byte) (AuthorizeReply, error) {
	d := newDecoder(b, "CephXAuthorizeReply")
	r := d.authorizeReply()
	if err := d.finish(); err != nil {
		return AuthorizeReply{}, err
	}
	return r, nil
}

// DecodeChallengePlain decodes a CephXAuthorizeChallenge (or CephXServerChallenge: the same
// layout) plaintext that fills b exactly.
func DecodeChallengePlain(b []byte) (uint64, error) {
	d := newDecoder(b, "CephXAuthorizeChallenge")
	c := d.challenge()
	if err := d.finish(); err != nil {
		return 0, err
	}
	return c, nil
}

func (d *decoder) challenge() uint64 {
	d.version("challenge.struct_v", 1, 1)
	return d.u64("server_challenge")
}

func appendChallenge(dst []byte, c uint64) []byte {
	e := encoder{b: dst}
	e.u8(1)
	e.u64(c)
	return e.b
}

// ClientAuthorizer is the client's side of one authorizer exchange with a service
// (CephXAuthorizer): the bytes to put in ceph_msg_connect, and what is needed to answer a
// challenge and to check the service's reply.
type ClientAuthorizer struct {
	Service    uint32
	SessionKey Key // the ticket's session key; a signed session uses it
	Nonce      uint64
	base       []byte // everything before the encrypted CephXAuthorize
	bytes      []byte
}

// NewAuthorizer builds an authorizer for the ticket a client holds for a service
// (CephXTicketHandler::build_authorizer), with a nonce drawn from rand.
func NewAuthorizer(globalID uint64, service uint32, ticket TicketBlob, sessionKey Key, rand io.Reader) (*ClientAuthorizer, error) {
	var nb [8]byte
	if _, err := io.ReadFull(rand, nb[:]); err != nil {
		return nil, fmt.Errorf("cephx: draw an authorizer nonce: %w", err)
	}
	e := encoder{}
	e.u8(1)
	e.u64(globalID)
	e.u32(service)
	e.ticketBlob(&ticket)
	a := &ClientAuthorizer{Service: service, SessionKey: sessionKey, Nonce: binary.LittleEndian.Uint64(nb[:]), base: e.b}
	if err := a.seal(Authorize{Nonce: a.Nonce}); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *ClientAuthorizer) seal(m Authorize) error {
	e := encoder{}
	e.authorize(&m)
	b, err := AppendSealed(append([]byte(nil), a.base...), a.SessionKey, e.b)
	if err != nil {
		return fmt.Errorf("cephx: encrypt the authorizer for %s: %w", serviceName(a.Service), err)
	}
	a.bytes = b
	return nil
}

// Bytes is the authorizer to send (after AddChallenge, the answer to the challenge).
func (a *ClientAuthorizer) Bytes() []byte { return a.bytes }

// AddChallenge reads the service's challenge (the authorizer of a CHALLENGE_AUTHORIZER connect
// reply) and rebuilds the authorizer to answer it with the challenge plus one
// (CephXAuthorizer::add_challenge). An empty challenge rebuilds the plain authorizer.
func (a *ClientAuthorizer) AddChallenge(challenge []byte) error {
	m := Authorize{Nonce: a.Nonce}
	if len(challenge) > 0 {
		c, err := decodeSealed(a.SessionKey, challenge, "CephXAuthorizeChallenge",
			func(d *decoder) uint64 { return d.challenge() })
		if err != nil {
			return fmt.Errorf("%w: challenge from %s: %w", ErrBadAuthorizer, serviceName(a.Service), err)
		}
		m.HaveChallenge, m.ServerChallengePlusOne = true, c+1
	}
	return a.seal(m)
}

// VerifyReply checks the service's reply (the authorizer of the READY or SEQ connect reply):
// it must decrypt with the session key and carry the nonce plus one
// (CephXAuthorizer::verify_reply). It returns the connection secret, empty on msgr1.
func (a *ClientAuthorizer) VerifyReply(reply []byte) ([]byte, error) {
	d := newDecoder(reply, "CephXAuthorizeReply")
	r := openInto(d, "reply", a.SessionKey, func(in *decoder) AuthorizeReply { return in.authorizeReply() })
	if err := d.finish(); err != nil {
		return nil, fmt.Errorf("%w: reply from %s: %w", ErrBadAuthorizer, serviceName(a.Service), err)
	}
	if r.NoncePlusOne != a.Nonce+1 {
		return nil, fmt.Errorf("%w: reply from %s has nonce+1 %#x, want %#x", ErrBadAuthorizer,
			serviceName(a.Service), r.NoncePlusOne, a.Nonce+1)
	}
	return r.ConnectionSecret, nil
}
