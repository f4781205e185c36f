package cephxfuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/msgrsim/msgrsim/internal/fuzzing"
	"github.com/msgrsim/msgrsim/msgr/auth/cephx"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The keys of the captured cluster (msgr/auth/cephx/testdata).
const (
	AdminKey   = "AQCgCBVrmToLChAAnXuhZivcztiTVjde0NQSPw==" // client.admin
	MonKey     = "AQCgCBVrkl65IRAAekQa1zja71Mw9NKdOEHJJg==" // mon.
	SessionKey = "AQCpCBVrpNC4HxAAuEr/7+RlQKIWLYsBXRA4Tg==" // the auth session key of stream12
)

// maxInput bounds fuzz inputs: larger ones add nothing but time.
const maxInput = 64 << 10

func mustParseKey(s string) cephx.Key {
	k, err := cephx.ParseKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

var (
	admin   = mustParseKey(AdminKey)
	mon     = mustParseKey(MonKey)
	session = mustParseKey(SessionKey)
)

// Keys returns the fixed keys: client.admin's, mon.'s and the session key.
func Keys() (adminKey, monKey, sessionKey cephx.Key) { return admin, mon, session }

// Rand is a deterministic io.Reader (a counter), so that fuzz runs reproduce; the first
// nonce a fresh Rand draws is 0x0807060504030201.
type Rand struct{ n byte }

func (r *Rand) Read(p []byte) (int, error) {
	for i := range p {
		r.n++
		p[i] = r.n
	}
	return len(p), nil
}

func tooLarge(n int) error {
	if n > maxInput {
		return fuzzing.Skipf("%d bytes", n)
	}
	return nil
}

// CheckParseKeyring (FuzzParseKeyring): errors wrap ErrKeyring or ErrKeyBase64; a keyring
// ParseKeyring accepts and Format can write reads back the same.
func CheckParseKeyring(b []byte) error {
	if err := tooLarge(len(b)); err != nil {
		return err
	}
	kr, err := cephx.ParseKeyring(b)
	if err != nil {
		if !errors.Is(err, cephx.ErrKeyring) && !errors.Is(err, cephx.ErrKeyBase64) {
			return fmt.Errorf("error %v wraps neither ErrKeyring nor ErrKeyBase64", err)
		}
		return nil
	}
	text, err := kr.Format()
	if err != nil {
		return nil // caps with line breaks or outer blanks, odd names: Format refuses, as documented
	}
	back, err := cephx.ParseKeyring(text)
	if err != nil {
		return fmt.Errorf("what Format wrote does not parse: %v\n%q", err, text)
	}
	if !sameKeyring(kr, back) {
		return fmt.Errorf("round trip changed the keyring:\n%q\n%q", b, text)
	}
	return nil
}

func sameKeyring(a, b *cephx.Keyring) bool {
	if len(a.Entries) != len(b.Entries) {
		return false
	}
	for i := range a.Entries {
		x, y := &a.Entries[i], &b.Entries[i]
		if x.Name != y.Name || !x.Key.Equal(y.Key) || x.Key.Created != y.Key.Created || len(x.Caps) != len(y.Caps) {
			return false
		}
		//lint:ordered a comparison of every entry
		for s, c := range x.Caps {
			if y.Caps[s] != c {
				return false
			}
		}
	}
	return true
}

// CheckParseKey (FuzzParseKey): a key ParseKey accepts prints to a string that parses to the
// same key, and its binary encoding decodes to it.
func CheckParseKey(s string) error {
	if err := tooLarge(len(s)); err != nil {
		return err
	}
	k, err := cephx.ParseKey(s)
	if err != nil {
		return nil
	}
	back, err := cephx.ParseKey(k.String())
	if err != nil || !back.Equal(k) || back.Created != k.Created {
		return fmt.Errorf("%q read as %v, printed %s, read back %v %v", s, k, k, back, err)
	}
	if dk, err := cephx.DecodeKey(k.AppendEncoded(nil)); err != nil || !dk.Equal(k) {
		return fmt.Errorf("binary round trip of %v: %v %v", k, dk, err)
	}
	return nil
}

// CheckDecodeAuthorizer (FuzzDecodeAuthorizer): an authorizer or ticket blob that decodes
// re-encodes to its bytes; the verifier (a monitor with the real "mon." key, and an OSD
// without keys) never panics, and never accepts without a challenge round it cannot answer.
func CheckDecodeAuthorizer(b []byte) error {
	if err := tooLarge(len(b)); err != nil {
		return err
	}
	if a, err := cephx.DecodeAuthorizer(b); err == nil && !bytes.Equal(a.AppendEncoded(nil), b) {
		return fmt.Errorf("authorizer re-encoded as % x", a.AppendEncoded(nil))
	}
	if tb, err := cephx.DecodeTicketBlob(b); err == nil && !bytes.Equal(tb.AppendEncoded(nil), b) {
		return fmt.Errorf("ticket blob re-encoded as % x", tb.AppendEncoded(nil))
	}
	stores := []cephx.KeyStore{
		&cephx.ServiceKeys{Service: uint32(wire.EntityMon), Own: mon},
		&cephx.ServiceKeys{Service: uint32(wire.EntityOSD)},
	}
	for _, keys := range stores {
		v := cephx.NewConnVerifier(keys, &Rand{}, true)
		verdict, reply, _, err := v.Verify(b)
		if err := checkVerdict(verdict, reply, err, false); err != nil {
			return err
		}
		if verdict, _, _, _ = v.Verify(b); verdict == cephx.Accept {
			return fmt.Errorf("the same authorizer accepted after a challenge it cannot know")
		}
	}
	return nil
}

// checkVerdict checks the shape of a verifier's answer; answered says a challenge was sent.
func checkVerdict(verdict cephx.Verdict, reply []byte, err error, answered bool) error {
	switch verdict {
	case cephx.Reject:
		if err == nil || reply != nil {
			return fmt.Errorf("reject with error %v and reply % x", err, reply)
		}
	case cephx.Challenge:
		if err != nil || len(reply) == 0 || answered {
			return fmt.Errorf("challenge with error %v, %d-byte reply, after a challenge: %v", err, len(reply), answered)
		}
	case cephx.Accept:
		if err != nil || len(reply) == 0 || !answered {
			return fmt.Errorf("accept with error %v, %d-byte reply, challenged before: %v", err, len(reply), answered)
		}
	default:
		return fmt.Errorf("verdict %d", verdict)
	}
	return nil
}

// CheckSealedAuthorizer (FuzzSealedAuthorizer) builds an authorizer from fuzzed plaintexts —
// the ticket info sealed with the service's secret, the CephXAuthorize sealed with the session
// key found in it — and runs the challenge round: what the verifier decrypts is the fuzzer's.
func CheckSealedAuthorizer(ticketPlain, authorizePlain []byte, globalID uint64) error {
	if err := tooLarge(len(ticketPlain) + len(authorizePlain)); err != nil {
		return err
	}
	keys := &cephx.ServiceKeys{Service: uint32(wire.EntityOSD),
		Rotating: cephx.RotatingSecrets{Secrets: []cephx.RotatingSecret{{ID: 5, Key: mon}}}}
	ct, err := cephx.Seal(mon, ticketPlain)
	if err != nil {
		return err
	}
	sk := session
	if info, err := cephx.DecodeServiceTicketInfo(ticketPlain); err == nil && info.SessionKey.Type == cephx.KeyAES &&
		len(info.SessionKey.Secret) >= cephx.AESKeyLen {
		sk = info.SessionKey
	}
	sealed, err := cephx.Seal(sk, authorizePlain)
	if err != nil {
		return err
	}
	a := cephx.Authorizer{GlobalID: globalID, Service: uint32(wire.EntityOSD),
		Ticket: cephx.TicketBlob{SecretID: 5, Blob: ct}, Sealed: sealed}
	az := a.AppendEncoded(nil)
	v := cephx.NewConnVerifier(keys, &Rand{}, true)
	verdict, reply, _, err := v.Verify(az)
	if err := checkVerdict(verdict, reply, err, false); err != nil {
		return err
	}
	verdict, reply, peer, err := v.Verify(az)
	if err := checkVerdict(verdict, reply, err, verdict != cephx.Challenge); err != nil {
		return err
	}
	if verdict == cephx.Accept && peer.Ticket.GlobalID != globalID {
		return fmt.Errorf("accepted global id %d for a ticket of %d", globalID, peer.Ticket.GlobalID)
	}
	return nil
}

// CheckAuthorizerReply (FuzzAuthorizerReply) feeds a client authorizer (for a ticket sealed
// with the real "mon." key) a raw service reply and challenge, and a fuzzed plaintext sealed
// with its session key as a reply (length-prefixed) and as a challenge (not): the reply is
// accepted exactly when the plaintext is a CephXAuthorizeReply with nonce + 1, the challenge
// exactly when it is a CephXAuthorizeChallenge, and then the new authorizer answers it.
func CheckAuthorizerReply(raw, plain []byte) error {
	if err := tooLarge(len(raw) + len(plain)); err != nil {
		return err
	}
	ticket, err := cephx.SealTicket(&cephx.ServiceTicketInfo{SessionKey: session}, mon, cephx.SecretIDOwnKey)
	if err != nil {
		return err
	}
	a, err := cephx.NewAuthorizer(0, uint32(wire.EntityMon), ticket, session, &Rand{})
	if err != nil {
		return err
	}
	_, _ = a.VerifyReply(raw)
	if err := checkChallengeAnswer(a, raw); err != nil {
		return err
	}
	prefixed, _ := cephx.AppendSealed(nil, session, plain)
	r, perr := cephx.DecodeAuthorizeReplyPlain(plain)
	want := perr == nil && r.NoncePlusOne == a.Nonce+1
	if _, err := a.VerifyReply(prefixed); (err == nil) != want {
		return fmt.Errorf("reply with plaintext % x: accepted %v, want %v", plain, err == nil, want)
	}
	sealed, _ := cephx.Seal(session, plain)
	_, cerr := cephx.DecodeChallengePlain(plain)
	if err := a.AddChallenge(sealed); (err == nil) != (cerr == nil) {
		return fmt.Errorf("challenge with plaintext % x: accepted %v, want %v", plain, err == nil, cerr == nil)
	}
	return checkChallengeAnswer(a, sealed)
}

// checkChallengeAnswer: if the authorizer takes b as a challenge, its new bytes answer it.
func checkChallengeAnswer(a *cephx.ClientAuthorizer, b []byte) error {
	if len(b) == 0 || a.AddChallenge(b) != nil {
		return nil
	}
	pt, err := cephx.Open(session, b)
	if err != nil {
		return fmt.Errorf("challenge % x accepted but does not open: %v", b, err)
	}
	c, err := cephx.DecodeChallengePlain(pt)
	if err != nil {
		return fmt.Errorf("challenge % x accepted but does not decode: %v", b, err)
	}
	_, auth, err := cephx.OpenAuthorizer(a.Bytes(), &cephx.ServiceKeys{Service: uint32(wire.EntityMon), Own: mon})
	if err != nil || !auth.HaveChallenge || auth.ServerChallengePlusOne != c+1 {
		return fmt.Errorf("answer to challenge %#x: %+v %v", c, auth, err)
	}
	return nil
}

// CheckDecodeRequest (FuzzDecodeRequest): a cephx MAuth payload that decodes re-encodes to its
// bytes.
func CheckDecodeRequest(b []byte) error {
	if err := tooLarge(len(b)); err != nil {
		return err
	}
	r, err := cephx.DecodeRequest(b)
	if err != nil {
		return nil
	}
	if out := r.AppendEncoded(nil); !bytes.Equal(out, b) {
		return fmt.Errorf("re-encoded % x", out)
	}
	return nil
}

// CheckDecodeResponse (FuzzDecodeResponse) decodes an MAuthReply payload with the real
// client.admin and session keys; what decodes (tickets only: no extras, which need other keys)
// re-encodes to a payload that decodes to the same. (Not to the same bytes: CBC without
// integrity lets a changed last block decrypt to other contents with non-canonical padding,
// which Ceph accepts as well.)
func CheckDecodeResponse(b []byte) error {
	if err := tooLarge(len(b)); err != nil {
		return err
	}
	previous := func(uint32) (cephx.Key, bool) { return session, true }
	for _, keys := range []cephx.ResponseKeys{{Secret: admin, Session: session}, {Secret: session, Session: admin, Previous: previous}} {
		r, err := cephx.DecodeResponse(b, keys)
		if err != nil || r.HasExtra || r.Header.Type == cephx.GetRotatingKey || anyEncrypted(r.Tickets) {
			continue
		}
		secret := keys.Secret
		if r.Header.Type == cephx.GetPrincipalSessionKey {
			secret = keys.Session
		}
		out, err := cephx.AppendTicketReply(cephx.AppendResponseHeader(nil, r.Header), secret, r.Tickets, nil)
		if err != nil {
			return fmt.Errorf("decoded tickets do not encode: %v", err)
		}
		r2, err := cephx.DecodeResponse(out, keys)
		if err != nil || !sameGrants(r.Tickets, r2.Tickets) || r2.Header != r.Header {
			return fmt.Errorf("re-encoded response decodes differently (%v):\n% x", err, out)
		}
	}
	_, _ = cephx.DecodeServerChallenge(b)
	return nil
}

func anyEncrypted(gs []cephx.Grant) bool {
	for _, g := range gs {
		if g.Encrypted {
			return true
		}
	}
	return false
}

func sameGrants(a, b []cephx.Grant) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if x.Service != y.Service || !x.SessionKey.Equal(y.SessionKey) || x.SessionKey.Created != y.SessionKey.Created ||
			x.Validity != y.Validity || x.Blob.SecretID != y.Blob.SecretID || !bytes.Equal(x.Blob.Blob, y.Blob.Blob) {
			return false
		}
	}
	return true
}

