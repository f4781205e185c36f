//go:build linux

package cephx_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/auth/cephx"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Feature sets of a client's connection to the monitor.
const (
	noV2      = wire.FeaturesAll &^ wire.FeatureCephxV2
	noMsgAuth = wire.FeaturesAll &^ wire.FeatureMsgAuth
	noEither  = wire.FeaturesAll &^ wire.FeatureCephxV2 &^ wire.FeatureMsgAuth
)

// monReqCase is one first MAuth under some Requirements: refused says whether a real
// ceph-mon 16.2.15 with the same options answered EOPNOTSUPP (measured, see
// TestInteropMAuthRequirementsRealMon and docs/cephx.md).
type monReqCase struct {
	name     string
	req      cephx.Requirements
	entity   wire.EntityType
	features uint64
	refused  bool
}

func monReqCases() []monReqCase {
	def := cephx.DefaultRequirements()
	sigs := def
	sigs.RequireSignatures = true
	svcSigs := def
	svcSigs.ServiceRequireSignatures = true
	clSigs := def
	clSigs.ClusterRequireSignatures = true
	v1 := cephx.Requirements{RequireVersion: 1, ClusterRequireVersion: 1, ServiceRequireVersion: 1}
	svcV1 := def
	svcV1.ServiceRequireVersion = 1
	onlyCl := v1
	onlyCl.ClusterRequireVersion = 2
	onlySvc := v1
	onlySvc.ServiceRequireVersion = 2
	return []monReqCase{
		{"defaults, every feature", def, wire.EntityClient, wire.FeaturesAll, false},
		{"defaults, client without CEPHX_V2", def, wire.EntityClient, noV2, true},
		{"defaults, osd without CEPHX_V2", def, wire.EntityOSD, noV2, true},
		{"defaults, mon without CEPHX_V2", def, wire.EntityMon, noV2, true},
		{"defaults, client without MSG_AUTH", def, wire.EntityClient, noMsgAuth, false},
		{"defaults, client without either: version not looked at", def, wire.EntityClient, noEither, false},
		{"defaults, osd without either", def, wire.EntityOSD, noEither, false},
		{"require_signatures, client without MSG_AUTH", sigs, wire.EntityClient, noMsgAuth, true},
		{"require_signatures, mgr without either", sigs, wire.EntityMgr, noEither, true},
		{"require_signatures, client with both", sigs, wire.EntityClient, wire.FeaturesAll, false},
		{"service_require_signatures, client without MSG_AUTH", svcSigs, wire.EntityClient, noMsgAuth, true},
		{"service_require_signatures, mon without MSG_AUTH", svcSigs, wire.EntityMon, noMsgAuth, false},
		{"service_require_signatures, osd without MSG_AUTH", svcSigs, wire.EntityOSD, noMsgAuth, false},
		{"cluster_require_signatures, mon without MSG_AUTH", clSigs, wire.EntityMon, noMsgAuth, true},
		{"cluster_require_signatures, osd without MSG_AUTH", clSigs, wire.EntityOSD, noMsgAuth, true},
		{"cluster_require_signatures, mds without MSG_AUTH", clSigs, wire.EntityMDS, noMsgAuth, true},
		{"cluster_require_signatures, client without MSG_AUTH", clSigs, wire.EntityClient, noMsgAuth, false},
		{"service_require_version 1 (require_version 2), client without CEPHX_V2", svcV1, wire.EntityClient, noV2, true},
		{"all versions 1, client without CEPHX_V2", v1, wire.EntityClient, noV2, false},
		{"all versions 1, osd without CEPHX_V2", v1, wire.EntityOSD, noV2, false},
		{"only cluster_require_version 2, client without CEPHX_V2", onlyCl, wire.EntityClient, noV2, false},
		{"only cluster_require_version 2, mon without CEPHX_V2", onlyCl, wire.EntityMon, noV2, true},
		{"only service_require_version 2, client without CEPHX_V2", onlySvc, wire.EntityClient, noV2, true},
		{"only service_require_version 2, mgr without CEPHX_V2", onlySvc, wire.EntityMgr, noV2, false},
	}
}

// TestMonitorRequirements: the Go auth service applies its Requirements to the first MAuth
// as a real monitor does. A refused client gets EOPNOTSUPP at negotiation, before the server
// challenge: the reply has the request's protocol (unknown), the global id the client sent
// and no payload, no global id is assigned, and the session's next cephx request is EINVAL
// (no auth handler). An allowed one is challenged and goes on to its tickets.
func TestMonitorRequirements(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	for _, tc := range monReqCases() {
		t.Run(tc.name, func(t *testing.T) {
			name := wire.AuthEntityName{Type: uint32(tc.entity), ID: "x"}
			kr := &cephx.Keyring{Entries: []cephx.KeyringEntry{{Name: name, Key: key(t, 1)}}}
			mon, err := cephx.NewMonitor(kr, &seeded{3}, 4100, now)
			if err != nil {
				t.Fatal(err)
			}
			mon.SetRequirements(tc.req)
			for _, sentGID := range []uint64{0, 4242} {
				s := mon.NewConnSession(tc.features)
				first := &wire.MAuth{SessionMon: -1, Protocol: wire.AuthUnknown,
					AuthPayload: cephx.InitialRequest(name, sentGID, wire.AuthCephx)}
				r, err := s.Handle(first, now)
				if tc.refused {
					checkRefusedNegotiation(t, s, r, err, sentGID, now)
					continue
				}
				if err != nil || r.Result != 0 || r.Protocol != wire.AuthCephx || r.GlobalID == 0 {
					t.Fatalf("gid %d: %+v, %v; want a challenge", sentGID, r, err)
				}
			}
			// An allowed client authenticates whole over such a connection.
			c := cephx.NewClient(cephx.ClientConfig{Name: name, Key: key(t, 1), Rand: &seeded{4}})
			_, err = exchangeOver(t, mon.NewConnSession(tc.features), c, now)
			if tc.refused {
				if !errors.Is(err, cephx.ErrDenied) || !strings.Contains(err.Error(), "EOPNOTSUPP") {
					t.Fatalf("client: %v, want ErrDenied EOPNOTSUPP", err)
				}
				return
			}
			if err != nil || !c.Done() {
				t.Fatalf("client: %v (done %v)", err, c.Done())
			}
		})
	}
}

