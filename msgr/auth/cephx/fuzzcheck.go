package cephx

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/msgrsim/msgrsim/internal/fuzzing"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The checks of the fuzz targets (fuzz_test.go for go test -fuzz, gofuzz.go for go-fuzz and
// libFuzzer): no input makes a decoder, the verifier or the client panic; whatever a decoder
// accepts re-encodes to the bytes it consumed; nothing is accepted that should not be. They
// return nil when the input passed, an error wrapping fuzzing.ErrSkip when it is out of scope,
// and otherwise an error naming the property that failed. Only tests and gofuzz builds call
// them, so the linker leaves them out of production binaries.
//
// The fixed keys are those of the real cluster testdata/vectors.json was captured from (see
// testdata/README.md), so that the seeds taken from it decrypt and the fuzzer starts inside
// the encrypted structures.

const (
	fuzzAdminKey   = "AQCgCBVrmToLChAAnXuhZivcztiTVjde0NQSPw==" // client.admin
	fuzzMonKey     = "AQCgCBVrkl65IRAAekQa1zja71Mw9NKdOEHJJg==" // mon.
	fuzzSessionKey = "AQCpCBVrpNC4HxAAuEr/7+RlQKIWLYsBXRA4Tg==" // the auth session key of stream12
)

// fuzzMaxInput bounds fuzz inputs: larger ones add nothing but time.
const fuzzMaxInput = 64 << 10

