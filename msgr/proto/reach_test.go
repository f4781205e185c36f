package proto_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Every probe has a name of its own that parses back to it.
func TestProbeNames(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range proto.AllProbes() {
		name := p.String()
		if name == "" || strings.HasPrefix(name, "probe(") || seen[name] || name != strings.ToLower(name) {
			t.Errorf("probe %d has a bad or repeated name %q", p, name)
		}
		seen[name] = true
		if q, ok := proto.ParseProbe(name); !ok || q != p {
			t.Errorf("ParseProbe(%q) = %v, %v", name, q, ok)
		}
	}
	if len(seen) != int(proto.NumProbes)-1 {
		t.Errorf("%d probes named, %d declared", len(seen), proto.NumProbes-1)
	}
	if _, ok := proto.ParseProbe("none"); ok {
		t.Error("ProbeNone parses")
	}
}

// DecisionProbe names exactly the decision rows that are races won or lost and lossy replaces,
// over every combination of the inputs those rows depend on.
func TestDecisionProbeMatchesRules(t *testing.T) {
	want := map[string]proto.Probe{
		"8g connection race won by us: wait":                          proto.ProbeRaceWonWait,
		"8f connection race with a stale connect_seq won by us: wait": proto.ProbeRaceWonWaitStale,
		"8g connection race won by the peer: replace":                 proto.ProbeRaceLostReplace,
		"8d existing lossy: reset and replace":                        proto.ProbeReplaceLossy,
	}
	low := wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.1:6800"), 1)
	high := wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.1:6800"), 2)
	hit := map[string]int{}
	for _, st := range proto.AllStates() {
		for bits := 0; bits < 1<<5; bits++ {
			for cs := uint32(0); cs <= 3; cs++ {
				for exCS := uint32(0); exCS <= 3; exCS++ {
					in := proto.DecideInput{
						Connect: wire.Connect{Features: wire.FeaturesAll, HostType: wire.EntityOSD, GlobalSeq: 10,
							ConnectSeq: cs, ProtocolVersion: 10},
						Policy: proto.LosslessPeer(0), ProtocolVersion: 10, AuthResult: 1, PeerAddr: high, MyAddr: low,
						Existing: proto.Existing{Present: true, State: st, ConnectSeq: exCS, PeerGlobalSeq: 5,
							Lossy: bits&1 != 0, Server: bits&2 != 0, Replacing: bits&8 != 0},
					}
					if bits&4 != 0 {
						in.PeerAddr, in.MyAddr = low, high
					}
					in.Policy.Resetcheck = bits&16 != 0
					d := proto.Decide(&in)
					got := proto.DecisionProbe(&in, d)
					if got != want[d.Rule] {
						t.Fatalf("%+v: rule %q gave probe %v, want %v", in, d.Rule, got, want[d.Rule])
					}
					hit[d.Rule]++
				}
			}
		}
	}
	for rule := range want {
		if hit[rule] == 0 {
			t.Errorf("rule %q never taken: the enumeration misses it", rule)
		}
	}
}

