package cephx

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// seededRand is a deterministic io.Reader for tests.
type seededRand struct{ r *rand.Rand }

func newSeededRand(seed uint64) *seededRand {
	return &seededRand{rand.New(rand.NewPCG(seed, seed^0x9e37))}
}

func (s *seededRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(s.r.Uint32())
	}
	return len(p), nil
}

func mustKey(t testing.TB, seed uint64) Key {
	t.Helper()
	k, err := NewAESKey(newSeededRand(seed), Utime{Sec: 1700000000})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestEncryptPaddingAndRoundTrip(t *testing.T) {
	k := mustKey(t, 1)
	for n := 0; n <= 48; n++ {
		pt := bytes.Repeat([]byte{byte(n)}, n)
		ct, err := Encrypt(k, pt)
		if err != nil {
			t.Fatal(err)
		}
		if len(ct) != (n/16+1)*16 {
			t.Fatalf("%d bytes encrypt to %d, want %d (1..16 bytes of padding)", n, len(ct), (n/16+1)*16)
		}
		back, err := Decrypt(k, ct)
		if err != nil || !bytes.Equal(back, pt) {
			t.Fatalf("%d bytes: round trip %x %v", n, back, err)
		}
		// Independent check of the cipher: AES-128-CBC, IV "cephsageyudagreg", PKCS#7.
		block, _ := aes.NewCipher(k.Secret)
		want := append(bytes.Clone(pt), bytes.Repeat([]byte{byte(16 - n%16)}, 16-n%16)...)
		cipher.NewCBCEncrypter(block, []byte("cephsageyudagreg")).CryptBlocks(want, want)
		if !bytes.Equal(ct, want) {
			t.Fatalf("%d bytes: ciphertext differs from AES-128-CBC with Ceph's IV", n)
		}
	}
	for _, n := range []int{0, 15, 17} {
		if _, err := Decrypt(k, make([]byte, n)); !errors.Is(err, ErrDecrypt) {
			t.Errorf("Decrypt(%d bytes) = %v, want ErrDecrypt", n, err)
		}
	}
	if _, err := Encrypt(Key{Type: KeyAES, Secret: make([]byte, 8)}, nil); !errors.Is(err, ErrKey) {
		t.Errorf("8-byte key: %v", err)
	}
	if _, err := Encrypt(Key{Type: KeyNone, Secret: make([]byte, 16)}, nil); !errors.Is(err, ErrKey) {
		t.Errorf("type NONE: %v", err)
	}
	long := Key{Type: KeyAES, Secret: append(bytes.Clone(k.Secret), 1, 2, 3)}
	a, _ := Encrypt(k, []byte("x"))
	b, _ := Encrypt(long, []byte("x"))
	if !bytes.Equal(a, b) {
		t.Error("a longer secret must use its first 16 bytes, as Ceph does")
	}
}

func TestEnvelope(t *testing.T) {
	k, other := mustKey(t, 1), mustKey(t, 2)
	ct, err := Seal(k, []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := Open(k, ct); err != nil || string(pt) != "payload" {
		t.Fatalf("Open = %q %v", pt, err)
	}
	if _, err := Open(other, ct); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Open with another key = %v, want ErrDecrypt", err)
	}
	ct[len(ct)-20] ^= 1
	if _, err := Open(k, ct); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Open of a changed ciphertext = %v, want ErrDecrypt", err)
	}
	pre, _ := AppendSealed([]byte{9}, k, nil)
	if pre[0] != 9 || binary.LittleEndian.Uint32(pre[1:]) != uint32(len(pre)-5) {
		t.Errorf("AppendSealed prefix %x", pre[:5])
	}
}

func TestClientProofChanges(t *testing.T) {
	k := mustKey(t, 1)
	p1, _ := ClientProof(k, 1, 2)
	p2, _ := ClientProof(k, 2, 1)
	p3, _ := ClientProof(mustKey(t, 2), 1, 2)
	if p1 == p2 || p1 == p3 {
		t.Errorf("proofs %x %x %x", p1, p2, p3)
	}
}

