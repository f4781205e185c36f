//go:build linux

package cephx_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/auth/cephx"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// TestInteropMAuthRequirementsRealMon compares the Go auth service with a real ceph-mon on
// the first MAuth of clients whose connections lack CEPHX_V2, MSG_AUTH or both, for entities
// of every kind, under the cephx_*_require_* options changed at run time (`ceph tell mon.a
// config set`): the real reply to each and cephx.Monitor's, with the same Requirements and the
// connection's negotiated features, agree on protocol, result and payload, and on the global
// id of a refusal (the one the client sent).
func TestInteropMAuthRequirementsRealMon(t *testing.T) {
	mon := startCephxMon(t)
	kr, err := cephx.ReadKeyring(mon.keyring)
	if err != nil {
		t.Fatal(err)
	}
	features := []struct {
		name string
		f    uint64
	}{{"every feature", wire.FeaturesAll}, {"no CEPHX_V2", noV2}, {"no MSG_AUTH", noMsgAuth}, {"neither", noEither}}
	entities := []wire.EntityType{wire.EntityClient, wire.EntityOSD, wire.EntityMon, wire.EntityMgr, wire.EntityMDS}
	set := map[string]string{}
	refusals := 0
	for _, o := range requirementOptions() {
		for k, v := range o.opts {
			if set[k] != v {
				mon.ceph(t, "tell", "mon.a", "config", "set", k, v)
				set[k] = v
			}
		}
		goMon, err := cephx.NewMonitor(kr, &seeded{5}, 4100, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		goMon.SetRequirements(o.req)
		for _, f := range features {
			for _, e := range entities {
				for _, gid := range []uint64{0, 4242} {
					name := wire.AuthEntityName{Type: uint32(e), ID: "x"}
					what := fmt.Sprintf("%s, %s, %s, global id %d", o.name, f.name, name, gid)
					if probeMAuthRequirement(t, mon, goMon, name, f.f, gid, what) {
						refusals++
					}
				}
			}
		}
	}
	if refusals == 0 {
		t.Fatal("the real monitor refused nothing")
	}
	secondNegotiation(t, mon, kr)
	t.Logf("%d refusals agreed on", refusals)
}

// probeMAuthRequirement sends one first MAuth to the real monitor over a connection offering
// features and compares its reply with the Go monitor's; it reports a refusal.
func probeMAuthRequirement(t *testing.T, mon *cephxMon, goMon *cephx.Monitor, name wire.AuthEntityName,
	features, gid uint64, what string) bool {
	t.Helper()
	s := dialMonFeatures(t, mon.addr, admin, features)
	defer s.m.Shutdown()
	first := &wire.MAuth{SessionMon: -1, Protocol: wire.AuthUnknown, AuthPayload: cephx.InitialRequest(name, gid, wire.AuthCephx)}
	s.send(t, first)
	theirs := s.next(t)
	ours, _ := goMon.NewConnSession(s.conn.Features()).Handle(first, time.Now())
	if theirs.Protocol != ours.Protocol || theirs.Result != ours.Result || len(theirs.ResultBl) != len(ours.ResultBl) {
		t.Errorf("%s: real monitor protocol %d result %d payload %d bytes; Go monitor %d %d %d", what,
			theirs.Protocol, theirs.Result, len(theirs.ResultBl), ours.Protocol, ours.Result, len(ours.ResultBl))
	}
	if theirs.Result < 0 && (theirs.GlobalID != gid || ours.GlobalID != gid) {
		t.Errorf("%s: refusal with global id %d (Go %d), want %d", what, theirs.GlobalID, ours.GlobalID, gid)
	}
	return theirs.Result < 0
}

// requirementOptions are option sets applied in turn (each changes what differs from the
// previous one) and the Requirements they mean.
func requirementOptions() []struct {
	name string
	opts map[string]string
	req  cephx.Requirements
} {
	type o = map[string]string
	all := func(sig, csig, ssig bool, v, cv, sv int) o {
		return o{"cephx_require_signatures": fmt.Sprint(sig), "cephx_cluster_require_signatures": fmt.Sprint(csig),
			"cephx_service_require_signatures": fmt.Sprint(ssig), "cephx_require_version": fmt.Sprint(v),
			"cephx_cluster_require_version": fmt.Sprint(cv), "cephx_service_require_version": fmt.Sprint(sv)}
	}
	req := func(sig, csig, ssig bool, v, cv, sv int) cephx.Requirements {
		return cephx.Requirements{RequireSignatures: sig, ClusterRequireSignatures: csig, ServiceRequireSignatures: ssig,
			RequireVersion: v, ClusterRequireVersion: cv, ServiceRequireVersion: sv}
	}
	type row = struct {
		name string
		opts map[string]string
		req  cephx.Requirements
	}
	mk := func(name string, sig, csig, ssig bool, v, cv, sv int) row {
		return row{name, all(sig, csig, ssig, v, cv, sv), req(sig, csig, ssig, v, cv, sv)}
	}
	return []row{
		mk("defaults", false, false, false, 2, 2, 2),
		mk("require_signatures", true, false, false, 2, 2, 2),
		mk("service_require_signatures", false, false, true, 2, 2, 2),
		mk("cluster_require_signatures", false, true, false, 2, 2, 2),
		mk("service_require_version 1", false, false, false, 2, 2, 1),
		mk("all versions 1", false, false, false, 1, 1, 1),
		mk("only cluster_require_version 2", false, false, false, 1, 2, 1),
		mk("only service_require_version 2", false, false, false, 1, 1, 2),
		mk("cluster signatures, versions 1", false, true, false, 1, 1, 1),
	}
}

// secondNegotiation: the first MAuth sent again on a session that negotiated cephx; the real
// reply and the Go monitor's agree (EINVAL, protocol 0, the session's global id).
func secondNegotiation(t *testing.T, mon *cephxMon, kr *cephx.Keyring) {
	t.Helper()
	goMon, err := cephx.NewMonitor(kr, &seeded{6}, 4100, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := dialMon(t, mon.addr, admin)
	defer s.m.Shutdown()
	ours := goMon.NewConnSession(s.conn.Features())
	first := &wire.MAuth{SessionMon: -1, Protocol: wire.AuthUnknown, AuthPayload: cephx.InitialRequest(admin, 0, wire.AuthCephx)}
	var theirs, goReply [2]*wire.MAuthReply
	for i := range theirs {
		s.send(t, first)
		theirs[i] = s.next(t)
		goReply[i], _ = ours.Handle(first, time.Now())
	}
	if theirs[1].Protocol != goReply[1].Protocol || theirs[1].Result != goReply[1].Result || theirs[1].Result != -22 ||
		theirs[1].GlobalID != theirs[0].GlobalID || goReply[1].GlobalID != goReply[0].GlobalID || len(theirs[1].ResultBl) != 0 {
		t.Errorf("second negotiation: real %+v (first %+v), Go %+v (first %+v)", theirs[1], theirs[0], goReply[1], goReply[0])
	}
}
