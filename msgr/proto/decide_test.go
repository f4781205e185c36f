package proto

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// One case per row of the accept decision table (msgr1-protocol.md §3.2).
func TestDecideEveryRow(t *testing.T) {
	low := wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.1:6800"), 1)
	high := wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.1:6800"), 2)
	base := func() DecideInput {
		return DecideInput{
			Connect: wire.Connect{Features: wire.FeaturesAll, HostType: wire.EntityOSD, GlobalSeq: 10, ConnectSeq: 1, ProtocolVersion: 10},
			Policy:  LosslessPeer(0), ProtocolVersion: 10, AuthResult: 1, PeerAddr: high, MyAddr: low,
		}
	}
	ex := func(s State, cs, pgs uint32) Existing {
		return Existing{Present: true, State: s, ConnectSeq: cs, PeerGlobalSeq: pgs}
	}
	cases := []struct {
		name    string
		mod     func(*DecideInput)
		verdict Verdict
		tag     wire.Tag
		rule    string
		check   func(*testing.T, Decision)
	}{
		{"2 bad protocol", func(in *DecideInput) { in.Connect.ProtocolVersion = 24 }, VerdictReply, wire.TagBadProtoVer, "2 ", nil},
		{"4 features", func(in *DecideInput) { in.Policy.FeaturesRequired = 1 << 60; in.Connect.Features = 0 }, VerdictReply, wire.TagFeatures, "4 ", nil},
		{"5 rejected", func(in *DecideInput) { in.AuthResult = -1 }, VerdictReply, wire.TagBadAuthorizer, "5 ", nil},
		{"5 challenge", func(in *DecideInput) { in.AuthResult = 0 }, VerdictReply, wire.TagChallengeAuthorizer, "5 ", nil},
		{"6 stateless server", func(in *DecideInput) {
			in.Policy = StatelessServer(0)
			in.Existing = ex(StateOpened, 5, 5)
		}, VerdictOpen, 0, "6 ", nil},
		{"7 existing is self", func(in *DecideInput) { in.Existing = Existing{Present: true, IsSelf: true}; in.Replacing = true }, VerdictOpen, 0, "9 ", nil},
		{"8a existing closed, connect_seq 0", func(in *DecideInput) {
			in.Connect.ConnectSeq = 0
			in.Existing = ex(StateClosed, 3, 3)
		}, VerdictOpen, 0, "8a ", nil},
		{"8a existing closed, connect_seq > 0 (Q12 fixed)", func(in *DecideInput) { in.Existing = ex(StateClosed, 3, 3) }, VerdictReply, wire.TagResetSession, "8a ", nil},
		{"8b existing replacing", func(in *DecideInput) {
			in.Existing = ex(StateNone, 3, 42)
			in.Existing.Replacing = true
		}, VerdictReply, wire.TagRetryGlobal, "8b ", func(t *testing.T, d Decision) {
			if d.GlobalSeq != 42 {
				t.Errorf("global_seq %d, want the existing peer_global_seq 42", d.GlobalSeq)
			}
		}},
		{"8c stale global_seq", func(in *DecideInput) { in.Existing = ex(StateOpened, 1, 11) }, VerdictReply, wire.TagRetryGlobal, "8c ", func(t *testing.T, d Decision) {
			if d.GlobalSeq != 11 {
				t.Errorf("global_seq %d", d.GlobalSeq)
			}
		}},
		{"8d existing lossy", func(in *DecideInput) {
			in.Existing = ex(StateOpened, 1, 5)
			in.Existing.Lossy = true
		}, VerdictReplace, 0, "8d ", func(t *testing.T, d Decision) {
			if !d.ResetExisting {
				t.Error("lossy existing not reset")
			}
		}},
		{"8e peer restarted, resetcheck", func(in *DecideInput) {
			in.Policy = LosslessPeerReuse(0)
			in.Connect.ConnectSeq = 0
			in.Existing = ex(StateOpened, 3, 5)
		}, VerdictReplace, 0, "8e ", func(t *testing.T, d Decision) {
			if !d.ResetFromPeer || !d.ResetExisting {
				t.Errorf("reset flags %+v", d)
			}
		}},
		{"8e peer restarted, no resetcheck", func(in *DecideInput) {
			in.Connect.ConnectSeq = 0
			in.Existing = ex(StateStandby, 3, 5)
		}, VerdictReplace, 0, "8e ", func(t *testing.T, d Decision) {
			if !d.ResetFromPeer || d.ResetExisting {
				t.Errorf("reset flags %+v", d)
			}
		}},
		{"8f stale connect_seq", func(in *DecideInput) { in.Existing = ex(StateOpened, 4, 5) }, VerdictReply, wire.TagRetrySession, "8f ", func(t *testing.T, d Decision) {
			if d.ConnectSeq != 5 {
				t.Errorf("connect_seq %d, want existing+1 = 5", d.ConnectSeq)
			}
		}},
		{"8f race with a stale connect_seq, won by us (Q11 fixed)", func(in *DecideInput) {
			in.Existing = ex(StateConnectingSendConnectMsg, 4, 0)
		}, VerdictReply, wire.TagWait, "8f connection race with a stale connect_seq won by us", func(t *testing.T, d Decision) {
			if !d.KeepaliveExisting {
				t.Error("WAIT without a keepalive on the winner")
			}
		}},
		{"8f race with a stale connect_seq, lost by us", func(in *DecideInput) {
			in.PeerAddr, in.MyAddr = low, high
			in.Existing = ex(StateConnectingSendConnectMsg, 4, 0)
		}, VerdictReply, wire.TagRetrySession, "8f stale connect_seq", nil},
		{"8f race with a stale connect_seq, existing is server", func(in *DecideInput) {
			in.Existing = ex(StateConnecting, 4, 0)
			in.Existing.Server = true
		}, VerdictReply, wire.TagRetrySession, "8f stale connect_seq", nil},
		{"8g open session", func(in *DecideInput) { in.Existing = ex(StateOpened, 1, 5) }, VerdictReply, wire.TagRetrySession, "8g session open", func(t *testing.T, d Decision) {
			if d.ConnectSeq != 2 {
				t.Errorf("connect_seq %d", d.ConnectSeq)
			}
		}},
		{"8g standby session", func(in *DecideInput) { in.Existing = ex(StateStandby, 1, 5) }, VerdictReply, wire.TagRetrySession, "8g session open", nil},
		{"8g busy reading (Q9 fixed)", func(in *DecideInput) { in.Existing = ex(StateReadMessageFront, 1, 5) }, VerdictReply, wire.TagRetrySession, "8g session open", nil},
		{"8g standby session that never opened (Q17)", func(in *DecideInput) {
			in.Connect.ConnectSeq = 0
			in.Existing = ex(StateStandby, 0, 5)
		}, VerdictReplace, 0, "8g standby session that never opened", nil},
		{"8g open with connect_seq 0 and resetcheck", func(in *DecideInput) {
			in.Policy = LosslessPeerReuse(0)
			in.Connect.ConnectSeq = 0
			in.Existing = ex(StateOpened, 0, 5)
		}, VerdictReplace, 0, "8g open session with connect_seq 0", nil},
		{"8g race lost by us (peer lower)", func(in *DecideInput) {
			in.PeerAddr, in.MyAddr = low, high
			in.Existing = ex(StateConnectingSendConnectMsg, 1, 0)
		}, VerdictReplace, 0, "8g connection race won by the peer", nil},
		{"8g race, existing is server", func(in *DecideInput) {
			in.Existing = ex(StateConnectingSendConnectMsg, 1, 0)
			in.Existing.Server = true
		}, VerdictReplace, 0, "8g connection race won by the peer", nil},
		{"8g race won by us", func(in *DecideInput) { in.Existing = ex(StateConnectingSendConnectMsg, 1, 0) }, VerdictReply, wire.TagWait, "8g connection race won by us", func(t *testing.T, d Decision) {
			if !d.KeepaliveExisting {
				t.Error("WAIT without a keepalive on the winner")
			}
		}},
		{"8g race between identical addresses (Q6 fixed)", func(in *DecideInput) {
			in.PeerAddr = low
			in.Existing = ex(StateConnecting, 1, 0)
		}, VerdictFault, 0, "8g connection race between identical", nil},
		{"8h we reset", func(in *DecideInput) {
			in.Policy = LosslessPeerReuse(0)
			in.Connect.ConnectSeq = 3
			in.Existing = ex(StateOpened, 0, 5)
		}, VerdictReply, wire.TagResetSession, "8h reconnect to a never-opened", nil},
		{"8h reconnect", func(in *DecideInput) {
			in.Connect.ConnectSeq = 3
			in.Existing = ex(StateStandby, 2, 5)
		}, VerdictReplace, 0, "8h reconnect: replace", nil},
		{"8h reconnect to a never-opened session, RECONNECT_SEQ (Q17)", func(in *DecideInput) {
			in.Connect.ConnectSeq = 3
			in.Existing = ex(StateStartConnect, 0, 5)
		}, VerdictReply, wire.TagResetSession, "8h reconnect to a never-opened session without resetcheck", nil},
		{"8h reconnect to a never-opened standby session (Q17)", func(in *DecideInput) {
			in.Connect.ConnectSeq = 3
			in.Existing = ex(StateStandby, 0, 5)
		}, VerdictReply, wire.TagResetSession, "8h reconnect to a never-opened session without resetcheck", nil},
		{"8h reconnect to a never-opened session our connect may have opened (Q17)", func(in *DecideInput) {
			in.Connect.ConnectSeq = 3
			in.Existing = ex(StateStartConnect, 0, 5)
			in.Existing.ConnectUnheard = true
		}, VerdictReplace, 0, "8h reconnect to a never-opened session our connect may have opened", nil},
		{"8h legacy reconnect to a never-opened session (Q14)", func(in *DecideInput) {
			in.Connect.ConnectSeq = 3
			in.Connect.Features &^= wire.FeatureReconnectSeq
			in.Existing = ex(StateConnecting, 0, 5)
		}, VerdictReply, wire.TagResetSession, "8h legacy reconnect to a never-opened", nil},
		{"8h legacy reconnect to an opened session", func(in *DecideInput) {
			in.Connect.ConnectSeq = 3
			in.Connect.Features &^= wire.FeatureReconnectSeq
			in.Existing = ex(StateStandby, 2, 5)
		}, VerdictReplace, 0, "8h reconnect: replace", nil},
		{"9 we lost the session", func(in *DecideInput) { in.Connect.ConnectSeq = 2 }, VerdictReply, wire.TagResetSession, "9 no session but", nil},
		{"9 replacing: open", func(in *DecideInput) { in.Connect.ConnectSeq = 2; in.Replacing = true }, VerdictOpen, 0, "9 no existing session", nil},
		{"9 new session", func(in *DecideInput) { in.Connect.ConnectSeq = 0 }, VerdictOpen, 0, "9 no existing session", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.mod(&in)
			d := Decide(&in)
			if d.Verdict != tc.verdict || (tc.tag != 0 && d.Tag != tc.tag) {
				t.Fatalf("got %v %v (%s), want %v %v", d.Verdict, d.Tag, d.Rule, tc.verdict, tc.tag)
			}
			if !strings.HasPrefix(d.Rule, tc.rule) {
				t.Fatalf("rule %q, want prefix %q", d.Rule, tc.rule)
			}
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

// Ceph's race rule compares the in-memory address: type, then the nonce byte by byte starting
// with its least significant byte.
func TestRaceUsesCephAddressOrder(t *testing.T) {
	ip := netip.MustParseAddrPort("10.0.0.1:6800")
	a := wire.LegacyAddr(ip, 0x0100) // bytes 00 01 00 00
	b := wire.LegacyAddr(ip, 0x0002) // bytes 02 00 00 00: bigger, though numerically smaller
	in := DecideInput{
		Connect: wire.Connect{ConnectSeq: 1, ProtocolVersion: 10, HostType: wire.EntityOSD},
		Policy:  LosslessPeer(0), ProtocolVersion: 10, AuthResult: 1,
		PeerAddr: a, MyAddr: b, Existing: Existing{Present: true, State: StateConnecting, ConnectSeq: 1},
	}
	if d := Decide(&in); d.Verdict != VerdictReplace {
		t.Fatalf("peer nonce 0x100 vs mine 0x2: %v (%s); the peer is lower in Ceph's order", d.Verdict, d.Rule)
	}
	in.PeerAddr, in.MyAddr = b, a
	if d := Decide(&in); d.Tag != wire.TagWait {
		t.Fatalf("peer nonce 0x2 vs mine 0x100: %v %v (%s)", d.Verdict, d.Tag, d.Rule)
	}
}

// TestNextDeadlineIsEarliestArmed: NextDeadline is the earliest of the armed timers (0 is
// not armed), whichever of them it is, and nothing when none is armed.
func TestNextDeadlineIsEarliestArmed(t *testing.T) {
	c := &Conn{cfg: Config{IdleTimeout: 100}}
	if _, ok := c.NextDeadline(); ok {
		t.Fatal("a deadline with no timer armed")
	}
	vals := []time.Duration{0, 7, 30, 50}
	for _, rc := range vals {
		for _, rd := range vals {
			for _, id := range vals {
				for _, th := range vals {
					c.reconnectAt, c.readyDeadline, c.idleDeadline, c.throttleAt, c.lastActive = rc, rd, id, th, 0
					want := time.Duration(0)
					for _, v := range []time.Duration{rc, rd, c.idleDeadlineAt(), th} {
						if v != 0 && (want == 0 || v < want) {
							want = v
						}
					}
					if at, ok := c.NextDeadline(); at != want || ok != (want != 0) {
						t.Fatalf("timers %v %v %v %v: NextDeadline %v %v, want %v", rc, rd, id, th, at, ok, want)
					}
				}
			}
		}
	}
}