// Plaintext kinds of CheckPlain.
const (
	PlainServiceTicketInfo byte = iota
	PlainServiceTicket
	PlainRotatingSecrets
	PlainAuthorize
	PlainAuthorizeReply
	PlainChallenge
	plainKinds
)

// CheckPlain (FuzzDecodePlain) runs one of the decoders of decrypted structures (kind selects
// it) and checks that what it accepts re-encodes to the input, but for what Ceph itself
// normalizes: a bool read from any non-zero byte is written as 1, the obsolete auid of an
// AuthTicket is written as CEPH_AUTH_UID_DEFAULT, older struct versions are written as the
// current one.
func CheckPlain(kind byte, b []byte) error {
	if err := tooLarge(len(b)); err != nil {
		return err
	}
	out, auidAt, older, err := decodePlain(kind%plainKinds, b)
	if err != nil || older {
		return nil
	}
	if auidAt >= 0 && len(out) == len(b) {
		copy(out[auidAt:auidAt+8], b[auidAt:])
	}
	if len(out) != len(b) {
		return fmt.Errorf("kind %d re-encoded % x", kind%plainKinds, out)
	}
	for i := range out {
		if out[i] != b[i] && !(out[i] == 1 && b[i] > 1) {
			return fmt.Errorf("kind %d re-encoded % x", kind%plainKinds, out)
		}
	}
	return nil
}

