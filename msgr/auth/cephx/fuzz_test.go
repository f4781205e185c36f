package cephx_test

import (
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/fuzz/cephxfuzz"
	"github.com/msgrsim/msgrsim/internal/fuzzing"
	"github.com/msgrsim/msgrsim/msgr/auth/cephx"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Native fuzz targets for every decoder that takes peer bytes. The checks live in
// fuzz/cephxfuzz (shared with its go-fuzz entry points); the seeds come from the real Ceph
// vectors (testdata/vectors.json) and the keyring corpus, and the checks use the keys of the
// cluster those were captured from, so the seeds decrypt. Crashers found so far live in
// testdata/fuzz/<target>/.

func FuzzParseKeyring(f *testing.F) {
	s := cephx.LoadFuzzSeeds(f)
	for _, c := range s.Corpus {
		f.Add([]byte(c))
	}
	for _, k := range s.Keyrings {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, cephxfuzz.CheckParseKeyring(b)) })
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{cephx.TestKey, cephxfuzz.AdminKey, cephx.TestKey + "x", "\n" + cephx.TestKey, "AQ==",
		cephx.Key{Type: 9}.String(), ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { fuzzing.Report(t, cephxfuzz.CheckParseKey(s)) })
}

func FuzzDecodeAuthorizer(f *testing.F) {
	s := cephx.LoadFuzzSeeds(f)
	for _, a := range s.Authorizers {
		f.Add(a)
	}
	for _, r := range s.Requests {
		if req, err := cephx.DecodeRequest(r); err == nil && req.Type == cephx.GetPrincipalSessionKey {
			f.Add(req.Authorizer.AppendEncoded(nil))
			f.Add(req.Authorizer.Ticket.AppendEncoded(nil))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, cephxfuzz.CheckDecodeAuthorizer(b)) })
}

// monSeeds opens the mon<->mon authorizers of the vectors (sealed with the "mon." key):
// their ticket and CephXAuthorize plaintexts, and their global ids.
func monSeeds(f *testing.F) (tickets, authorizes [][]byte, globalIDs []uint64) {
	_, mon, _ := cephxfuzz.Keys()
	keys := &cephx.ServiceKeys{Service: uint32(wire.EntityMon), Own: mon}
	for _, azb := range cephx.LoadFuzzSeeds(f).Authorizers {
		a, err := cephx.DecodeAuthorizer(azb)
		if err != nil {
			f.Fatal(err)
		}
		if a.Ticket.SecretID != cephx.SecretIDOwnKey {
			continue // sealed with a rotating secret
		}
		tp, err := cephx.Open(mon, a.Ticket.Blob)
		if err != nil {
			f.Fatal(err)
		}
		info, _, err := cephx.OpenAuthorizer(azb, keys)
		if err != nil {
			f.Fatal(err)
		}
		ap, err := cephx.Open(info.SessionKey, a.Sealed)
		if err != nil {
			f.Fatal(err)
		}
		tickets, authorizes, globalIDs = append(tickets, tp), append(authorizes, ap), append(globalIDs, a.GlobalID)
	}
	if len(tickets) == 0 {
		f.Fatal("no mon<->mon authorizer in the vectors")
	}
	return tickets, authorizes, globalIDs
}

func FuzzSealedAuthorizer(f *testing.F) {
	tickets, authorizes, gids := monSeeds(f)
	for i := range tickets {
		f.Add(tickets[i], authorizes[i], gids[i])
	}
	f.Fuzz(func(t *testing.T, ticketPlain, authorizePlain []byte, globalID uint64) {
		fuzzing.Report(t, cephxfuzz.CheckSealedAuthorizer(ticketPlain, authorizePlain, globalID))
	})
}