// testService is a service with rotating secrets, and what is needed to hand out its tickets.
type testService struct {
	keys *ServiceKeys
}

func newTestService(t testing.TB, service wire.EntityType) *testService {
	var r RotatingSecrets
	for i := uint64(1); i <= 3; i++ {
		r.Secrets = append(r.Secrets, RotatingSecret{ID: i, Key: mustKey(t, 100+i), Expiration: Utime{Sec: uint32(i) * 3600}})
	}
	r.MaxVer = 3
	return &testService{keys: &ServiceKeys{Service: uint32(service), Rotating: r}}
}

// issue seals a ticket for name/globalID with the current secret and returns what a client
// holds.
func (s *testService) issue(t testing.TB, name wire.AuthEntityName, globalID uint64, seed uint64) (TicketBlob, Key) {
	t.Helper()
	cur, _ := s.keys.Rotating.Current()
	info := ServiceTicketInfo{Ticket: Ticket{Name: name, GlobalID: globalID, Caps: CapsInfo{Caps: []byte("allow *")}},
		SessionKey: mustKey(t, seed)}
	blob, err := SealTicket(&info, cur.Key, cur.ID)
	if err != nil {
		t.Fatal(err)
	}
	return blob, info.SessionKey
}

func TestVerifierChallengeRound(t *testing.T) {
	osd := newTestService(t, wire.EntityOSD)
	blob, sk := osd.issue(t, clientAdmin, 4100, 7)
	az, err := NewAuthorizer(4100, uint32(wire.EntityOSD), blob, sk, newSeededRand(1))
	if err != nil {
		t.Fatal(err)
	}
	first := bytes.Clone(az.Bytes())
	v := NewConnVerifier(osd.keys, newSeededRand(2), true)
	verdict, ch, _, err := v.Verify(first)
	if verdict != Challenge || err != nil {
		t.Fatalf("first: %v %v", verdict, err)
	}
	if err := az.AddChallenge(ch); err != nil {
		t.Fatal(err)
	}
	verdict, reply, peer, err := v.Verify(az.Bytes())
	if verdict != Accept || err != nil || peer.Ticket.Name != clientAdmin || peer.Ticket.GlobalID != 4100 || !peer.SessionKey.Equal(sk) {
		t.Fatalf("answer: %v %+v %v", verdict, peer, err)
	}
	if _, err := az.VerifyReply(reply); err != nil {
		t.Fatal(err)
	}
	// The same connection challenges a new round anew (as the monitor did after RETRY_GLOBAL).
	if verdict, _, _, _ := v.Verify(az.Bytes()); verdict != Challenge {
		t.Errorf("a second round after accepting: %v, want a new challenge", verdict)
	}
	// Another connection: both recorded authorizers are useless.
	other := NewConnVerifier(osd.keys, newSeededRand(3), true)
	if verdict, _, _, _ := other.Verify(first); verdict != Challenge {
		t.Errorf("replayed first authorizer: %v", verdict)
	}
	if verdict, _, _, err := other.Verify(az.Bytes()); verdict != Reject || !errors.Is(err, ErrBadAuthorizer) {
		t.Errorf("replayed answer: %v %v", verdict, err)
	}
	// After that rejection the state starts over.
	if verdict, _, _, _ := other.Verify(first); verdict != Challenge {
		t.Errorf("after a rejection: %v, want a fresh challenge", verdict)
	}
	// A first authorizer again instead of the answer is refused.
	if verdict, _, _, err := other.Verify(first); verdict != Reject || err == nil {
		t.Errorf("an unanswered challenge: %v %v", verdict, err)
	}
	// Without CEPHX_V2 there is no challenge, so replays pass: Ceph's behaviour.
	legacy := NewConnVerifier(osd.keys, newSeededRand(4), false)
	if verdict, _, _, _ := legacy.Verify(first); verdict != Accept {
		t.Errorf("no challenges: %v", verdict)
	}
	// A tampered reply, or one for another nonce, is refused by the client.
	bad := bytes.Clone(reply)
	bad[len(bad)-1] ^= 1
	if _, err := az.VerifyReply(bad); !errors.Is(err, ErrBadAuthorizer) {
		t.Errorf("tampered reply: %v", err)
	}
	wrong, _ := SealAuthorizeReply(sk, az.Nonce+5)
	if _, err := az.VerifyReply(wrong); !errors.Is(err, ErrBadAuthorizer) {
		t.Errorf("reply for another nonce: %v", err)
	}
}