// decodePlain decodes and re-encodes b as kind; auidAt is where an AuthTicket's auid is (or
// -1), older says b has an older struct version than the encoder writes.
func decodePlain(kind byte, b []byte) (out []byte, auidAt int, older bool, err error) {
	auidAt = -1
	switch kind {
	case PlainServiceTicketInfo:
		var info cephx.ServiceTicketInfo
		if info, err = cephx.DecodeServiceTicketInfo(b); err == nil {
			out, auidAt, older = info.AppendEncoded(nil), 2+8+len(info.Ticket.Name.ID)+8, b[1] == 1
		}
	case PlainServiceTicket:
		var st cephx.ServiceTicket
		if st, err = cephx.DecodeServiceTicket(b); err == nil {
			out = st.AppendEncoded(nil)
		}
	case PlainRotatingSecrets:
		var r cephx.RotatingSecrets
		if r, err = cephx.DecodeRotatingSecrets(b); err == nil {
			out = r.AppendEncoded(nil)
		}
	case PlainAuthorize:
		var a cephx.Authorize
		if a, err = cephx.DecodeAuthorize(b); err == nil {
			out, older = a.AppendEncoded(nil), b[0] == 1
		}
	case PlainAuthorizeReply:
		var r cephx.AuthorizeReply
		if r, err = cephx.DecodeAuthorizeReplyPlain(b); err == nil {
			out = r.AppendEncoded(nil)
			older = b[0] == 2 && len(r.ConnectionSecret) == 0 // an empty v2 secret is written as v1
		}
	case PlainChallenge:
		var c uint64
		if c, err = cephx.DecodeChallengePlain(b); err == nil {
			out = cephx.AppendServerChallenge(nil, c)
		}
	}
	return out, auidAt, older, err
}

