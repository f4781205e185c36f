package explore

import (
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

func TestParseVariant(t *testing.T) {
	for _, s := range []string{"empty-fronts", "no-crc-data,no-crc-header", "empty-fronts,cephx"} {
		v, err := ParseVariant(s)
		if err != nil || v.String() != s {
			t.Errorf("ParseVariant(%q) = %+v, %v; String %q", s, v, err, v.String())
		}
	}
	if v, err := ParseVariant(""); err != nil || v != (Variant{}) {
		t.Errorf(`ParseVariant("") = %+v, %v`, v, err)
	}
	if _, err := ParseVariant("empty-fronts,nope"); err == nil {
		t.Error("ParseVariant accepted an unknown name")
	}
}

// Every variant's fault-free scenario passes under every policy, and the variants change
// what they claim to: empty fronts reach the wire and the receiver, cephx sends authorizers
// (the connect's and the reply's).
func TestVariantsRunWhatTheyClaim(t *testing.T) {
	for _, s := range []string{"empty-fronts", "no-crc-data", "no-crc-header", "cephx", "empty-fronts,no-crc-data"} {
		v, _ := ParseVariant(s)
		for _, pol := range Policies {
			r := Run(Config{Policy: pol, Variant: v})
			if !r.Pass {
				t.Errorf("%s %s: the fault-free scenario fails: %v", s, pol.Name, r.Violations)
				continue
			}
			w := r.Written[Connector]
			if v.EmptyFronts && w["msg"] <= w["front"] {
				t.Errorf("%s %s: the connector wrote %d messages and %d fronts: no empty front", s, pol.Name, w["msg"], w["front"])
			}
			if v.Cephx && (w["connect_auth"] == 0 || r.Written[Acceptor]["reply_auth"] == 0) {
				t.Errorf("%s %s: no authorizer exchanged: %v / %v", s, pol.Name, w, r.Written[Acceptor])
			}
		}
	}
	// The default scenario has no empty front and no authorizer of cephx's size.
	r := Run(Config{Policy: Policies[1]})
	if w := r.Written[Connector]; w["msg"] != w["front"] {
		t.Errorf("the default scenario wrote %d messages and %d fronts", w["msg"], w["front"])
	}
}

// The empty-fronts variant's receiver check fails a message that should have an empty front
// and arrives with one (a recycled message's old front), and a message that lost its front.
func TestEmptyFrontCheckFailsWrongMessages(t *testing.T) {
	v := Variant{EmptyFronts: true}
	msg := func(id uint64, front []byte) *msgr.Message {
		m := wire.NewMessage(wire.MsgPing, front)
		m.Header.Tid = id
		m.Middle = pattern(id, 3, 12)
		return m
	}
	if !v.intact(msg(2, nil)) || !v.intact(msg(3, pattern(3, 1, 40))) {
		t.Fatal("intact messages fail the check")
	}
	if v.intact(msg(2, pattern(1, 1, 40))) {
		t.Error("an empty-front message carrying the previous message's front passes")
	}
	if v.intact(msg(3, nil)) {
		t.Error("a message that lost its front passes")
	}
	bad := msg(2, nil)
	bad.Middle = []byte(strings.Repeat("x", 12))
	if v.intact(bad) {
		t.Error("an empty-front message with a wrong middle passes")
	}
	if (Variant{}).intact(msg(2, nil)) {
		t.Error("the default scenario accepts an empty front")
	}
}

// The variants the mutation score's kill test runs pass at every point of rounds 1 and 2 under
// every policy. With faults, messages are recycled in the orders that show a stale front:
// a messenger that keeps a released message's front fails here (corrupt-delivery), while
// the fault-free runs above do not notice.
func TestVariantPointsPass(t *testing.T) {
	for _, s := range []string{"empty-fronts,no-crc-data", "cephx", "one-byte,priorities,ready-timeout,keepalive-first,big-middle", "chunked,throttled,small-data", "peer-restart", "cephx,challenge-cuts,no-conn-limit"} {
		v, _ := ParseVariant(s)
		for _, pol := range Policies {
			points, base := EnumerateVariant(pol, 2, 0, v)
			if !base.Pass {
				t.Fatalf("%s %s: the fault-free scenario fails: %v", s, pol.Name, base.Violations)
			}
			failed := 0
			for _, p := range points {
				r := Run(Config{Policy: pol, Points: []Point{p}, Variant: v})
				if !r.Pass {
					if failed++; failed <= 3 {
						t.Errorf("%s %s %v: %v", s, pol.Name, p, r.Violations)
					}
				}
			}
			if failed > 3 {
				t.Errorf("%s %s: %d of %d points fail", s, pol.Name, failed, len(points))
			}
		}
	}
}

// The variants of the seed-2 gaps run what they claim: big-middle writes middles longer than
// a copied section, chunked has the long data sections written in chunks (more Writev calls
// than the default scenario makes), and throttled's acceptor waits for its message throttle.
func TestSeed2VariantsRunWhatTheyClaim(t *testing.T) {
	for _, pol := range Policies {
		def := Run(Config{Policy: pol})
		for _, s := range []string{"big-middle", "chunked", "big-middle,chunked", "throttled"} {
			v, _ := ParseVariant(s)
			r := Run(Config{Policy: pol, Variant: v, KeepTrace: true})
			if !r.Pass {
				t.Errorf("%s %s: the fault-free scenario fails: %v", s, pol.Name, r.Violations)
				continue
			}
			// With a message throttle of one, the acceptor reads the second message (sent
			// 150 µs after the first) only once it dispatched the first.
			if stalls := countLines(r.Trace, "osd.0#1", "reach throttle-stall-messages"); (stalls > 0) != v.Throttled {
				t.Errorf("%s %s: the acceptor's message throttle was full %d times", s, pol.Name, stalls)
			}
			if v.Chunked {
				// The connector's 6,000-byte data section in six chunks of 1,024 (five Writev
				// calls more), the acceptor's 5,000-byte answer in five (four more).
				if r.Writes[Connector] < def.Writes[Connector]+5 || r.Writes[Acceptor] < def.Writes[Acceptor]+4 {
					t.Errorf("%s %s: Writev calls %v, %v in the default scenario: no chunks", s, pol.Name, r.Writes, def.Writes)
				}
			} else if !v.Throttled && r.Writes != def.Writes {
				t.Errorf("%s %s: Writev calls %v, %v in the default scenario", s, pol.Name, r.Writes, def.Writes)
			}
		}
	}
	const smallSection = 256 // msgr/proto's: sections up to this size are copied
	m := Variant{BigMiddle: true}.middle(5, 0)
	if len(m) <= smallSection || len(Variant{BigMiddle: true}.middle(5, 6000)) > smallSection || len(Variant{}.middle(5, 0)) > smallSection {
		t.Errorf("big-middle's middles: %d bytes without data", len(m))
	}
}