func FuzzAuthorizerReply(f *testing.F) {
	nonce := uint64(0x0807060504030201) // cephxfuzz.Rand's first draw
	good := (&cephx.AuthorizeReply{NoncePlusOne: nonce + 1}).AppendEncoded(nil)
	for _, r := range cephx.LoadFuzzSeeds(f).Replies {
		f.Add(r, good)
		f.Add(r, cephx.AppendServerChallenge(nil, 77))
	}
	f.Fuzz(func(t *testing.T, raw, plain []byte) { fuzzing.Report(t, cephxfuzz.CheckAuthorizerReply(raw, plain)) })
}

func FuzzDecodeRequest(f *testing.F) {
	for _, r := range cephx.LoadFuzzSeeds(f).Requests {
		f.Add(r)
	}
	f.Add((&cephx.Request{Type: cephx.GetRotatingKey}).AppendEncoded(nil))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, cephxfuzz.CheckDecodeRequest(b)) })
}

func FuzzDecodeResponse(f *testing.F) {
	for _, r := range cephx.LoadFuzzSeeds(f).Responses {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, cephxfuzz.CheckDecodeResponse(b)) })
}

func FuzzDecodePlain(f *testing.F) {
	tickets, authorizes, _ := monSeeds(f)
	for i := range tickets {
		f.Add(cephxfuzz.PlainServiceTicketInfo, tickets[i])
		f.Add(cephxfuzz.PlainAuthorize, authorizes[i])
	}
	_, mon, session := cephxfuzz.Keys()
	f.Add(cephxfuzz.PlainServiceTicket, (&cephx.ServiceTicket{SessionKey: session}).AppendEncoded(nil))
	f.Add(cephxfuzz.PlainRotatingSecrets, (&cephx.RotatingSecrets{Secrets: []cephx.RotatingSecret{{ID: 1, Key: mon}}, MaxVer: 1}).AppendEncoded(nil))
	f.Add(cephxfuzz.PlainAuthorizeReply, (&cephx.AuthorizeReply{NoncePlusOne: 9}).AppendEncoded(nil))
	f.Add(cephxfuzz.PlainChallenge, cephx.AppendServerChallenge(nil, 5))
	f.Fuzz(func(t *testing.T, kind byte, b []byte) { fuzzing.Report(t, cephxfuzz.CheckPlain(kind, b)) })
}

func FuzzClient(f *testing.F) {
	for _, ex := range cephx.LoadFuzzSeeds(f).Exchanges {
		for len(ex) < 3 {
			ex = append(ex, nil)
		}
		f.Add(ex[0], ex[1], ex[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c []byte) { fuzzing.Report(t, cephxfuzz.CheckClient([][]byte{a, b, c})) })
}

// TestFuzzKeysMatchVectors keeps cephxfuzz's fixed keys those of the vectors, so that the
// seeds decrypt (regenerating the vectors changes the keys).
func TestFuzzKeysMatchVectors(t *testing.T) {
	admin, mon, session := cephxfuzz.Keys()
	kr, err := cephx.ReadKeyring("testdata/keyring")
	if err != nil {
		t.Fatal(err)
	}
	ka, _ := kr.Key(wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "admin"})
	km, _ := kr.Key(wire.AuthEntityName{Type: uint32(wire.EntityMon)})
	if !ka.Equal(admin) || !km.Equal(mon) {
		t.Fatal("cephxfuzz.AdminKey and MonKey are not testdata/keyring's keys")
	}
	opened := 0
	for _, r := range cephx.LoadFuzzSeeds(t).Responses {
		if _, err := cephx.DecodeResponse(r, cephx.ResponseKeys{Secret: admin, Session: session}); err == nil {
			opened++
		}
	}
	if opened < 5 {
		t.Fatalf("only %d real responses open with the fuzz keys: is cephxfuzz.SessionKey a session key of the vectors?", opened)
	}
}

