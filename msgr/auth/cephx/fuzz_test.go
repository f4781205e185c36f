package cephx

import (
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/internal/fuzzing"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Native fuzz targets for every decoder that takes peer bytes. The checks live in
// fuzzcheck.go (shared with the go-fuzz entry points of gofuzz.go); the seeds come from the
// real Ceph vectors (testdata/vectors.json) and the keyring corpus, and the checks use the
// keys of the cluster those were captured from, so the seeds decrypt.

// realSeeds collects byte strings from the vectors.
type realSeeds struct {
	authorizers [][]byte // every connect authorizer (mon<->mon)
	replies     [][]byte // every connect reply authorizer (challenges, replies)
	requests    [][]byte // cephx MAuth payloads
	responses   [][]byte // cephx MAuthReply payloads
	replyFronts [][]byte // whole MAuthReply fronts, per exchange in order
	exchanges   [][][]byte
}

func loadSeeds(tb testing.TB) *realSeeds {
	tb.Helper()
	s := &realSeeds{}
	for _, cv := range loadVectors(tb).Conversations {
		for _, h := range cv.Handshake {
			if h.Authorizer == "" {
				continue
			}
			if h.Kind == "CONNECT" {
				s.authorizers = append(s.authorizers, unhex(tb, h.Authorizer))
			} else {
				s.replies = append(s.replies, unhex(tb, h.Authorizer))
			}
		}
		var fronts [][]byte
		for _, m := range cv.Messages {
			switch m.Type {
			case wire.MsgAuth:
				if a, err := wire.DecodeMAuth(unhex(tb, m.Front)); err == nil && a.Protocol == wire.AuthCephx {
					s.requests = append(s.requests, a.AuthPayload)
				}
			case wire.MsgAuthReply:
				front := unhex(tb, m.Front)
				fronts = append(fronts, front)
				if r, err := wire.DecodeMAuthReply(front); err == nil {
					s.responses = append(s.responses, r.ResultBl)
				}
			}
		}
		if len(fronts) > 0 {
			s.exchanges = append(s.exchanges, fronts)
			s.replyFronts = append(s.replyFronts, fronts...)
		}
	}
	return s
}

func FuzzParseKeyring(f *testing.F) {
	for _, c := range keyringCorpus {
		f.Add([]byte(strings.ReplaceAll(c, "K", testKey)))
	}
	for _, p := range []string{"testdata/keyring", "testdata/wrong.keyring"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, checkParseKeyring(b)) })
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{testKey, fuzzAdminKey, testKey + "x", "\n" + testKey, "AQ==", Key{Type: 9}.String(), ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { fuzzing.Report(t, checkParseKey(s)) })
}

func FuzzDecodeAuthorizer(f *testing.F) {
	s := loadSeeds(f)
	for _, a := range s.authorizers {
		f.Add(a)
	}
	for _, r := range s.requests {
		if req, err := DecodeRequest(r); err == nil && req.Type == GetPrincipalSessionKey {
			f.Add(r[2 : len(r)-5])
			f.Add(req.Authorizer.Ticket.AppendEncoded(nil))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, checkDecodeAuthorizer(b)) })
}

func FuzzSealedAuthorizer(f *testing.F) {
	s := loadSeeds(f)
	keys := &ServiceKeys{Service: uint32(wire.EntityMon), Own: fuzzMon}
	for _, azb := range s.authorizers {
		a, err := DecodeAuthorizer(azb)
		if err != nil {
			f.Fatal(err)
		}
		if a.Ticket.SecretID != SecretIDOwnKey {
			continue // sealed with a rotating secret: only the mon<->mon ones open with fuzzMon
		}
		ticketPlain, err := Open(fuzzMon, a.Ticket.Blob)
		if err != nil {
			f.Fatal(err)
		}
		info, _, err := OpenAuthorizer(azb, keys)
		if err != nil {
			f.Fatal(err)
		}
		authPlain, err := Open(info.SessionKey, a.Sealed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ticketPlain, authPlain, a.GlobalID)
	}
	f.Fuzz(func(t *testing.T, ticketPlain, authorizePlain []byte, globalID uint64) {
		fuzzing.Report(t, checkSealedAuthorizer(ticketPlain, authorizePlain, globalID))
	})
}

