package explore

import (
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// peer-restart runs what it claims: the connector loses power right after the acceptor sent
// its first two answers (ids 3 and 4), which the old incarnation never reads; the new
// incarnation at the same address connects while the acceptor's session is still open, and a
// registered session meets msgr1's peer-restart rule (8e). With resetcheck the acceptor resets
// the session (remote_reset) and the answers are gone; lossless_peer, without resetcheck,
// hands them to the new incarnation; a stateless server's sessions are not registered, so the
// new incarnation gets a new session.
func TestPeerRestartRunsWhatItClaims(t *testing.T) {
	v, _ := ParseVariant("peer-restart")
	for _, pol := range Policies {
		r := Run(Config{Policy: pol, Variant: v, KeepTrace: true})
		if !r.Pass {
			t.Errorf("%s: the fault-free scenario fails: %v", pol.Name, r.Violations)
			continue
		}
		conn := "client.4100"
		if pol.connType == wire.EntityOSD {
			conn = "osd.1"
		}
		if countLines(r.Trace, conn+"#1", "power off") != 1 || countLines(r.Trace, conn+"#2 up at") != 1 {
			t.Errorf("%s: no power cut and restart", pol.Name)
		}
		for _, id := range []string{"tid=3 ", "tid=4 "} {
			if countLines(r.Trace, "osd.0#1 conn 1: send id "+id[4:5]) != 1 || countLines(r.Trace, conn+"#1", "dispatch", id) != 0 {
				t.Errorf("%s: %s was not sent before the power cut, or was read by the old incarnation", pol.Name, id)
			}
			carried := countLines(r.Trace, conn+"#2", "dispatch", id) == 1
			if carried != (pol.Name == "lossless-peer") {
				t.Errorf("%s: %s carried over to the new incarnation: %v", pol.Name, id, carried)
			}
		}
		rule8e := countLines(r.Trace, "accept decision 8e peer restarted") == 1
		remoteReset := countLines(r.Trace, "osd.0#1 conn 1: event remote_reset") == 1
		if rule8e != (pol.Name != "lossy-client") || remoteReset != pol.acc(0).Resetcheck {
			t.Errorf("%s: rule 8e %v, the old session reset %v", pol.Name, rule8e, remoteReset)
		}
	}
}

// restart-carryover fails a message the acceptor sent on its session with the old incarnation
// before that session's reset (or with no reset at all) that the new incarnation dispatches,
// under a policy whose acceptor resets or drops the old session's messages; it passes what was
// sent after the reset or on another connection, what the old incarnation dispatches, and
// anything under lossless_peer (no resetcheck: Ceph requeues to the new incarnation).
func TestRestartCarryoverFailsCarriedMessages(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name   string
		policy string
		inc    int
		id     uint64
		wrong  int
	}{
		{"sent before the reset", "stateful-server", 2, 3, 1},
		{"sent before the reset, reuse", "lossless-peer-reuse", 2, 3, 1},
		{"sent on a session never reset", "lossy-client", 2, 5, 1},
		{"sent after the reset", "stateful-server", 2, 4, 0},
		{"sent on a new connection", "stateful-server", 2, 6, 0},
		{"read by the old incarnation", "stateful-server", 1, 3, 0},
		{"not the acceptor's", "stateful-server", 2, 9, 0},
		{"without resetcheck", "lossless-peer", 2, 3, 0},
	} {
		pol, _ := PolicyNamed(tc.policy)
		h := testRun()
		sc := &scenario{h: h, pol: pol, v: Variant{PeerRestart: true}}
		for side := range sc.nodes {
			sc.nodes[side] = &node{sc: sc, side: Side(side), inc: "n#1", incN: 1}
		}
		n := sc.nodes[Connector]
		n.incN = tc.inc
		w := &sc.restart
		w.acceptorSent(3, 1, 1*ms) // the old session, before the power cut
		w.powerOff(2*ms, []uint64{1, 7})
		w.acceptorReset(1, 3*ms)   // the old session reset (rule 8e)
		w.acceptorReset(1, 9*ms)   // a later reset moves nothing
		w.acceptorSent(4, 1, 4*ms) // the replaced session, after its reset
		w.acceptorSent(5, 7, 2*ms) // a session never reset (a stateless server's)
		w.acceptorSent(6, 8, 4*ms) // a connection made after the power cut
		m := &msgr.Message{}
		m.Header.Tid = tc.id
		n.checkCarryover(m)
		if got := violations(h, InvRestartCarryover); got != tc.wrong {
			t.Errorf("%s: %d %s violations, want %d: %v", tc.name, got, InvRestartCarryover, tc.wrong, h.Check.Violations())
		}
	}
}

// cephx,challenge-cuts runs what it claims: under every policy the acceptor cuts its first
// three handshakes at the reply after the challenge and everything passes; a lossless
// connector is challenged in each of four attempts in a row on one connection (three cut, the
// fourth opens), backing off 200, 400 and 800 ms (a lossy one gives a cut connection up, and
// its next message opens a new one). Without cephx there is no second reply to cut on the
// first socket.
func TestChallengeCutsRunWhatTheyClaim(t *testing.T) {
	v, _ := ParseVariant("cephx,challenge-cuts")
	for _, pol := range Policies {
		r := Run(Config{Policy: pol, Variant: v, KeepTrace: true})
		if !r.Pass {
			t.Errorf("%s: the fault-free scenario fails: %v", pol.Name, r.Violations)
			continue
		}
		if cuts := countLines(r.Trace, "challenge-cuts: conn"); cuts != challengeCuts {
			t.Errorf("%s: %d handshakes cut, want %d", pol.Name, cuts, challengeCuts)
		}
		if !pol.lossless() {
			continue
		}
		// The connector's challenges before its first open: one per attempt.
		challenged := 0
		for _, l := range r.Trace {
			if strings.Contains(l, "-> OPENED") {
				break
			}
			if strings.Contains(l, "reach reply-challenge-authorizer") {
				challenged++
			}
		}
		if challenged <= challengeCuts {
			t.Errorf("%s: %d challenges before the session opened, want more than %d", pol.Name, challenged, challengeCuts)
		}
		if r.Virtual < 1400*time.Millisecond {
			t.Errorf("%s: the run ended at %v: no backoff of 200+400+800 ms", pol.Name, r.Virtual)
		}
	}
	v, _ = ParseVariant("challenge-cuts")
	if r := Run(Config{Policy: Policies[1], Variant: v, KeepTrace: true}); !r.Pass || countLines(r.Trace, "challenge-cuts: conn") != 0 {
		t.Errorf("challenge-cuts without cephx cut something, or failed: %v", r.Violations)
	}
}

// no-conn-limit configures both messengers without a connection limit, and the scenario runs
// the same schedule as without it (no limit is ever near).
func TestNoConnLimitVariant(t *testing.T) {
	v, _ := ParseVariant("no-conn-limit")
	for _, side := range []Side{Connector, Acceptor} {
		var cfg, def msgr.Config
		v.configure(&cfg, side, nil)
		Variant{}.configure(&def, side, nil)
		if cfg.MaxConnections != -1 || def.MaxConnections != 0 {
			t.Errorf("%v: MaxConnections %d, %d by default", side, cfg.MaxConnections, def.MaxConnections)
		}
	}
	for _, pol := range Policies {
		r, def := Run(Config{Policy: pol, Variant: v}), Run(Config{Policy: pol})
		if !r.Pass || r.TraceHash != def.TraceHash {
			t.Errorf("%s: %v, trace %x (default %x)", pol.Name, r.Violations, r.TraceHash, def.TraceHash)
		}
	}
}