// CheckClient (FuzzClient) feeds a client a sequence of MAuthReply fronts (after its first
// MAuth), with and without Separate: it never panics, and it reports success only with a
// global id and a session key. Once done, the client without Separate asks for its rotating
// secrets and the one with Separate renews its tickets as if 100 days had passed (Renew
// returns a request exactly when a ticket is due), so the fronts that follow are answers to
// those.
func CheckClient(fronts [][]byte) error {
	n := 0
	for _, f := range fronts {
		n += len(f)
	}
	if err := tooLarge(n); err != nil {
		return err
	}
	for _, separate := range []bool{false, true} {
		c := cephx.NewClient(cephx.ClientConfig{Name: wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "admin"},
			Key: admin, Separate: separate, Rand: &Rand{}})
		c.Start()
		if err := feedClient(c, fronts, separate); err != nil {
			return err
		}
	}
	return nil
}

func feedClient(c *cephx.Client, fronts [][]byte, separate bool) error {
	now := time.Unix(1700000000, 0)
	for _, f := range fronts {
		r, err := wire.DecodeMAuthReply(f)
		if err != nil {
			continue
		}
		next, err := c.Handle(&r, now)
		if err != nil {
			return nil
		}
		if next == nil && !c.Done() {
			return fmt.Errorf("no next MAuth and not done")
		}
		if !c.Done() {
			continue
		}
		if _, ok := c.SessionKey(); !ok || c.GlobalID() == 0 {
			return fmt.Errorf("done without a session key or global id")
		}
		if !separate {
			if next, err := c.RequestRotating(); err != nil || next == nil {
				return fmt.Errorf("RequestRotating after done: %v", err)
			}
			continue
		}
		later := now.Add(100 * 24 * time.Hour)
		next, err = c.Renew(later)
		if err != nil || (next == nil) != (c.NeedRenewal(later) == 0) {
			return fmt.Errorf("renewal with %#x due: Renew returned %v, %v", c.NeedRenewal(later), next, err)
		}
	}
	return nil
}

