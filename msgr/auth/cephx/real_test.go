package cephx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Tests against what real Ceph sent (testdata/vectors.json, see vectors_test.go): every
// decoder reads Ceph's bytes, every computation reproduces Ceph's numbers, and every encoder,
// fed the same inputs (AES-CBC with a fixed IV is deterministic), writes Ceph's bytes.

var (
	clientAdmin = wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "admin"}
	monDot      = wire.AuthEntityName{Type: uint32(wire.EntityMon)}
)

type realKeys struct{ admin, mon, osd, wrong Key }

var osd0 = wire.AuthEntityName{Type: uint32(wire.EntityOSD), ID: "0"}

func loadRealKeys(t testing.TB) realKeys {
	t.Helper()
	var k realKeys
	for _, x := range []struct {
		path string
		name wire.AuthEntityName
		dst  *Key
	}{{"testdata/keyring", clientAdmin, &k.admin}, {"testdata/keyring", monDot, &k.mon},
		{"testdata/osd.0.keyring", osd0, &k.osd}, {"testdata/wrong.keyring", clientAdmin, &k.wrong}} {
		kr, err := ReadKeyring(x.path)
		if err != nil {
			t.Fatal(err)
		}
		if *x.dst, err = kr.Key(x.name); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// keyOf is the key an exchange was made with: the entity's, or the wrong one for the
// refused run.
func (k realKeys) keyOf(ex *authExchange) Key {
	switch {
	case ex.name == osd0:
		return k.osd
	case ex.denied():
		return k.wrong
	}
	return k.admin
}

// authExchange is a client's MAuth fronts and the monitor's MAuthReply fronts, in order.
type authExchange struct {
	stream  string
	name    wire.AuthEntityName
	mauth   []wire.MAuth
	replies []wire.MAuthReply
}

func realExchanges(t *testing.T) []authExchange {
	t.Helper()
	var out []authExchange
	for _, cv := range loadVectors(t).Conversations {
		if hasAuthorizer(&cv) {
			continue
		}
		ex := authExchange{stream: cv.Stream}
		for _, m := range cv.Messages {
			switch m.Type {
			case wire.MsgAuth:
				a, err := wire.DecodeMAuth(unhex(t, m.Front))
				if err != nil {
					t.Fatalf("%s: %v", cv.Stream, err)
				}
				ex.mauth = append(ex.mauth, a)
			case wire.MsgAuthReply:
				r, err := wire.DecodeMAuthReply(unhex(t, m.Front))
				if err != nil {
					t.Fatalf("%s: %v", cv.Stream, err)
				}
				ex.replies = append(ex.replies, r)
			}
		}
		if len(ex.mauth) >= 2 && len(ex.replies) >= 2 {
			first, err := wire.DecodeAuthNoneRequest(ex.mauth[0].AuthPayload)
			if err != nil {
				t.Fatalf("%s: %v", cv.Stream, err)
			}
			ex.name = first.Name
			out = append(out, ex)
		}
	}
	if len(out) < 2 {
		t.Fatalf("only %d cephx client exchanges in the vectors", len(out))
	}
	return out
}

// hasAuthorizer reports whether the connection was opened with a cephx authorizer.
func hasAuthorizer(cv *conversation) bool {
	for _, h := range cv.Handshake {
		if h.Kind == "CONNECT" && h.Protocol == wire.AuthCephx {
			return true
		}
	}
	return false
}

// denied reports whether the monitor refused the exchange (the wrong-key run).
func (ex *authExchange) denied() bool { return ex.replies[1].Result < 0 }

func TestRealClientProof(t *testing.T) {
	keys := loadRealKeys(t)
	for _, ex := range realExchanges(t) {
		if (ex.name != clientAdmin && ex.name != osd0) || ex.mauth[0].Protocol != wire.AuthUnknown {
			t.Fatalf("%s: first MAuth from %v, protocol %d", ex.stream, ex.name, ex.mauth[0].Protocol)
		}
		if ex.replies[0].Protocol != wire.AuthCephx || ex.replies[0].Result != 0 || ex.replies[0].GlobalID == 0 {
			t.Fatalf("%s: first reply %+v", ex.stream, ex.replies[0])
		}
		sc, err := DecodeServerChallenge(ex.replies[0].ResultBl)
		if err != nil {
			t.Fatal(err)
		}
		req, err := DecodeRequest(ex.mauth[1].AuthPayload)
		if err != nil || req.Type != GetAuthSessionKey || ex.mauth[1].Protocol != wire.AuthCephx {
			t.Fatalf("%s: second MAuth %+v %v", ex.stream, req, err)
		}
		if !bytes.Equal(req.AppendEncoded(nil), ex.mauth[1].AuthPayload) {
			t.Errorf("%s: the request does not re-encode to Ceph's bytes", ex.stream)
		}
		a := &req.Authenticate
		key := keys.keyOf(&ex)
		proof, err := ClientProof(key, sc, a.ClientChallenge)
		if err != nil {
			t.Fatal(err)
		}
		if proof != a.Key {
			t.Errorf("%s: proof %#x, the ceph CLI sent %#x", ex.stream, proof, a.Key)
		}
		other, _ := ClientProof(keys.wrong, sc, a.ClientChallenge)
		if !ex.denied() && other == a.Key {
			t.Errorf("%s: the wrong key gives the same proof", ex.stream)
		}
		t.Logf("%s: %s global_id %d server challenge %#x client challenge %#x proof %#x other_keys %#x v%d",
			ex.stream, ex.name, ex.replies[0].GlobalID, sc, a.ClientChallenge, a.Key, a.OtherKeys, a.Version)
	}
}

func TestRealWrongKeyRefused(t *testing.T) {
	n := 0
	for _, ex := range realExchanges(t) {
		if !ex.denied() {
			continue
		}
		n++
		r := ex.replies[1]
		if r.Result != -13 || len(r.ResultBl) != 0 {
			t.Errorf("%s: the monitor refused with %+v, expected -EACCES and no payload", ex.stream, r)
		}
		c := replayClient(t, ex, loadRealKeys(t).wrong)
		if _, err := c.Handle(&r, time.Unix(0, 0)); !errors.Is(err, ErrDenied) {
			t.Errorf("%s: Handle(refusal) = %v, want ErrDenied", ex.stream, err)
		} else {
			t.Logf("%s: %v", ex.stream, err)
		}
	}
	if n == 0 {
		t.Fatal("no refused exchange in the vectors")
	}
}

// fixedRand yields the given numbers as little-endian words, then fails.
type fixedRand struct{ words []uint64 }

func (r *fixedRand) Read(p []byte) (int, error) {
	if len(p) != 8 || len(r.words) == 0 {
		return 0, errors.New("fixedRand: out of words")
	}
	binary.LittleEndian.PutUint64(p, r.words[0])
	r.words = r.words[1:]
	return 8, nil
}

// replayClient returns a client that draws the same client challenge (and authorizer nonce)
// as the real ceph CLI did in ex, has sent its first MAuth and been fed the first reply; the
// MAuth it produced is checked against the CLI's byte for byte.
func replayClient(t *testing.T, ex authExchange, key Key) *Client {
	t.Helper()
	req, err := DecodeRequest(ex.mauth[1].AuthPayload)
	if err != nil {
		t.Fatal(err)
	}
	words := []uint64{req.Authenticate.ClientChallenge}
	nonce, separate := principalNonce(t, ex, key)
	if separate {
		words = append(words, nonce)
	}
	c := NewClient(ClientConfig{Name: ex.name, Key: key, Want: req.Authenticate.OtherKeys,
		Separate: separate, Rand: &fixedRand{words: words}})
	first := c.Start()
	if real, _ := wire.DecodeAuthNoneRequest(ex.mauth[0].AuthPayload); len(real.Methods) == 1 &&
		!bytes.Equal(first.AppendFront(nil), ex.mauth[0].AppendFront(nil)) {
		t.Errorf("%s: first MAuth %x, the CLI sent %x", ex.stream, first.AppendFront(nil), ex.mauth[0].AppendFront(nil))
	}
	next, err := c.Handle(&ex.replies[0], time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(next.AppendFront(nil), ex.mauth[1].AppendFront(nil)) {
		t.Errorf("%s: second MAuth\n%x\nthe CLI sent\n%x", ex.stream, next.AppendFront(nil), ex.mauth[1].AppendFront(nil))
	}
	return c
}

// principalNonce returns the nonce of the authorizer in the exchange's
// CEPHX_GET_PRINCIPAL_SESSION_KEY, if it has one.
func principalNonce(t *testing.T, ex authExchange, key Key) (uint64, bool) {
	t.Helper()
	if len(ex.mauth) < 3 {
		return 0, false
	}
	r3, err := DecodeRequest(ex.mauth[2].AuthPayload)
	if err != nil {
		t.Fatal(err)
	}
	if r3.Type != GetPrincipalSessionKey {
		return 0, false
	}
	az, err := decodeSealed(authSessionKeyOf(t, ex, key), r3.Authorizer.Sealed, "CephXAuthorize",
		func(d *decoder) Authorize { return d.authorize() })
	if err != nil {
		t.Fatal(err)
	}
	return az.Nonce, true
}

// authSessionKeyOf decrypts the auth session key of a successful exchange.
func authSessionKeyOf(t *testing.T, ex authExchange, key Key) Key {
	t.Helper()
	resp, err := DecodeResponse(ex.replies[1].ResultBl, ResponseKeys{Secret: key})
	if err != nil {
		t.Fatal(err)
	}
	sk, ok := authSession(resp.Tickets)
	if !ok {
		t.Fatal("no auth ticket")
	}
	return sk
}

func TestRealSessionKeyReply(t *testing.T) {
	keys := loadRealKeys(t)
	for _, ex := range realExchanges(t) {
		if ex.denied() {
			continue
		}
		r := ex.replies[1]
		resp, err := DecodeResponse(r.ResultBl, ResponseKeys{Secret: keys.keyOf(&ex)})
		if err != nil {
			t.Fatalf("%s: %v", ex.stream, err)
		}
		if resp.Header != (ResponseHeader{Type: GetAuthSessionKey}) || len(resp.Tickets) != 1 ||
			resp.Tickets[0].Service != uint32(wire.EntityAuth) || resp.Tickets[0].Encrypted {
			t.Fatalf("%s: %+v", ex.stream, resp)
		}
		g := resp.Tickets[0]
		t.Logf("%s: auth ticket secret_id %d, %d-byte blob, validity %v; extra tickets %d, connection secret %d bytes",
			ex.stream, g.Blob.SecretID, len(g.Blob.Blob), g.Validity.Duration(), len(resp.Extra), len(resp.ConnectionSecret))
		if g.Validity.Duration() != 72*time.Hour || g.SessionKey.Type != KeyAES || len(g.SessionKey.Secret) != 16 {
			t.Errorf("%s: auth ticket %+v (Pacific's auth_mon_ticket_ttl is 72h)", ex.stream, g)
		}
		for _, x := range resp.Extra {
			if x.Validity.Duration() != time.Hour {
				t.Errorf("%s: %s ticket valid %v (auth_service_ticket_ttl is 1h)", ex.stream, serviceName(x.Service), x.Validity.Duration())
			}
		}
		checkReencodedSessionReply(t, ex.stream, r.ResultBl, &resp, keys.keyOf(&ex))
	}
}

// checkReencodedSessionReply rebuilds the monitor's reply from its decoded contents and
// requires Ceph's bytes.
func checkReencodedSessionReply(t *testing.T, stream string, real []byte, resp *Response, secret Key) {
	t.Helper()
	b := AppendResponseHeader(nil, resp.Header)
	b, err := AppendTicketReply(b, secret, resp.Tickets, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.HasExtra {
		e := encoder{b: b}
		e.bytes(resp.ConnectionSecret)
		var extra []byte
		if len(resp.Extra) > 0 {
			extra, err = AppendTicketReply(nil, resp.Tickets[0].SessionKey, resp.Extra, nil)
			if err != nil {
				t.Fatal(err)
			}
		}
		e.bytes(extra)
		b = e.b
	}
	if !bytes.Equal(b, real) {
		t.Errorf("%s: re-encoded reply differs from the monitor's\n%x\n%x", stream, b, real)
	}
}

func TestRealPrincipalSessionKey(t *testing.T) {
	keys := loadRealKeys(t)
	n := 0
	for _, ex := range realExchanges(t) {
		if ex.denied() || len(ex.mauth) < 3 || len(ex.replies) < 3 {
			continue
		}
		req, err := DecodeRequest(ex.mauth[2].AuthPayload)
		if err != nil {
			t.Fatalf("%s: %v", ex.stream, err)
		}
		if req.Type != GetPrincipalSessionKey {
			continue
		}
		n++
		sk := authSessionKeyOf(t, ex, keys.keyOf(&ex))
		if !bytes.Equal(req.AppendEncoded(nil), ex.mauth[2].AuthPayload) {
			t.Errorf("%s: the request does not re-encode to Ceph's bytes", ex.stream)
		}
		a := &req.Authorizer
		if a.Service != uint32(wire.EntityAuth) || a.GlobalID != ex.replies[0].GlobalID {
			t.Errorf("%s: authorizer for %s global id %d", ex.stream, serviceName(a.Service), a.GlobalID)
		}
		az, err := decodeSealed(sk, a.Sealed, "CephXAuthorize", func(d *decoder) Authorize { return d.authorize() })
		if err != nil || az.HaveChallenge {
			t.Fatalf("%s: CephXAuthorize %+v %v", ex.stream, az, err)
		}
		resp, err := DecodeResponse(ex.replies[2].ResultBl, ResponseKeys{Session: sk})
		if err != nil || resp.Header.Type != GetPrincipalSessionKey || resp.Header.Status != 0 {
			t.Fatalf("%s: %+v %v", ex.stream, resp, err)
		}
		var got uint32
		for _, g := range resp.Tickets {
			got |= g.Service
		}
		if got != req.Keys {
			t.Errorf("%s: asked for %#x, got tickets for %#x", ex.stream, req.Keys, got)
		}
		t.Logf("%s: asked for %#x with nonce %#x, got %d tickets", ex.stream, req.Keys, az.Nonce, len(resp.Tickets))
		b, err := AppendTicketReply(AppendResponseHeader(nil, resp.Header), sk, resp.Tickets, nil)
		if err != nil || !bytes.Equal(b, ex.replies[2].ResultBl) {
			t.Errorf("%s: re-encoded ticket reply differs (%v)", ex.stream, err)
		}
	}
	if n == 0 {
		t.Fatal("no CEPHX_GET_PRINCIPAL_SESSION_KEY in the vectors")
	}
}

// TestRealClientReplay drives the client state machine through each real exchange: with the
// CLI's random numbers it must send the CLI's bytes, and it must end with the CLI's tickets.
func TestRealClientReplay(t *testing.T) {
	keys := loadRealKeys(t)
	for _, ex := range realExchanges(t) {
		if ex.denied() {
			continue
		}
		c := replayClient(t, ex, keys.keyOf(&ex))
		now := time.Unix(1700000000, 0)
		next, err := c.Handle(&ex.replies[1], now)
		if err != nil {
			t.Fatalf("%s: %v", ex.stream, err)
		}
		if len(ex.mauth) > 2 {
			if next == nil && c.Done() {
				if next, err = c.RequestRotating(); err != nil {
					t.Fatal(err)
				}
			}
			if next == nil || !bytes.Equal(next.AppendFront(nil), ex.mauth[2].AppendFront(nil)) {
				t.Fatalf("%s: third MAuth differs from the client's", ex.stream)
			}
			if len(ex.replies) < 3 {
				continue // the CLI closed this connection before the reply (it hunts)
			}
			if next, err = c.Handle(&ex.replies[2], now); err != nil {
				t.Fatalf("%s: %v", ex.stream, err)
			}
		}
		if next != nil || !c.Done() || c.GlobalID() != ex.replies[0].GlobalID {
			t.Fatalf("%s: not done: next %v, global id %d", ex.stream, next, c.GlobalID())
		}
		sk, _ := c.SessionKey()
		if !sk.Equal(authSessionKeyOf(t, ex, keys.keyOf(&ex))) {
			t.Errorf("%s: session key differs", ex.stream)
		}
		at, _ := c.Ticket(wire.EntityAuth)
		if !at.Expires.Equal(now.Add(72*time.Hour)) || !at.RenewAfter.Equal(now.Add(54*time.Hour)) {
			t.Errorf("%s: auth ticket expires %v renew after %v", ex.stream, at.Expires, at.RenewAfter)
		}
	}
}

// monSession is a mon<->mon connection of the vectors.
type monSession struct {
	stream     string
	connects   [][]byte // authorizers, in order
	replies    []handshake
	features   uint64
	messages   []vectorMsg
	sessionKey Key // from the ticket of the last authorizer
}

func realMonSessions(t *testing.T, keys realKeys) []monSession {
	t.Helper()
	var out []monSession
	for _, cv := range loadVectors(t).Conversations {
		if cv.ClientType != uint8(wire.EntityMon) {
			continue
		}
		s := monSession{stream: cv.Stream, messages: cv.Messages}
		for _, h := range cv.Handshake {
			if h.Kind == "CONNECT" {
				s.connects = append(s.connects, unhex(t, h.Authorizer))
			} else {
				s.replies = append(s.replies, h)
			}
		}
		cf, _ := strconv.ParseUint(cv.ClientFeatures, 0, 64)
		sf, _ := strconv.ParseUint(cv.ServerFeatures, 0, 64)
		s.features = cf & sf
		info, _, err := OpenAuthorizer(s.connects[len(s.connects)-1], &ServiceKeys{Service: uint32(wire.EntityMon), Own: keys.mon})
		if err != nil {
			t.Fatalf("%s: %v", cv.Stream, err)
		}
		s.sessionKey = info.SessionKey
		out = append(out, s)
	}
	if len(out) == 0 {
		t.Fatal("no mon<->mon session in the vectors")
	}
	return out
}

// TestRealMonAuthorizers checks the mon<->mon handshakes: monitors authorize each other with
// tickets sealed with the "mon." key (secret_id -1), answer an authorizer with a CEPHX_V2
// challenge and accept the next one if it answers the challenge, with nonce + 1. After an
// accepted round (RETRY_GLOBAL, WAIT) the client sends the same answer again and the monitor
// challenges it anew.
func TestRealMonAuthorizers(t *testing.T) {
	keys := loadRealKeys(t)
	monKeys := &ServiceKeys{Service: uint32(wire.EntityMon), Own: keys.mon}
	for _, s := range realMonSessions(t, keys) {
		plain := s.connects[0]
		_, az0, err := OpenAuthorizer(plain, monKeys)
		if err != nil || az0.HaveChallenge {
			t.Fatalf("%s: first authorizer %+v %v", s.stream, az0, err)
		}
		var challenge uint64
		var challengeBlob []byte
		for i, azb := range s.connects {
			info, az, err := OpenAuthorizer(azb, monKeys)
			if err != nil {
				t.Fatalf("%s connect %d: %v", s.stream, i, err)
			}
			a, _ := DecodeAuthorizer(azb)
			if a.Ticket.SecretID != SecretIDOwnKey || info.Ticket.Name != monDot || info.Ticket.GlobalID != 0 || az.Nonce != az0.Nonce {
				t.Errorf("%s connect %d: ticket %+v secret %d nonce %#x", s.stream, i, info.Ticket, a.Ticket.SecretID, az.Nonce)
			}
			if i >= len(s.replies) {
				continue
			}
			reply := unhex(t, s.replies[i].Authorizer)
			if s.replies[i].Tag == "CHALLENGE_AUTHORIZER" {
				challengeBlob = reply
				challenge = checkRealChallenge(t, s.stream, info.SessionKey, reply, azb, monKeys)
				continue
			}
			if !az.HaveChallenge || az.ServerChallengePlusOne != challenge+1 {
				t.Errorf("%s connect %d: %+v does not answer challenge %#x", s.stream, i, az, challenge)
			}
			checkRealAccept(t, s.stream, s.replies[i].Tag, info.SessionKey, reply, az, azb, plain, challengeBlob, challenge, monKeys)
		}
	}
}

// checkRealChallenge decrypts a monitor's challenge and checks that a ConnVerifier drawing
// the same number sends the same bytes.
func checkRealChallenge(t *testing.T, stream string, sk Key, reply, azb []byte, keys KeyStore) uint64 {
	t.Helper()
	c, err := decodeSealed(sk, reply, "CephXAuthorizeChallenge", func(d *decoder) uint64 { return d.challenge() })
	if err != nil {
		t.Fatalf("%s: challenge: %v", stream, err)
	}
	v := NewConnVerifier(keys, &fixedRand{words: []uint64{c}}, true)
	verdict, blob, _, err := v.Verify(azb)
	if verdict != Challenge || err != nil || !bytes.Equal(blob, reply) {
		t.Errorf("%s: verifier answered %v %x %v, the monitor %x", stream, verdict, blob, err, reply)
	}
	return c
}

// checkRealAccept checks the monitor's reply to an answered challenge, that a ConnVerifier
// which issued the same challenge accepts with the same bytes, that one which issued another
// challenge rejects the answer (a replayed authorizer), and that the client side rebuilds the
// answer from the plain authorizer and the challenge and verifies the reply.
func checkRealAccept(t *testing.T, stream, tag string, sk Key, reply []byte, az Authorize, azb, plain, challengeBlob []byte, challenge uint64, keys KeyStore) {
	t.Helper()
	r, err := decodeSealedPrefixed(sk, reply)
	if err != nil || r.NoncePlusOne != az.Nonce+1 || len(r.ConnectionSecret) != 0 {
		t.Fatalf("%s %s: reply %+v %v", stream, tag, r, err)
	}
	v := NewConnVerifier(keys, &fixedRand{words: []uint64{challenge}}, true)
	v.Verify(plain)
	verdict, blob, peer, err := v.Verify(azb)
	if verdict != Accept || err != nil || !bytes.Equal(blob, reply) || !peer.SessionKey.Equal(sk) {
		t.Errorf("%s %s: verifier answered %v %x %v, the monitor %x", stream, tag, verdict, blob, err, reply)
	}
	replay := NewConnVerifier(keys, &fixedRand{words: []uint64{challenge + 7}}, true)
	replay.Verify(plain)
	if verdict, _, _, err := replay.Verify(azb); verdict != Reject || !errors.Is(err, ErrBadAuthorizer) {
		t.Errorf("%s: a replayed answer to another challenge got %v %v", stream, verdict, err)
	}
	a, _ := DecodeAuthorizer(plain)
	ca := &ClientAuthorizer{Service: a.Service, SessionKey: sk, Nonce: az.Nonce, base: plain[:len(plain)-4-len(a.Sealed)]}
	if err := ca.seal(Authorize{Nonce: az.Nonce}); err != nil || !bytes.Equal(ca.Bytes(), plain) {
		t.Errorf("%s: rebuilt first authorizer differs (%v)", stream, err)
	}
	if err := ca.AddChallenge(challengeBlob); err != nil || !bytes.Equal(ca.Bytes(), azb) {
		t.Errorf("%s: the answer to the challenge differs from the monitor's (%v)", stream, err)
	}
	if _, err := ca.VerifyReply(reply); err != nil {
		t.Errorf("%s: VerifyReply(real reply) = %v", stream, err)
	}
}

func decodeSealedPrefixed(sk Key, b []byte) (AuthorizeReply, error) {
	d := newDecoder(b, "reply")
	r := openInto(d, "reply", sk, func(in *decoder) AuthorizeReply { return in.authorizeReply() })
	return r, d.finish()
}

// TestRealSignatures recomputes the signature of every message the monitors exchanged
// (CEPHX_V2 scheme, the ticket's session key) and checks that the CLI's messages to a
// monitor carry none: on msgr1, a client's session with a monitor is opened without an
// authorizer and is not signed.
func TestRealSignatures(t *testing.T) {
	keys := loadRealKeys(t)
	signed := 0
	for _, s := range realMonSessions(t, keys) {
		if s.features&wire.FeatureCephxV2 == 0 || s.features&wire.FeatureMsgAuth == 0 {
			t.Fatalf("%s: features %#x", s.stream, s.features)
		}
		for _, vm := range s.messages {
			m := vectorWireMessage(t, vm)
			if m.Footer.Flags&wire.FooterSigned == 0 {
				t.Errorf("%s %s seq %d: not signed", s.stream, vm.Dir, vm.Seq)
			}
			if err := CheckSignature(s.sessionKey, m, s.features); err != nil {
				t.Errorf("%s %s: %v", s.stream, vm.Dir, err)
			}
			m.Header.Seq++ // the signature covers the header (its crc) and seq
			if err := CheckSignature(s.sessionKey, m, s.features); !errors.Is(err, ErrBadSignature) {
				t.Errorf("%s %s: a changed seq still verifies (%v)", s.stream, vm.Dir, err)
			}
			signed++
		}
	}
	if signed < 20 {
		t.Fatalf("only %d signed messages checked", signed)
	}
	t.Logf("%d real signatures verified", signed)
	for _, cv := range loadVectors(t).Conversations {
		if hasAuthorizer(&cv) {
			continue
		}
		for _, vm := range cv.Messages {
			if m := vectorWireMessage(t, vm); m.Footer.Sig != 0 || m.Footer.Flags&wire.FooterSigned != 0 {
				t.Errorf("%s %s seq %d: a message of a session without authorizer is signed", cv.Stream, vm.Dir, vm.Seq)
			}
		}
	}
}

func vectorWireMessage(t *testing.T, vm vectorMsg) *wire.Message {
	t.Helper()
	h, err := wire.DecodeHeader(unhex(t, vm.Header), true)
	if err != nil {
		t.Fatal(err)
	}
	fb := unhex(t, vm.Footer)
	f, err := wire.DecodeFooter(fb, len(fb) == wire.OldFooterLen)
	if err != nil {
		t.Fatal(err)
	}
	return &wire.Message{Header: h, Footer: f}
}

// realOSDRotating decrypts the OSD's CEPHX_GET_ROTATING_KEY reply (osd.0's own session with a
// monitor) with osd.0's key.
func realOSDRotating(t *testing.T, keys realKeys) RotatingSecrets {
	t.Helper()
	for _, ex := range realExchanges(t) {
		if ex.name != osd0 {
			continue
		}
		for i, m := range ex.mauth {
			req, err := DecodeRequest(m.AuthPayload)
			if err != nil || req.Type != GetRotatingKey || i >= len(ex.replies) {
				continue
			}
			resp, err := DecodeResponse(ex.replies[i].ResultBl, ResponseKeys{Secret: keys.osd})
			if err != nil {
				t.Fatalf("%s: rotating secrets: %v", ex.stream, err)
			}
			if !bytes.Equal(append(AppendResponseHeader(nil, resp.Header), mustSealed(t, keys.osd, resp.Rotating.AppendEncoded(nil))...),
				ex.replies[i].ResultBl) {
				t.Errorf("%s: re-encoded rotating secrets differ from the monitor's", ex.stream)
			}
			return resp.Rotating
		}
	}
	t.Fatal("no CEPHX_GET_ROTATING_KEY of osd.0 in the vectors")
	return RotatingSecrets{}
}

func mustSealed(t *testing.T, k Key, p []byte) []byte {
	t.Helper()
	b, err := AppendSealed(nil, k, p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRealRotatingSecrets(t *testing.T) {
	rot := realOSDRotating(t, loadRealKeys(t))
	if len(rot.Secrets) != 3 || rot.MaxVer != rot.Secrets[2].ID {
		t.Fatalf("%+v", rot)
	}
	for _, s := range rot.Secrets {
		t.Logf("osd secret %d expires %v", s.ID, s.Expiration.Time().UTC())
	}
}

// adminTicketSessionKey finds, among the ceph CLI's exchanges, the ticket whose blob is blob
// and returns its session key: the CLI's OSD tickets are in its
// CEPHX_GET_PRINCIPAL_SESSION_KEY replies, encrypted with its auth session key.
func adminTicketSessionKey(t *testing.T, keys realKeys, blob TicketBlob) Key {
	t.Helper()
	for _, ex := range realExchanges(t) {
		if ex.name != clientAdmin || ex.denied() || len(ex.replies) < 3 {
			continue
		}
		resp, err := DecodeResponse(ex.replies[2].ResultBl, ResponseKeys{Session: authSessionKeyOf(t, ex, keys.admin)})
		if err != nil {
			continue
		}
		for _, g := range resp.Tickets {
			if g.Blob.SecretID == blob.SecretID && bytes.Equal(g.Blob.Blob, blob.Blob) {
				return g.SessionKey
			}
		}
	}
	t.Fatal("the OSD ticket is in none of the CLI's ticket replies")
	return Key{}
}

// TestRealClientToOSD checks `ceph tell osd.0 version`: the CLI's authorizer carries an OSD
// ticket the monitor sealed with a rotating secret the OSD fetched (both in the capture), the
// OSD challenged it and accepted the answer; a ConnVerifier holding those secrets reproduces
// the OSD's challenge and reply byte for byte, the client side rebuilds the CLI's answer, and
// every message of the session in both directions carries a valid CEPHX_V2 signature under
// the ticket's session key.
func TestRealClientToOSD(t *testing.T) {
	keys := loadRealKeys(t)
	osdKeys := &ServiceKeys{Service: uint32(wire.EntityOSD), Rotating: realOSDRotating(t, keys)}
	n := 0
	for _, cv := range loadVectors(t).Conversations {
		if !hasAuthorizer(&cv) || cv.ClientType != uint8(wire.EntityClient) {
			continue
		}
		n++
		var connects [][]byte
		var replies []handshake
		for _, h := range cv.Handshake {
			if h.Kind == "CONNECT" {
				connects = append(connects, unhex(t, h.Authorizer))
			} else {
				replies = append(replies, h)
			}
		}
		a, err := DecodeAuthorizer(connects[0])
		if err != nil || a.Service != uint32(wire.EntityOSD) {
			t.Fatalf("%s: %+v %v", cv.Stream, a, err)
		}
		sk := adminTicketSessionKey(t, keys, a.Ticket)
		info, az, err := OpenAuthorizer(connects[0], osdKeys)
		if err != nil || info.Ticket.Name != clientAdmin || !info.SessionKey.Equal(sk) {
			t.Fatalf("%s: the OSD's view of the ticket: %+v %v", cv.Stream, info.Ticket, err)
		}
		if len(replies) != 2 || replies[0].Tag != "CHALLENGE_AUTHORIZER" {
			t.Fatalf("%s: replies %+v", cv.Stream, replies)
		}
		ch := unhex(t, replies[0].Authorizer)
		c := checkRealChallenge(t, cv.Stream, sk, ch, connects[0], osdKeys)
		_, az2, err := OpenAuthorizer(connects[1], osdKeys)
		if err != nil || !az2.HaveChallenge || az2.ServerChallengePlusOne != c+1 || az2.Nonce != az.Nonce {
			t.Fatalf("%s: answer %+v %v", cv.Stream, az2, err)
		}
		checkRealAccept(t, cv.Stream, replies[1].Tag, sk, unhex(t, replies[1].Authorizer), az2, connects[1], connects[0], ch, c, osdKeys)
		cf, _ := strconv.ParseUint(cv.ClientFeatures, 0, 64)
		sf, _ := strconv.ParseUint(cv.ServerFeatures, 0, 64)
		signed := 0
		for _, vm := range cv.Messages {
			m := vectorWireMessage(t, vm)
			if err := CheckSignature(sk, m, cf&sf); err != nil || m.Footer.Flags&wire.FooterSigned == 0 {
				t.Errorf("%s %s seq %d type %d: %v", cv.Stream, vm.Dir, vm.Seq, vm.Type, err)
			}
			signed++
		}
		t.Logf("%s: %s's authorizer for osd (secret %d) verified, challenge and reply reproduced, %d signatures verified",
			cv.Stream, info.Ticket.Name, a.Ticket.SecretID, signed)
	}
	if n == 0 {
		t.Fatal("no client session with an OSD in the vectors")
	}
}