// FuzzMonitor: hostile MAuth sequences against the monitor's auth service. Seeds: a whole
// good exchange of a Go client with the same (deterministic) monitor the check builds, and
// the real CLI's requests after a negotiation.
func FuzzMonitor(f *testing.F) {
	admin, _, _ := cephxfuzz.Keys()
	name := wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "admin"}
	kr := &cephx.Keyring{Entries: []cephx.KeyringEntry{{Name: name, Key: admin, Caps: map[string]string{"mon": "allow *"}}}}
	now := time.Unix(1700000000, 0)
	mon, err := cephx.NewMonitor(kr, &cephxfuzz.Rand{}, 4100, now)
	if err != nil {
		f.Fatal(err)
	}
	s := mon.NewSession()
	c := cephx.NewClient(cephx.ClientConfig{Name: name, Key: admin, Separate: true, Rand: &cephxfuzz.Rand{}})
	var fronts [][]byte
	for next := c.Start(); next != nil && len(fronts) < 3; {
		fronts = append(fronts, next.AppendFront(nil))
		r, _ := s.Handle(next, now)
		if next, err = c.Handle(r, now); err != nil {
			f.Fatal(err)
		}
	}
	if !c.Done() || len(fronts) != 3 {
		f.Fatalf("the seed exchange did not complete: %d MAuths", len(fronts))
	}
	f.Add(fronts[0], fronts[1], fronts[2])
	for _, req := range cephx.LoadFuzzSeeds(f).Requests {
		a := wire.MAuth{SessionMon: -1, Protocol: wire.AuthCephx, AuthPayload: req}
		f.Add(fronts[0], a.AppendFront(nil), []byte(nil))
	}
	f.Fuzz(func(t *testing.T, a, b, c []byte) { fuzzing.Report(t, cephxfuzz.CheckMonitor([][]byte{a, b, c})) })
}

// FuzzServerAuth: a hostile client's connect authorizers (two rounds, with its authorizer
// protocol and features) against cephx.Messenger's accept side. Seeds: a well-behaved
// client's authorizer and its answer to the challenge, with and without CEPHX_V2, and the
// real vectors' authorizers.
func FuzzServerAuth(f *testing.F) {
	first, second, err := cephxfuzz.ServerAuthSeed()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(wire.AuthCephx, wire.FeaturesAll, first, second)
	f.Add(wire.AuthCephx, wire.FeaturesAll&^wire.FeatureCephxV2, first, first)
	f.Add(wire.AuthCephx, wire.FeaturesAll, first, first)
	f.Add(wire.AuthNone, wire.FeaturesAll, first, second)
	for _, a := range cephx.LoadFuzzSeeds(f).Authorizers {
		f.Add(wire.AuthCephx, wire.FeaturesAll, a, second)
	}
	f.Fuzz(func(t *testing.T, protocol uint32, features uint64, a, b []byte) {
		fuzzing.Report(t, cephxfuzz.CheckServerAuth(protocol, features, a, b))
	})
}

// TestServerAuthSeedAccepted: FuzzServerAuth's seed is a session the check accepts (so the
// fuzzer starts from the accepting path).
func TestServerAuthSeedAccepted(t *testing.T) {
	first, second, err := cephxfuzz.ServerAuthSeed()
	if err != nil {
		t.Fatal(err)
	}
	if err := cephxfuzz.CheckServerAuth(wire.AuthCephx, wire.FeaturesAll, first, second); err != nil {
		t.Fatal(err)
	}
	m := cephx.NewMessenger(wire.EntityOSD)
	m.SetServiceKeys(&cephx.ServiceKeys{Service: uint32(wire.EntityOSD), Rotating: cephx.RotatingSecrets{
		Secrets: []cephx.RotatingSecret{{ID: 5, Key: func() cephx.Key { _, k, _ := cephxfuzz.Keys(); return k }()}}}})
	s := m.Server(&cephxfuzz.Rand{})
	if v := s.Verify(wire.EntityClient, wire.AuthCephx, first, wire.FeaturesAll); v.Result != 0 {
		t.Fatalf("first round: %d %v", v.Result, v.Reason)
	}
	if v := s.Verify(wire.EntityClient, wire.AuthCephx, second, wire.FeaturesAll); v.Result != 1 || v.Session == nil {
		t.Fatalf("second round: %d %v", v.Result, v.Reason)
	}
}