// CheckMonitor (FuzzMonitor) feeds a monitor's auth service (cephx.Monitor, with client.admin
// in its keyring) a sequence of MAuth fronts on one session, as a hostile client would: it
// never panics, every reply is cephx's (but a refused negotiation's, which has the request's
// protocol), a refusal (result < 0) comes with an error and only
// then, and a session never counts as authenticated without a session key reply.
func CheckMonitor(fronts [][]byte) error {
	n := 0
	for _, f := range fronts {
		n += len(f)
	}
	if err := tooLarge(n); err != nil {
		return err
	}
	kr := &cephx.Keyring{Entries: []cephx.KeyringEntry{{Name: wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "admin"},
		Key: admin, Caps: map[string]string{"mon": "allow *"}}}}
	now := time.Unix(1700000000, 0)
	mon, err := cephx.NewMonitor(kr, &Rand{}, 4100, now)
	if err != nil {
		return err
	}
	s := mon.NewSession()
	granted := false
	for _, f := range fronts {
		a, err := wire.DecodeMAuth(f)
		if err != nil {
			continue
		}
		r, err := s.Handle(&a, now)
		if r == nil || (r.Protocol != wire.AuthCephx && !refusedNegotiation(&a, r)) {
			return fmt.Errorf("reply %+v to %+v", r, a)
		}
		if (r.Result < 0) != (err != nil) {
			return fmt.Errorf("result %d with error %v", r.Result, err)
		}
		if r.Result == 0 && len(r.ResultBl) >= 2 && binary.LittleEndian.Uint16(r.ResultBl) == cephx.GetAuthSessionKey && a.Protocol == wire.AuthCephx {
			granted = true
		}
		if s.Authenticated() && !granted {
			return fmt.Errorf("authenticated without a session key reply")
		}
	}
	return nil
}

// refusedNegotiation: a refused first MAuth is answered with its own protocol, as Ceph's
// monitor does before it picked cephx.
func refusedNegotiation(a *wire.MAuth, r *wire.MAuthReply) bool {
	return a.Protocol == wire.AuthUnknown && r.Result < 0 && r.Protocol == a.Protocol
}

// ServerAuthGlobalID is the global id of ServerAuthSeed's ticket.
const ServerAuthGlobalID = 4242

// serverAuthKeys: an OSD whose rotating secret 5 is the "mon." key.
func serverAuthKeys() *cephx.ServiceKeys {
	return &cephx.ServiceKeys{Service: uint32(wire.EntityOSD),
		Rotating: cephx.RotatingSecrets{Secrets: []cephx.RotatingSecret{{ID: 5, Key: mon}}, MaxVer: 5}}
}