func checkRefusedNegotiation(t *testing.T, s *cephx.MonSession, r *wire.MAuthReply, err error, sentGID uint64, now time.Time) {
	t.Helper()
	if !errors.Is(err, cephx.ErrRefused) || !errors.Is(err, cephx.ErrRequirement) {
		t.Fatalf("gid %d: %v, want ErrRefused and ErrRequirement", sentGID, err)
	}
	if r.Protocol != wire.AuthUnknown || r.Result != -95 || r.GlobalID != sentGID || len(r.ResultBl) != 0 {
		t.Fatalf("gid %d: reply %+v, want protocol 0, -95, global id %d, no payload", sentGID, r, sentGID)
	}
	if s.GlobalID() != 0 || s.Authenticated() {
		t.Fatalf("gid %d: global id %d assigned, authenticated %v", sentGID, s.GlobalID(), s.Authenticated())
	}
	req := cephx.Request{Type: cephx.GetAuthSessionKey, Authenticate: cephx.Authenticate{Version: 3}}
	r, err = s.Handle(&wire.MAuth{Protocol: wire.AuthCephx, AuthPayload: req.AppendEncoded(nil)}, now)
	if err == nil || r.Result != -22 {
		t.Fatalf("gid %d: cephx request after the refusal: %+v, %v; want EINVAL", sentGID, r, err)
	}
}

// exchangeOver is exchange over a given session.
func exchangeOver(t *testing.T, s *cephx.MonSession, c *cephx.Client, now time.Time) (*cephx.MonSession, error) {
	t.Helper()
	return exchangeOverFrom(t, s, c, c.Start(), now)
}

// exchangeOverFrom is exchangeOver from the client's MAuth next.
func exchangeOverFrom(t *testing.T, s *cephx.MonSession, c *cephx.Client, next *wire.MAuth, now time.Time) (*cephx.MonSession, error) {
	t.Helper()
	for i := 0; next != nil; i++ {
		if i > 5 {
			t.Fatal("the exchange does not end")
		}
		reply, _ := s.Handle(next, now)
		var err error
		if next, err = c.Handle(reply, now); err != nil {
			return s, err
		}
	}
	return s, nil
}

// TestMonitorRequirementsAssignNoGlobalID: refusals take no global id; the next allowed
// client gets the first one.
func TestMonitorRequirementsAssignNoGlobalID(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	kr := &cephx.Keyring{Entries: []cephx.KeyringEntry{{Name: admin, Key: key(t, 1)}}}
	mon, err := cephx.NewMonitor(kr, &seeded{3}, 4100, now)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		c := cephx.NewClient(cephx.ClientConfig{Name: admin, Key: key(t, 1), Rand: &seeded{4}})
		if _, err := exchangeOver(t, mon.NewConnSession(noV2), c, now); !errors.Is(err, cephx.ErrDenied) {
			t.Fatalf("without CEPHX_V2: %v", err)
		}
	}
	c := cephx.NewClient(cephx.ClientConfig{Name: admin, Key: key(t, 1), Rand: &seeded{4}})
	if _, err := exchangeOver(t, mon.NewConnSession(wire.FeaturesAll), c, now); err != nil || c.GlobalID() != 4100 {
		t.Fatalf("allowed client: %v, global id %d, want 4100", err, c.GlobalID())
	}
}

// TestMonitorSecondNegotiation: a first MAuth sent again on a session that negotiated cephx
// is EINVAL, with the request's protocol and the session's global id, as a real monitor
// answers (TestInteropMAuthRequirementsRealMon); the session goes on with its challenge.
func TestMonitorSecondNegotiation(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	kr := &cephx.Keyring{Entries: []cephx.KeyringEntry{{Name: admin, Key: key(t, 1)}}}
	mon, err := cephx.NewMonitor(kr, &seeded{3}, 4100, now)
	if err != nil {
		t.Fatal(err)
	}
	s := mon.NewSession()
	c := cephx.NewClient(cephx.ClientConfig{Name: admin, Key: key(t, 1), Rand: &seeded{4}})
	first := c.Start()
	challenge, err := s.Handle(first, now)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Handle(first, now)
	if !errors.Is(err, cephx.ErrRefused) || again.Protocol != wire.AuthUnknown || again.Result != -22 ||
		again.GlobalID != 4100 || len(again.ResultBl) != 0 {
		t.Fatalf("second negotiation: %+v, %v; want protocol 0, EINVAL, global id 4100", again, err)
	}
	next, err := c.Handle(challenge, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exchangeOverFrom(t, s, c, next, now); err != nil || !c.Done() || !s.Authenticated() {
		t.Fatalf("after the second negotiation: %v (done %v)", err, c.Done())
	}
}