func FuzzAuthorizerReply(f *testing.F) {
	s := loadSeeds(f)
	nonce := binary.LittleEndian.Uint64([]byte{1, 2, 3, 4, 5, 6, 7, 8}) // fuzzRand's first draw
	e := encoder{}
	e.authorizeReply(&AuthorizeReply{NoncePlusOne: nonce + 1})
	good := e.b
	for _, r := range s.replies {
		f.Add(r, good)
		f.Add(r, appendChallenge(nil, 77))
	}
	f.Fuzz(func(t *testing.T, raw, plain []byte) { fuzzing.Report(t, checkAuthorizerReply(raw, plain)) })
}

func FuzzDecodeRequest(f *testing.F) {
	for _, r := range loadSeeds(f).requests {
		f.Add(r)
	}
	f.Add((&Request{Type: GetRotatingKey}).AppendEncoded(nil))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, checkDecodeRequest(b)) })
}

func FuzzDecodeResponse(f *testing.F) {
	for _, r := range loadSeeds(f).responses {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, checkDecodeResponse(b)) })
}

func FuzzDecodePlain(f *testing.F) {
	s := loadSeeds(f)
	keys := &ServiceKeys{Service: uint32(wire.EntityMon), Own: fuzzMon}
	for _, azb := range s.authorizers {
		a, _ := DecodeAuthorizer(azb)
		if pt, err := Open(fuzzMon, a.Ticket.Blob); err == nil && a.Ticket.SecretID == SecretIDOwnKey {
			f.Add(byte(0), pt)
		}
		if info, _, err := OpenAuthorizer(azb, keys); err == nil {
			if pt, err := Open(info.SessionKey, a.Sealed); err == nil {
				f.Add(byte(3), pt)
			}
		}
	}
	f.Add(byte(1), func() []byte { e := encoder{}; e.serviceTicket(&ServiceTicket{SessionKey: fuzzSession}); return e.b }())
	f.Add(byte(2), (&RotatingSecrets{Secrets: []RotatingSecret{{ID: 1, Key: fuzzMon}}, MaxVer: 1}).AppendEncoded(nil))
	f.Add(byte(4), func() []byte { e := encoder{}; e.authorizeReply(&AuthorizeReply{NoncePlusOne: 9}); return e.b }())
	f.Add(byte(5), appendChallenge(nil, 5))
	f.Fuzz(func(t *testing.T, kind byte, b []byte) { fuzzing.Report(t, checkPlain(kind, b)) })
}

func FuzzClient(f *testing.F) {
	for _, ex := range loadSeeds(f).exchanges {
		for len(ex) < 3 {
			ex = append(ex, nil)
		}
		f.Add(ex[0], ex[1], ex[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c []byte) { fuzzing.Report(t, checkClient([][]byte{a, b, c})) })
}

// TestFuzzKeysMatchVectors keeps fuzzcheck.go's fixed keys those of the vectors, so that the
// seeds decrypt (regenerating the vectors changes the keys).
func TestFuzzKeysMatchVectors(t *testing.T) {
	keys := loadRealKeys(t)
	if !keys.admin.Equal(fuzzAdmin) || !keys.mon.Equal(fuzzMon) {
		t.Fatal("fuzzAdminKey and fuzzMonKey are not testdata/keyring's keys")
	}
	opened := 0
	for _, r := range loadSeeds(t).responses {
		if _, err := DecodeResponse(r, ResponseKeys{Secret: fuzzAdmin, Session: fuzzSession}); err == nil {
			opened++
		}
	}
	if opened < 5 {
		t.Fatalf("only %d real responses open with the fuzz keys: is fuzzSessionKey a session key of the vectors?", opened)
	}
}