// ServerAuthSeed returns a well-behaved client's two authorizers toward CheckServerAuth's
// OSD: the first, and its answer to the challenge the OSD draws (deterministic: a fresh Rand).
func ServerAuthSeed() (first, second []byte, err error) {
	info := &cephx.ServiceTicketInfo{Ticket: cephx.Ticket{GlobalID: ServerAuthGlobalID}, SessionKey: session}
	ticket, err := cephx.SealTicket(info, mon, 5)
	if err != nil {
		return nil, nil, err
	}
	a, err := cephx.NewAuthorizer(ServerAuthGlobalID, uint32(wire.EntityOSD), ticket, session, &Rand{n: 100})
	if err != nil {
		return nil, nil, err
	}
	first = a.Bytes()
	m := cephx.NewMessenger(wire.EntityOSD)
	m.SetServiceKeys(serverAuthKeys())
	v := m.Server(&Rand{}).Verify(wire.EntityClient, wire.AuthCephx, first, wire.FeatureCephxV2)
	if v.Result != 0 {
		return nil, nil, fmt.Errorf("the seed authorizer was not challenged: %d %v", v.Result, v.Reason)
	}
	if err := a.AddChallenge(v.Reply); err != nil {
		return nil, nil, err
	}
	return first, a.Bytes(), nil
}

// CheckServerAuth (FuzzServerAuth) plays a hostile client against a messenger's accept side
// (cephx.Messenger of an OSD, the entry point a connect message's authorizer reaches): two
// connect rounds with the fuzzed authorizer protocol, peer features and authorizers. A
// refusal names its reason (wrapping ErrBadAuthorizer) and carries no reply and no session; a
// challenge only goes to a CEPHX_V2 peer; with CEPHX_V2 nothing is accepted but the answer
// to the challenge of the round before; an accepted session signs a message that it then
// checks, and refuses the same message with its signature changed.
func CheckServerAuth(protocol uint32, features uint64, first, second []byte) error {
	if err := tooLarge(len(first) + len(second)); err != nil {
		return err
	}
	m := cephx.NewMessenger(wire.EntityOSD)
	m.SetServiceKeys(serverAuthKeys())
	s := m.Server(&Rand{})
	v2 := features&wire.FeatureCephxV2 != 0
	prev := -1
	for round, b := range [][]byte{first, second} {
		v := s.Verify(wire.EntityClient, protocol, b, features)
		switch {
		case v.Result < 0:
			if !errors.Is(v.Reason, cephx.ErrBadAuthorizer) || v.Reply != nil || v.Session != nil {
				return fmt.Errorf("round %d: refused with reason %v, %d-byte reply, session %v", round, v.Reason, len(v.Reply), v.Session)
			}
		case v.Result == 0:
			if !v2 || len(v.Reply) == 0 || v.Session != nil {
				return fmt.Errorf("round %d: challenge (CEPHX_V2 %v) with %d-byte reply, session %v", round, v2, len(v.Reply), v.Session)
			}
		default:
			if v.Session == nil || len(v.Reply) == 0 || (v2 && prev != 0) {
				return fmt.Errorf("round %d: accepted with session %v, %d-byte reply, after verdict %d", round, v.Session, len(v.Reply), prev)
			}
			if err := checkSession(v.Session); err != nil {
				return fmt.Errorf("round %d: %w", round, err)
			}
		}
		if v.Result > 0 {
			prev = -1 // accepted: a new connect round starts over
		} else {
			prev = v.Result
		}
	}
	return nil
}

// checkSession: a message signed by the session passes its check, and fails it with the
// signature changed.
func checkSession(s interface {
	Sign(*wire.Message, uint64) error
	Check(*wire.Message, uint64) error
}) error {
	f := wire.FeaturesAll
	msg := &wire.Message{Header: wire.Header{Seq: 3, Type: wire.MsgPing, FrontLen: 2, CRC: 0x1234},
		Footer: wire.Footer{FrontCRC: 0x5678}, Front: []byte{1, 2}}
	if err := s.Sign(msg, f); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	if err := s.Check(msg, f); err != nil {
		return fmt.Errorf("own signature refused: %w", err)
	}
	msg.Footer.Sig ^= 1
	if err := s.Check(msg, f); !errors.Is(err, cephx.ErrBadSignature) {
		return fmt.Errorf("changed signature: %v, want ErrBadSignature", err)
	}
	return nil
}