func TestVerifierRejects(t *testing.T) {
	osd := newTestService(t, wire.EntityOSD)
	blob, sk := osd.issue(t, clientAdmin, 4100, 7)
	build := func(globalID uint64, service uint32, b TicketBlob, k Key) []byte {
		az, err := NewAuthorizer(globalID, service, b, k, newSeededRand(1))
		if err != nil {
			t.Fatal(err)
		}
		return az.Bytes()
	}
	unknown := blob
	unknown.SecretID = 9
	retired := &ServiceKeys{Service: uint32(wire.EntityOSD), Rotating: RotatingSecrets{Secrets: osd.keys.Rotating.Secrets[2:]}}
	valid := build(4100, uint32(wire.EntityOSD), blob, sk)
	for _, tc := range []struct {
		name string
		az   []byte
		keys KeyStore
	}{
		{"wrong session key", build(4100, uint32(wire.EntityOSD), blob, mustKey(t, 8)), osd.keys},
		{"global id mismatch", build(4101, uint32(wire.EntityOSD), blob, sk), osd.keys},
		{"unknown secret id", build(4100, uint32(wire.EntityOSD), unknown, sk), osd.keys},
		{"rotated-out secret", valid, retired},
		{"other service", build(4100, uint32(wire.EntityMgr), blob, sk), osd.keys},
		{"own key not held", build(4100, uint32(wire.EntityOSD), TicketBlob{SecretID: SecretIDOwnKey, Blob: blob.Blob}, sk), osd.keys},
		{"empty ticket", build(4100, uint32(wire.EntityOSD), TicketBlob{SecretID: 2}, sk), osd.keys},
		{"truncated", valid[:len(valid)-1], osd.keys},
		{"trailing byte", append(bytes.Clone(valid), 0), osd.keys},
		{"oversized blob length", append(bytes.Clone(valid[:13]), 1, 0xff, 0xff, 0xff, 0xff), osd.keys},
		{"empty", nil, osd.keys},
		{"auth none authorizer", (&wire.AuthNoneAuthorizer{Name: clientAdmin}).AppendEncoded(nil), osd.keys},
	} {
		v := NewConnVerifier(tc.keys, newSeededRand(2), true)
		verdict, reply, _, err := v.Verify(tc.az)
		if verdict != Reject || reply != nil || !errors.Is(err, ErrBadAuthorizer) {
			t.Errorf("%s: %v %x %v", tc.name, verdict, reply, err)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
}

// TestClientErrors feeds a client malformed or refusing monitor replies.
func TestClientErrors(t *testing.T) {
	k := mustKey(t, 1)
	challenge := AppendServerChallenge(nil, 42)
	newClient := func() *Client {
		c := NewClient(ClientConfig{Name: clientAdmin, Key: k, Rand: newSeededRand(1)})
		c.Start()
		return c
	}
	for _, tc := range []struct {
		name  string
		reply wire.MAuthReply
		want  error
	}{
		{"auth none chosen", wire.MAuthReply{Protocol: wire.AuthNone, GlobalID: 1}, ErrProtocol},
		{"global id 0", wire.MAuthReply{Protocol: wire.AuthCephx, ResultBl: challenge}, ErrProtocol},
		{"refused", wire.MAuthReply{Protocol: wire.AuthCephx, Result: -95}, ErrDenied},
		{"short challenge", wire.MAuthReply{Protocol: wire.AuthCephx, GlobalID: 1, ResultBl: challenge[:5]}, wire.ErrShort},
		{"challenge v2", wire.MAuthReply{Protocol: wire.AuthCephx, GlobalID: 1, ResultBl: append([]byte{2}, challenge[1:]...)}, wire.ErrMalformed},
	} {
		if _, err := newClient().Handle(&tc.reply, time.Unix(0, 0)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	ok := wire.MAuthReply{Protocol: wire.AuthCephx, GlobalID: 7, ResultBl: challenge}
	second := func() *Client {
		c := newClient()
		if _, err := c.Handle(&ok, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	otherKey := mustKey(t, 2)
	grant := []Grant{{Service: uint32(wire.EntityAuth), SessionKey: mustKey(t, 3), Validity: Utime{Sec: 60}, Blob: TicketBlob{SecretID: 1, Blob: []byte{1}}}}
	foreign, _ := AppendTicketReply(AppendResponseHeader(nil, ResponseHeader{Type: GetAuthSessionKey}), otherKey, grant, nil)
	wrongType := AppendResponseHeader(nil, ResponseHeader{Type: GetRotatingKey})
	status := AppendResponseHeader(nil, ResponseHeader{Type: GetAuthSessionKey, Status: -1})
	for _, tc := range []struct {
		name string
		bl   []byte
		res  int32
		want error
	}{
		{"EACCES", nil, -13, ErrDenied},
		{"ticket for another key", foreign, 0, ErrDenied},
		{"reply to another request", wrongType, 0, ErrProtocol},
		{"negative status", append(status, 1, 0, 0, 0, 0), 0, ErrDenied},
		{"garbage", []byte{0, 1, 0, 0, 0, 0, 9}, 0, wire.ErrMalformed},
		{"empty", nil, 0, wire.ErrShort},
	} {
		r := wire.MAuthReply{Protocol: wire.AuthCephx, GlobalID: 7, Result: tc.res, ResultBl: tc.bl}
		if _, err := second().Handle(&r, time.Unix(0, 0)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := NewClient(ClientConfig{}).Handle(&ok, time.Unix(0, 0)); !errors.Is(err, ErrProtocol) {
		t.Errorf("a reply before Start: %v", err)
	}
	if _, err := newClient().RequestRotating(); !errors.Is(err, ErrProtocol) {
		t.Errorf("rotating before authenticating: %v", err)
	}
}

func TestSignatures(t *testing.T) {
	sk := mustKey(t, 5)
	m := wire.NewMessage(wire.MsgPing, []byte("front"))
	m.Middle, m.Data = []byte("mid"), []byte("data")
	m.Header.Seq = 12
	m.Header.FrontLen, m.Header.MiddleLen, m.Header.DataLen = 5, 3, 4
	m.Seal(true, true)
	for _, features := range []uint64{wire.FeatureMsgAuth, wire.FeatureMsgAuth | wire.FeatureCephxV2} {
		mm := *m
		if err := Sign(sk, &mm, features); err != nil || mm.Footer.Flags&wire.FooterSigned == 0 {
			t.Fatal(err)
		}
		if err := CheckSignature(sk, &mm, features); err != nil {
			t.Fatal(err)
		}
		if err := CheckSignature(mustKey(t, 6), &mm, features); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%#x: another session key verifies", features)
		}
		tampered := mm
		tampered.Header.CRC ^= 1
		if err := CheckSignature(sk, &tampered, features); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%#x: a changed header crc verifies", features)
		}
		tampered = mm
		tampered.Footer.FrontCRC ^= 1
		err := CheckSignature(sk, &tampered, features)
		if features&wire.FeatureCephxV2 != 0 && !errors.Is(err, ErrBadSignature) {
			t.Errorf("%#x: a changed front crc verifies", features)
		}
		if features&wire.FeatureCephxV2 == 0 && err != nil {
			// The legacy signature is the first cipher block: only the low 24 bits of the
			// header crc reach it (Ceph's weakness, fixed by CEPHX_V2).
			t.Errorf("legacy signature covers the front crc: %v", err)
		}
		if err := CheckSignature(sk, &tampered, features&^wire.FeatureMsgAuth); err != nil {
			t.Errorf("without MSG_AUTH there is nothing to check: %v", err)
		}
	}
	in := SignatureInputOf(&m.Header, &m.Footer)
	legacy, _ := Signature(sk, in, 0)
	v2, _ := Signature(sk, in, wire.FeatureCephxV2)
	if legacy != independentLegacySignature(t, sk, in) || legacy == v2 {
		t.Errorf("legacy %#x, v2 %#x", legacy, v2)
	}
	// Without CEPHX_V2 the lengths and seq are covered only through the header crc.
	in2 := in
	in2.DataLen++
	if l2, _ := Signature(sk, in2, 0); l2 != legacy {
		t.Error("the legacy signature covers data_len directly")
	}
	if v2b, _ := Signature(sk, in2, wire.FeatureCephxV2); v2b == v2 {
		t.Error("the CEPHX_V2 signature does not cover data_len")
	}
}

// independentLegacySignature follows the kernel's description of the pre-CEPHX_V2 signature
// (net/ceph/auth_x.c): encrypt {u8 1, le64 magic, le32 16, header crc, front crc, middle crc,
// data crc} and read the first 8 ciphertext bytes.
func independentLegacySignature(t *testing.T, sk Key, in SignatureInput) uint64 {
	t.Helper()
	b := []byte{1}
	b = binary.LittleEndian.AppendUint64(b, 0xff009cad8826aa55)
	for _, v := range []uint32{16, in.HeaderCRC, in.FrontCRC, in.MiddleCRC, in.DataCRC} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	b = append(b, 3, 3, 3) // 29 bytes + 3 of padding
	block, _ := aes.NewCipher(sk.Secret)
	cipher.NewCBCEncrypter(block, []byte("cephsageyudagreg")).CryptBlocks(b, b)
	return binary.LittleEndian.Uint64(b)
}

func TestRotatingSecretsAndKeys(t *testing.T) {
	osd := newTestService(t, wire.EntityOSD)
	enc := osd.keys.Rotating.AppendEncoded(nil)
	back, err := DecodeRotatingSecrets(enc)
	if err != nil || len(back.Secrets) != 3 || back.MaxVer != 3 || !back.Secrets[1].Key.Equal(osd.keys.Rotating.Secrets[1].Key) {
		t.Fatalf("%+v %v", back, err)
	}
	if cur, _ := back.Current(); cur.ID != 2 {
		t.Errorf("current secret %d, want 2 (the middle of previous, current, next)", cur.ID)
	}
	swapped := osd.keys.Rotating
	swapped.Secrets = []RotatingSecret{swapped.Secrets[1], swapped.Secrets[0]}
	if _, err := DecodeRotatingSecrets(swapped.AppendEncoded(nil)); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("decreasing ids: %v", err)
	}
	huge := binary.LittleEndian.AppendUint32([]byte{1}, 1<<30)
	if _, err := DecodeRotatingSecrets(huge); !errors.Is(err, wire.ErrTooLarge) {
		t.Errorf("2^30 secrets: %v", err)
	}
	own := &ServiceKeys{Service: uint32(wire.EntityMon), Own: mustKey(t, 1)}
	if _, ok := own.Secret(uint32(wire.EntityMon), SecretIDOwnKey); !ok {
		t.Error("own key not found")
	}
	if _, ok := own.Secret(uint32(wire.EntityMon), 1); ok {
		t.Error("a rotating secret found in an empty set")
	}
}