// reconnectProbes runs a lossless reconnect (as TestReconnectReplacesAndResendsUnacked does)
// with messages both ways, the connector advertising features, over seeds 1..40: the first
// messages arrive (their ACKs may not), the last are lost in flight. It returns the probes
// reached and the messages dispatched twice by the connector (dupA) and the acceptor (dupB).
func reconnectProbes(t *testing.T, features uint64) (probes [proto.NumProbes]int, dupA, dupB int) {
	for seed := uint64(1); seed <= 40; seed++ {
		client := proto.LosslessClient(0)
		client.FeaturesSupported = features
		l := newLink(t, seed, client, proto.StatefulServer(0))
		l.maxChunk = 40
		l.run()
		send := func(from, to int) {
			for i := from; i <= to; i++ {
				l.a.Send(ping(uint64(i), fmt.Sprintf("a%d", i)))
				l.b.Send(ping(uint64(100+i), fmt.Sprintf("b%d", i)))
			}
		}
		send(1, 5)
		for i := 0; i < 1+l.rand.IntN(4); i++ {
			l.flushAll()
			l.deliver(l.b, &l.aToB)
			l.deliver(l.a, &l.bToA)
		}
		send(6, 10)
		l.flushAll()
		l.cut()
		l.reaccept()
		if features&wire.FeatureReconnectSeq == 0 && (l.a.Queued() != 0 || l.b.Queued() != 0) {
			// An old message dropped is still acknowledged (Q14): else its sender holds it.
			t.Errorf("seed %d: legacy reconnect left %d and %d messages unacknowledged", seed, l.a.Queued(), l.b.Queued())
		}
		dupA += distinct(t, seed, l.ma.Delivered)
		dupB += distinct(t, seed, l.mb.Delivered)
		for p, n := range l.w.Probes {
			probes[p] += n
		}
	}
	return probes, dupA, dupB
}

// distinct checks that all 10 messages were dispatched and returns how many were dispatched twice.
func distinct(t *testing.T, seed uint64, got []*wire.Message) (dups int) {
	t.Helper()
	seen := map[uint64]bool{}
	for _, m := range got {
		if seen[m.Header.Tid] {
			dups++
		}
		seen[m.Header.Tid] = true
	}
	if len(seen) != 10 {
		t.Fatalf("seed %d: %d distinct messages dispatched of 10: %s", seed, len(seen), describe(got))
	}
	return dups
}

// A reconnect with the SEQ exchange drops what the peer already has before resending it; a
// legacy one (no RECONNECT_SEQ) resends it and the connector drops it as old (seq <= in_seq).
// The probes say which path ran. In the legacy case neither side dispatches a message twice:
// Ceph's open() restarts the acceptor's in_seq (and, with nothing requeued, its out_seq) at 0
// on a READY reply, so it would dispatch the connector's resent messages again and the
// connector would drop its next ones as old; here the acceptor keeps both (quirk Q14).
func TestReconnectProbes(t *testing.T) {
	seq, dupA, dupB := reconnectProbes(t, wire.FeaturesAll)
	if dupA != 0 || dupB != 0 {
		t.Errorf("SEQ exchange: %d and %d messages dispatched twice", dupA, dupB)
	}
	for _, p := range []proto.Probe{proto.ProbeReplySeq, proto.ProbeSeqDiscard, proto.ProbeResend,
		proto.ProbeReplaceStateful, proto.ProbeReplaceRetryOpen, proto.ProbeReplyRetryGlobal} {
		if seq[p] == 0 {
			t.Errorf("SEQ exchange never reached %v: %v", p, named(seq))
		}
	}
	if seq[proto.ProbeOldMessage] != 0 || seq[proto.ProbeReplyReady] != 0 {
		t.Errorf("SEQ exchange reached legacy probes: %v", named(seq))
	}
	legacy, dupA, dupB := reconnectProbes(t, wire.FeaturesAll&^wire.FeatureReconnectSeq)
	if dupA != 0 || dupB != 0 {
		t.Errorf("legacy reconnect: %d and %d messages dispatched twice (Q14)", dupA, dupB)
	}
	for _, p := range []proto.Probe{proto.ProbeReplyReady, proto.ProbeOldMessage, proto.ProbeResend} {
		if legacy[p] == 0 {
			t.Errorf("legacy reconnect never reached %v: %v", p, named(legacy))
		}
	}
	if legacy[proto.ProbeSeqDiscard] != 0 || legacy[proto.ProbeReplySeq] != 0 {
		t.Errorf("legacy reconnect reached SEQ exchange probes: %v", named(legacy))
	}
}

func named(counts [proto.NumProbes]int) string {
	var b strings.Builder
	for _, p := range proto.AllProbes() {
		if counts[p] > 0 {
			fmt.Fprintf(&b, "%v=%d ", p, counts[p])
		}
	}
	return b.String()
}