func mustParseKey(s string) Key {
	k, err := ParseKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

var (
	fuzzAdmin   = mustParseKey(fuzzAdminKey)
	fuzzMon     = mustParseKey(fuzzMonKey)
	fuzzSession = mustParseKey(fuzzSessionKey)
)

// fuzzRand is a deterministic io.Reader (a counter), so that fuzz runs reproduce.
type fuzzRand struct{ n byte }

func (r *fuzzRand) Read(p []byte) (int, error) {
	for i := range p {
		r.n++
		p[i] = r.n
	}
	return len(p), nil
}

func tooLarge(n int) error {
	if n > fuzzMaxInput {
		return fuzzing.Skipf("%d bytes", n)
	}
	return nil
}

// checkParseKeyring: a keyring ParseKeyring accepts and Format can write reads back the same.
func checkParseKeyring(b []byte) error {
	if err := tooLarge(len(b)); err != nil {
		return err
	}
	kr, err := ParseKeyring(b)
	if err != nil {
		if !errors.Is(err, ErrKeyring) && !errors.Is(err, ErrKeyBase64) {
			return fmt.Errorf("error %v wraps neither ErrKeyring nor ErrKeyBase64", err)
		}
		return nil
	}
	text, err := kr.Format()
	if err != nil {
		return nil // caps with line breaks, odd names: Format refuses, as documented
	}
	back, err := ParseKeyring(text)
	if err != nil {
		return fmt.Errorf("Format wrote what ParseKeyring refuses: %v\n%q", err, text)
	}
	if !sameKeyring(kr, back) {
		return fmt.Errorf("round trip changed the keyring:\n%q\n%q", b, text)
	}
	return nil
}

func sameKeyring(a, b *Keyring) bool {
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

// checkParseKey: a key ParseKey accepts prints to a string that parses to the same key.
func checkParseKey(s string) error {
	if err := tooLarge(len(s)); err != nil {
		return err
	}
	k, err := ParseKey(s)
	if err != nil {
		return nil
	}
	back, err := ParseKey(k.String())
	if err != nil || !back.Equal(k) || back.Created != k.Created {
		return fmt.Errorf("%q read as %v, printed %s, read back %v %v", s, k, k, back, err)
	}
	if dk, err := DecodeKey(k.AppendEncoded(nil)); err != nil || !dk.Equal(k) {
		return fmt.Errorf("binary round trip of %v: %v %v", k, dk, err)
	}
	return nil
}

// checkDecodeAuthorizer: an authorizer that decodes re-encodes to its bytes; the verifier (a
// monitor with the real "mon." key, and an OSD without keys) never panics and accepts only
// after a challenge round.
func checkDecodeAuthorizer(b []byte) error {
	if err := tooLarge(len(b)); err != nil {
		return err
	}
	if a, err := DecodeAuthorizer(b); err == nil {
		r := Request{Type: GetPrincipalSessionKey, Authorizer: a}
		enc := r.AppendEncoded(nil)
		if !bytes.Equal(enc[2:len(enc)-5], b) {
			return fmt.Errorf("authorizer re-encoded as % x", enc[2:len(enc)-5])
		}
	}
	if tb, err := DecodeTicketBlob(b); err == nil && !bytes.Equal(tb.AppendEncoded(nil), b) {
		return fmt.Errorf("ticket blob re-encoded as % x", tb.AppendEncoded(nil))
	}
	for _, keys := range []KeyStore{&ServiceKeys{Service: uint32(wire.EntityMon), Own: fuzzMon}, &ServiceKeys{Service: uint32(wire.EntityOSD)}} {
		v := NewConnVerifier(keys, &fuzzRand{}, true)
		verdict, reply, _, err := v.Verify(b)
		if err := checkVerdict(verdict, reply, err, false); err != nil {
			return err
		}
		if verdict, _, _, _ = v.Verify(b); verdict == Accept {
			return fmt.Errorf("the same authorizer accepted after a challenge it cannot know")
		}
	}
	return nil
}

// checkVerdict checks the shape of a verifier's answer; answered says a challenge was sent.
func checkVerdict(verdict Verdict, reply []byte, err error, answered bool) error {
	switch verdict {
	case Reject:
		if err == nil || reply != nil {
			return fmt.Errorf("reject with error %v and reply % x", err, reply)
		}
	case Challenge:
		if err != nil || len(reply) == 0 || answered {
			return fmt.Errorf("challenge with error %v, %d-byte reply, after a challenge: %v", err, len(reply), answered)
		}
	case Accept:
		if err != nil || len(reply) == 0 || !answered {
			return fmt.Errorf("accept with error %v, %d-byte reply, challenged before: %v", err, len(reply), answered)
		}
	default:
		return fmt.Errorf("verdict %d", verdict)
	}
	return nil
}

// checkSealedAuthorizer builds an authorizer from fuzzed plaintexts — the ticket info sealed
// with the service's secret, the CephXAuthorize sealed with the session key found in it —
// and runs the challenge round: what the verifier decrypts is the fuzzer's.
func checkSealedAuthorizer(ticketPlain, authorizePlain []byte, globalID uint64) error {
	if err := tooLarge(len(ticketPlain) + len(authorizePlain)); err != nil {
		return err
	}
	keys := &ServiceKeys{Service: uint32(wire.EntityOSD), Rotating: RotatingSecrets{Secrets: []RotatingSecret{{ID: 5, Key: fuzzMon}}}}
	ct, err := Seal(fuzzMon, ticketPlain)
	if err != nil {
		return err
	}
	sk := fuzzSession
	d := newDecoder(ticketPlain, "fuzz")
	if info := d.serviceTicketInfo(); d.finish() == nil && info.SessionKey.usable() == nil {
		sk = info.SessionKey
	}
	e := encoder{}
	e.u8(1)
	e.u64(globalID)
	e.u32(uint32(wire.EntityOSD))
	e.ticketBlob(&TicketBlob{SecretID: 5, Blob: ct})
	az, err := AppendSealed(e.b, sk, authorizePlain)
	if err != nil {
		return err
	}
	v := NewConnVerifier(keys, &fuzzRand{}, true)
	verdict, reply, _, err := v.Verify(az)
	if err := checkVerdict(verdict, reply, err, false); err != nil {
		return err
	}
	verdict, reply, peer, err := v.Verify(az)
	if err := checkVerdict(verdict, reply, err, verdict != Challenge); err != nil {
		return err
	}
	if verdict == Accept && peer.Ticket.GlobalID != globalID {
		return fmt.Errorf("accepted global id %d for a ticket of %d", globalID, peer.Ticket.GlobalID)
	}
	return nil
}

// checkAuthorizerReply feeds a client authorizer (for a ticket sealed with the real "mon."
// key) a raw service reply and challenge, and a fuzzed plaintext sealed with its session key
// as a reply (length-prefixed) and as a challenge (not): the reply is accepted exactly when
// the plaintext is a CephXAuthorizeReply with nonce + 1, the challenge exactly when it is a
// CephXAuthorizeChallenge, and then the new authorizer answers it.
func checkAuthorizerReply(raw, plain []byte) error {
	if err := tooLarge(len(raw) + len(plain)); err != nil {
		return err
	}
	ticket, err := SealTicket(&ServiceTicketInfo{SessionKey: fuzzSession}, fuzzMon, SecretIDOwnKey)
	if err != nil {
		return err
	}
	a, err := NewAuthorizer(0, uint32(wire.EntityMon), ticket, fuzzSession, &fuzzRand{})
	if err != nil {
		return err
	}
	_, _ = a.VerifyReply(raw)
	if err := checkChallengeAnswer(a, raw); err != nil {
		return err
	}
	prefixed, _ := AppendSealed(nil, fuzzSession, plain)
	r, perr := DecodeAuthorizeReplyPlain(plain)
	want := perr == nil && r.NoncePlusOne == a.Nonce+1
	if _, err := a.VerifyReply(prefixed); (err == nil) != want {
		return fmt.Errorf("reply with plaintext % x: accepted %v, want %v", plain, err == nil, want)
	}
	sealed, _ := Seal(fuzzSession, plain)
	_, cerr := DecodeChallengePlain(plain)
	if err := a.AddChallenge(sealed); (err == nil) != (cerr == nil) {
		return fmt.Errorf("challenge with plaintext % x: accepted %v, want %v", plain, err == nil, cerr == nil)
	}
	return checkChallengeAnswer(a, sealed)
}

// checkChallengeAnswer: if the authorizer takes b as a challenge, its new bytes answer it.
func checkChallengeAnswer(a *ClientAuthorizer, b []byte) error {
	if len(b) == 0 || a.AddChallenge(b) != nil {
		return nil
	}
	pt, err := Open(fuzzSession, b)
	if err != nil {
		return fmt.Errorf("challenge % x accepted but does not open: %v", b, err)
	}
	c, err := DecodeChallengePlain(pt)
	if err != nil {
		return fmt.Errorf("challenge % x accepted but does not decode: %v", b, err)
	}
	_, auth, err := OpenAuthorizer(a.Bytes(), &ServiceKeys{Service: uint32(wire.EntityMon), Own: fuzzMon})
	if err != nil || !auth.HaveChallenge || auth.ServerChallengePlusOne != c+1 {
		return fmt.Errorf("answer to challenge %#x: %+v %v", c, auth, err)
	}
	return nil
}

// checkDecodeRequest: a cephx MAuth payload that decodes re-encodes to its bytes.
func checkDecodeRequest(b []byte) error {
	if err := tooLarge(len(b)); err != nil {
		return err
	}
	r, err := DecodeRequest(b)
	if err != nil {
		return nil
	}
	if out := r.AppendEncoded(nil); !bytes.Equal(out, b) {
		return fmt.Errorf("re-encoded % x", out)
	}
	return nil
}

// checkDecodeResponse decodes an MAuthReply payload with the real client.admin and session
// keys; what decodes (tickets only: no extras, which need other keys) re-encodes to a
// payload that decodes to the same. (Not to the same bytes: CBC without integrity lets a
// changed last block decrypt to other contents with non-canonical padding, which Ceph
// accepts as well; the magic number and the structure are the only checks.)
func checkDecodeResponse(b []byte) error {
	if err := tooLarge(len(b)); err != nil {
		return err
	}
	for _, keys := range []ResponseKeys{{Secret: fuzzAdmin, Session: fuzzSession}, {Secret: fuzzSession, Session: fuzzAdmin,
		Previous: func(uint32) (Key, bool) { return fuzzSession, true }}} {
		r, err := DecodeResponse(b, keys)
		if err != nil || r.HasExtra || r.Header.Type == GetRotatingKey || anyEncrypted(r.Tickets) {
			continue
		}
		secret := keys.Secret
		if r.Header.Type == GetPrincipalSessionKey {
			secret = keys.Session
		}
		out, err := AppendTicketReply(AppendResponseHeader(nil, r.Header), secret, r.Tickets, nil)
		if err != nil {
			return fmt.Errorf("decoded tickets do not encode: %v", err)
		}
		r2, err := DecodeResponse(out, keys)
		if err != nil || !sameGrants(r.Tickets, r2.Tickets) || r2.Header != r.Header {
			return fmt.Errorf("re-encoded response decodes differently (%v):\n% x", err, out)
		}
	}
	_, _ = DecodeServerChallenge(b)
	return nil
}

func sameGrants(a, b []Grant) bool {
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

func anyEncrypted(gs []Grant) bool {
	for _, g := range gs {
		if g.Encrypted {
			return true
		}
	}
	return false
}

// checkPlain runs one of the decoders of decrypted structures (kind selects it) and checks
// that what it accepts re-encodes to the input.
func checkPlain(kind byte, b []byte) error {
	if err := tooLarge(len(b)); err != nil {
		return err
	}
	var out []byte
	d := newDecoder(b, "fuzz")
	e := encoder{}
	auidAt := -1 // the obsolete auid of an AuthTicket, read and ignored as Ceph does
	switch kind % 6 {
	case 0:
		info := d.serviceTicketInfo()
		e.serviceTicketInfo(&info)
		auidAt = 2 + 8 + len(info.Ticket.Name.ID) + 8
	case 1:
		st := d.serviceTicket()
		e.serviceTicket(&st)
	case 2:
		r := d.rotatingSecrets()
		e.b = r.AppendEncoded(nil)
	case 3:
		a := d.authorize()
		e.authorize(&a)
	case 4:
		r := d.authorizeReply()
		e.authorizeReply(&r)
	case 5:
		e.b = appendChallenge(nil, d.challenge())
	}
	if d.finish() != nil {
		return nil
	}
	if kind%6 == 0 && b[1] == 1 || kind%6 == 3 && b[0] == 1 || kind%6 == 4 && b[0] == 2 && len(e.b) < len(b) {
		return nil // an older struct_v (AuthTicket v1, CephXAuthorize v1) or an empty v2 secret: we write the other
	}
	out = e.b
	if auidAt >= 0 && len(out) == len(b) {
		copy(out[auidAt:auidAt+8], b[auidAt:])
	}
	if len(out) != len(b) {
		return fmt.Errorf("kind %d re-encoded % x", kind%6, out)
	}
	for i := range out {
		// a bool Ceph decodes from any non-zero byte is written back as 1
		if out[i] != b[i] && !(out[i] == 1 && b[i] > 1) {
			return fmt.Errorf("kind %d re-encoded % x", kind%6, out)
		}
	}
	return nil
}

// checkClient feeds a client a sequence of MAuthReply fronts (after its first MAuth) and
// checks it never panics and only reports success with a global id and a session key.
func checkClient(fronts [][]byte) error {
	n := 0
	for _, f := range fronts {
		n += len(f)
	}
	if err := tooLarge(n); err != nil {
		return err
	}
	for _, separate := range []bool{false, true} {
		c := NewClient(ClientConfig{Name: wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "admin"}, Key: fuzzAdmin,
			Separate: separate, Rand: &fuzzRand{}})
		c.Start()
		for _, f := range fronts {
			r, err := wire.DecodeMAuthReply(f)
			if err != nil {
				continue
			}
			next, err := c.Handle(&r, time.Unix(1700000000, 0))
			if err != nil {
				break
			}
			if next == nil && !c.Done() {
				return fmt.Errorf("no next MAuth and not done")
			}
			if c.Done() {
				if _, ok := c.SessionKey(); !ok || c.GlobalID() == 0 {
					return fmt.Errorf("done without a session key or global id")
				}
				if next, err := c.RequestRotating(); err != nil || next == nil {
					return fmt.Errorf("RequestRotating after done: %v", err)
				}
			}
		}
	}
	return nil
}
