package protofuzz

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The decision checks catch wrong decisions: for each input, proto.Decide's own answer passes and a
// wrong one is caught.
func TestDecideChecksHaveTeeth(t *testing.T) {
	low := wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.1:6800"), 1)
	high := wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.1:6800"), 2)
	input := func(cs uint32, ex proto.Existing) proto.DecideInput {
		return proto.DecideInput{Connect: wire.Connect{Features: wire.FeaturesAll, HostType: wire.EntityOSD, GlobalSeq: 10,
			ConnectSeq: cs, ProtocolVersion: 10}, Policy: proto.LosslessPeer(0), ProtocolVersion: 10, AuthResult: 1,
			PeerAddr: high, MyAddr: low, Existing: ex}
	}
	open := proto.Existing{Present: true, State: proto.StateOpened, ConnectSeq: 2, PeerGlobalSeq: 5}
	racing := proto.Existing{Present: true, State: proto.StateConnectingSendConnectMsg, ConnectSeq: 1}
	cases := []struct {
		name  string
		in    proto.DecideInput
		wrong proto.Decision
	}{
		{"READY as a reply", input(0, proto.Existing{}), proto.Decision{Verdict: proto.VerdictReply, Tag: wire.TagReady, Rule: "x"}},
		{"open beside a live session", input(3, open), proto.Decision{Verdict: proto.VerdictOpen, Rule: "x"}},
		{"stale global_seq accepted", input(3, proto.Existing{Present: true, State: proto.StateOpened, ConnectSeq: 2, PeerGlobalSeq: 50}),
			proto.Decision{Verdict: proto.VerdictReplace, Rule: "x"}},
		{"RETRY_GLOBAL with our own global_seq", input(3, proto.Existing{Present: true, State: proto.StateOpened, ConnectSeq: 2, PeerGlobalSeq: 50}),
			proto.Decision{Verdict: proto.VerdictReply, Tag: wire.TagRetryGlobal, GlobalSeq: 51, Rule: "x"}},
		{"stale connect_seq takes over", input(1, open), proto.Decision{Verdict: proto.VerdictReplace, Rule: "x"}},
		{"RETRY_SESSION not above", input(1, open), proto.Decision{Verdict: proto.VerdictReply, Tag: wire.TagRetrySession, ConnectSeq: 2, Rule: "x"}},
		{"WAIT against an open session", input(2, open), proto.Decision{Verdict: proto.VerdictReply, Tag: wire.TagWait, KeepaliveExisting: true, Rule: "x"}},
		{"WAIT without a keepalive", input(1, racing), proto.Decision{Verdict: proto.VerdictReply, Tag: wire.TagWait, Rule: "x"}},
		{"race won by the wrong side", input(1, racing), proto.Decision{Verdict: proto.VerdictReplace, Rule: "x"}},
		{"RESETSESSION to connect_seq 0", input(0, proto.Existing{}), proto.Decision{Verdict: proto.VerdictReply, Tag: wire.TagResetSession, Rule: "x"}},
		{"peer restart not flagged", input(0, open), proto.Decision{Verdict: proto.VerdictReplace, Rule: "x"}},
		{"challenge skipped", func() proto.DecideInput { in := input(0, proto.Existing{}); in.AuthResult = 0; return in }(),
			proto.Decision{Verdict: proto.VerdictOpen, Rule: "x"}},
		{"no rule", input(0, proto.Existing{}), proto.Decision{Verdict: proto.VerdictOpen}},
	}
	for _, tc := range cases {
		if err := checkDecision(&tc.in, proto.Decide(&tc.in)); err != nil {
			t.Errorf("%s: proto.Decide's own answer %+v refused: %v", tc.name, proto.Decide(&tc.in), err)
		}
		if err := checkDecision(&tc.in, tc.wrong); err == nil {
			t.Errorf("%s: %+v accepted", tc.name, tc.wrong)
		}
	}
	// The registry model refuses a second live session for the address.
	m := &decideModel{reg: open, regOther: true}
	in := input(0, open)
	if err := m.open(&in); err == nil || !strings.Contains(err.Error(), "two live sessions") {
		t.Errorf("open beside a live session: %v", err)
	}
}
