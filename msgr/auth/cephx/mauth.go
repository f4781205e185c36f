package cephx

import (
	"fmt"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The cephx payloads of MAuth (client to monitor, protocol 2) and MAuthReply (result_bl).
//
// A request is le16 request_type, then:
//
//	CEPHX_GET_AUTH_SESSION_KEY       CephXAuthenticate: u8 struct_v 3, le64 client_challenge,
//	                                 le64 key (the proof), CephXTicketBlob old_ticket,
//	                                 le32 other_keys (struct_v >= 2)
//	CEPHX_GET_PRINCIPAL_SESSION_KEY  an authorizer for the auth service, then
//	                                 CephXServiceTicketRequest: u8 struct_v 1, le32 keys
//	CEPHX_GET_ROTATING_KEY           nothing
//
// The monitor's first reply carries CephXServerChallenge (u8 struct_v 1, le64 challenge);
// later replies start with CephXResponseHeader (le16 request_type, le32 status), then:
//
//	CEPHX_GET_AUTH_SESSION_KEY       a service ticket reply for the auth service, encrypted
//	                                 with the client's key; when the request had other_keys:
//	                                 bufferlist (an envelope with the connection secret, empty
//	                                 on msgr1) and bufferlist (a service ticket reply for the
//	                                 other keys, encrypted with the new session key)
//	CEPHX_GET_PRINCIPAL_SESSION_KEY  a service ticket reply encrypted with the session key
//	CEPHX_GET_ROTATING_KEY           an envelope with RotatingSecrets, encrypted with the
//	                                 client's key

// Request types (CEPHX_GET_*).
const (
	GetAuthSessionKey      uint16 = 0x0100
	GetPrincipalSessionKey uint16 = 0x0200
	GetRotatingKey         uint16 = 0x0400
)

// Authenticate is CephXAuthenticate.
type Authenticate struct {
	Version         uint8 // 3 (Ceph requires an old ticket to reclaim a global id from v3 on)
	ClientChallenge uint64
	Key             uint64 // the proof, see ClientProof
	OldTicket       TicketBlob
	OtherKeys       uint32 // services to get tickets for at once (struct_v >= 2)
}

// Request is the cephx payload of an MAuth.
type Request struct {
	Type         uint16
	Authenticate Authenticate // GetAuthSessionKey
	Authorizer   Authorizer   // GetPrincipalSessionKey, for the auth service
	Keys         uint32       // GetPrincipalSessionKey: the services wanted
}

// AppendEncoded appends the request payload to dst.
func (r *Request) AppendEncoded(dst []byte) []byte {
	e := encoder{b: dst}
	e.u16(r.Type)
	switch r.Type {
	case GetAuthSessionKey:
		a := &r.Authenticate
		e.u8(a.Version)
		e.u64(a.ClientChallenge)
		e.u64(a.Key)
		e.ticketBlob(&a.OldTicket)
		if a.Version >= 2 {
			e.u32(a.OtherKeys)
		}
	case GetPrincipalSessionKey:
		e.b = r.Authorizer.AppendEncoded(e.b)
		e.u8(1)
		e.u32(r.Keys)
	}
	return e.b
}

// DecodeRequest decodes the cephx payload of an MAuth that fills b exactly. Byte slices alias
// b.
func DecodeRequest(b []byte) (Request, error) {
	d := newDecoder(b, "cephx request")
	r := Request{Type: d.u16("request_type")}
	switch r.Type {
	case GetAuthSessionKey:
		a := &r.Authenticate
		a.Version = d.version("CephXAuthenticate.struct_v", 1, 3)
		a.ClientChallenge = d.u64("client_challenge")
		a.Key = d.u64("key")
		a.OldTicket = d.ticketBlob()
		if a.Version >= 2 {
			a.OtherKeys = d.u32("other_keys")
		}
	case GetPrincipalSessionKey:
		r.Authorizer = d.authorizer()
		d.version("CephXServiceTicketRequest.struct_v", 1, 1)
		r.Keys = d.u32("keys")
	case GetRotatingKey:
	default:
		if d.err == nil {
			d.malformed("request_type", "unknown request type %#x", r.Type)
		}
	}
	if err := d.finish(); err != nil {
		return Request{}, err
	}
	return r, nil
}

// ResponseHeader is CephXResponseHeader.
type ResponseHeader struct {
	Type   uint16
	Status int32
}

// Response is the decoded cephx payload of an MAuthReply after the server challenge.
type Response struct {
	Header ResponseHeader
	// Tickets: for GetAuthSessionKey the auth ticket, for GetPrincipalSessionKey the tickets
	// asked for.
	Tickets []Grant
	// HasExtra: a GetAuthSessionKey reply to a request with other_keys carries the two
	// bufferlists below.
	HasExtra         bool
	ConnectionSecret []byte  // sealed; empty on msgr1
	Extra            []Grant // the other tickets, encrypted with the new session key
	Rotating         RotatingSecrets
}

// ResponseKeys are the keys a client decrypts responses with.
type ResponseKeys struct {
	Secret Key // the client's own key (GetAuthSessionKey tickets, GetRotatingKey)
	// Session is the auth session key (GetPrincipalSessionKey); for GetAuthSessionKey, the
	// new session key decrypts the extra tickets and is taken from the reply itself.
	Session Key
	// Previous returns the session key a service's ticket blob is encrypted with when the
	// monitor encrypts it (when reclaiming with an old ticket); may be nil.
	Previous func(service uint32) (Key, bool)
}

// DecodeResponse decodes the cephx payload of an MAuthReply (after the first) that fills b
// exactly, decrypting with keys.
func DecodeResponse(b []byte, keys ResponseKeys) (Response, error) {
	d := newDecoder(b, "cephx response")
	r := Response{Header: ResponseHeader{Type: d.u16("request_type"), Status: int32(d.u32("status"))}}
	switch r.Header.Type {
	case GetAuthSessionKey:
		d.authSessionKeyResponse(&r, keys)
	case GetPrincipalSessionKey:
		r.Tickets = d.ticketReply(keys.Session, keys.Previous)
	case GetRotatingKey:
		r.Rotating = openInto(d, "RotatingSecrets", keys.Secret, func(in *decoder) RotatingSecrets { return in.rotatingSecrets() })
	default:
		if d.err == nil {
			d.malformed("request_type", "unknown response type %#x", r.Header.Type)
		}
	}
	if err := d.finish(); err != nil {
		return Response{}, err
	}
	return r, nil
}

func (d *decoder) authSessionKeyResponse(r *Response, keys ResponseKeys) {
	r.Tickets = d.ticketReply(keys.Secret, keys.Previous)
	if d.err != nil || d.remaining() == 0 {
		return
	}
	r.HasExtra = true
	r.ConnectionSecret = d.bytes("connection_secret")
	extra := d.bytes("extra_tickets")
	if d.err != nil || len(extra) == 0 {
		return
	}
	session, ok := authSession(r.Tickets)
	if !ok {
		d.malformed("extra_tickets", "extra tickets and no auth ticket")
		return
	}
	in := newDecoder(extra, d.what+" extra_tickets")
	r.Extra = in.ticketReply(session, keys.Previous)
	if err := in.finish(); err != nil {
		d.fail("extra_tickets", err)
	}
}

// authSession finds the auth service's session key among grants.
func authSession(grants []Grant) (Key, bool) {
	for i := range grants {
		if grants[i].Service == uint32(wire.EntityAuth) {
			return grants[i].SessionKey, true
		}
	}
	return Key{}, false
}

// InitialRequest is the auth payload of a client's first MAuth (protocol 0, "negotiate"): the
// methods it supports, its name and its global id. cephx clients offer AuthCephx.
func InitialRequest(name wire.AuthEntityName, globalID uint64, methods ...uint32) []byte {
	req := wire.AuthNoneRequest{Methods: methods, Name: name, GlobalID: globalID}
	return req.AppendEncoded(nil)
}

// DecodeServerChallenge decodes the cephx payload of the monitor's first MAuthReply.
func DecodeServerChallenge(b []byte) (uint64, error) {
	d := newDecoder(b, "CephXServerChallenge")
	c := d.challenge()
	if err := d.finish(); err != nil {
		return 0, err
	}
	return c, nil
}

// AppendServerChallenge appends a CephXServerChallenge.
func AppendServerChallenge(dst []byte, challenge uint64) []byte {
	return appendChallenge(dst, challenge)
}

// AppendResponseHeader appends a CephXResponseHeader.
func AppendResponseHeader(dst []byte, h ResponseHeader) []byte {
	e := encoder{b: dst}
	e.u16(h.Type)
	e.u32(uint32(h.Status))
	return e.b
}

// requestName names a request type for errors.
func requestName(t uint16) string {
	switch t {
	case GetAuthSessionKey:
		return "CEPHX_GET_AUTH_SESSION_KEY"
	case GetPrincipalSessionKey:
		return "CEPHX_GET_PRINCIPAL_SESSION_KEY"
	case GetRotatingKey:
		return "CEPHX_GET_ROTATING_KEY"
	}
	return fmt.Sprintf("request %#x", t)
}
