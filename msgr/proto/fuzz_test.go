package proto

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/internal/ddtest"
	"github.com/msgrsim/msgrsim/internal/fuzzing"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Fuzz targets of one connection fed arbitrary peer bytes after a valid or partial prefix, in
// arbitrary chunkings, with ticks of the clock (the input format and every property checked
// are described in fuzzconn.go). Seeds: every prefix under several configurations, the real
// Ceph streams captured in ../wire/testdata/streams, and the byte streams of the golden
// transcripts (testdata/fuzz/FuzzAcceptor, FuzzConnector; see TestFuzzCorpusFromTranscripts).

func FuzzAcceptor(f *testing.F) {
	for _, s := range connSeeds(f, true) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzing.Report(t, checkConnFuzz(data, true)) })
}

func FuzzConnector(f *testing.F) {
	for _, s := range connSeeds(f, false) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzing.Report(t, checkConnFuzz(data, false)) })
}

// fuzzInput assembles an input: the prefix byte, the configuration byte, the schedule and the
// peer's bytes after the prefix.
func fuzzInput(b0, b1 byte, sched, stream []byte) []byte {
	sched = sched[:min(len(sched), 255)]
	out := append([]byte{b0, b1, byte(len(sched))}, sched...)
	return append(out, stream...)
}

// Configuration bytes of the seeds: the monitor world, OSDs, OSDs without crcs and with tight
// throttles, OSDs with old footers and another policy, and stalled writes.
var seedConfigs = []byte{0x00, 0x02, 0x13, 0x86, 0x22}

// seedSchedules: none (the default driver), byte-by-byte reads with ticks and sends, and
// reads interleaved with partial writes, keepalives and a socket failure and reconnection.
var seedSchedules = [][]byte{
	nil,
	[]byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc0\xf1\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc1\xfa"),
	[]byte("\x47\xe3\x47\xf4\xe0\x47\xf2\xc3\xfa\xf5\xc2\xf6\xfa\xc4\xc6"),
}

func connSeeds(tb testing.TB, acceptor bool) [][]byte {
	var seeds [][]byte
	for prefix := range fuzzPrefixes {
		for _, cfg := range seedConfigs {
			for _, sched := range seedSchedules {
				seeds = append(seeds, fuzzInput(byte(prefix), cfg, sched, []byte("\x08\x01\x00\x00\x00\x00\x00\x00\x00\x0e")))
			}
		}
	}
	if acceptor {
		for ex := range fuzzExisting {
			seeds = append(seeds, fuzzInput(byte(4|ex<<3), 0x02, nil, nil), fuzzInput(byte(3|ex<<3), 0x42, nil, nil))
		}
	} else {
		seeds = append(seeds, replySeeds()...)
	}
	for _, c := range captureSeeds(tb, acceptor) {
		seeds = append(seeds, c.input)
	}
	return seeds
}

// replySeeds: a connector's greeting, then each reply tag that does not open the session,
// then READY (which the first reply may have made stale).
func replySeeds() [][]byte {
	var seeds [][]byte
	for _, tag := range []wire.Tag{wire.TagWait, wire.TagResetSession, wire.TagRetrySession, wire.TagBadProtoVer,
		wire.TagFeatures, wire.TagBadAuthorizer, wire.TagChallengeAuthorizer} {
		r := wire.ConnectReply{Tag: tag, Features: wire.FeaturesAll, GlobalSeq: 3, ConnectSeq: 2, ProtocolVersion: 10}
		b := r.Append(nil)
		r.Tag = wire.TagReady
		b = r.Append(b)
		seeds = append(seeds, fuzzInput(2, 0x02, nil, b), fuzzInput(2, 0x0a, []byte{0x0f, 0x0f, 0xc6, 0xf6}, b))
	}
	return seeds
}

// captureSeeds are the real Ceph streams (a ceph CLI and a ceph-mon): the client's side for
// an acceptor playing the monitor, the monitor's side for a connector playing the client
// (dialling the address the monitor announces), whole and in small chunks.
func captureSeeds(tb testing.TB, acceptor bool) []captureSeed {
	names, err := filepath.Glob(filepath.Join("..", "wire", "testdata", "streams", "*.bin"))
	if err != nil || len(names) == 0 {
		tb.Fatalf("no captured streams: %v", err)
	}
	suffix, cfg := ".s2c.bin", byte(0x40)
	if acceptor {
		suffix, cfg = ".c2s.bin", 0x00
	}
	var seeds []captureSeed
	for _, name := range names {
		if !strings.HasSuffix(name, suffix) {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		b = b[:min(len(b), maxConnInput-16)]
		// The fake server of ceph-vs-fake-ready answered READY: its client sent no in_seq and
		// the fake sent no messages.
		real := strings.Contains(name, "ceph-s-")
		seeds = append(seeds, captureSeed{name, fuzzInput(0, cfg, nil, b), real},
			captureSeed{name + " in 7-byte chunks", fuzzInput(0, cfg, []byte{0x06}, b), real})
	}
	return seeds
}

type captureSeed struct {
	name     string
	input    []byte
	messages bool // the stream carries messages the connection delivers
}

// The harness reaches deep: the real client's stream opens a session on the acceptor and its
// messages are delivered; the real monitor's stream does the same on the connector.
func TestFuzzHarnessFollowsCapturedStreams(t *testing.T) {
	for _, acceptor := range []bool{true, false} {
		for _, c := range captureSeeds(t, acceptor) {
			d := newFuzzDriver(c.input, acceptor)
			for d.step() {
				d.writeAll()
			}
			if d.h.problem != nil || d.h.reached&(1<<StateOpened) == 0 || (d.h.delivered == 0) == c.messages {
				t.Errorf("acceptor=%v %s: problem %v, opened %v, delivered %d (state %v)", acceptor, c.name,
					d.h.problem, d.h.reached&(1<<StateOpened) != 0, d.h.delivered, d.c.state)
			}
			if err := d.finish(); err != nil {
				t.Errorf("acceptor=%v %s: %v", acceptor, c.name, err)
			}
		}
	}
}

// The seeds together reach every state of both sides' handshakes, the open states and the
// throttles.
func TestFuzzSeedsReachStates(t *testing.T) {
	var reached uint32
	for _, acceptor := range []bool{true, false} {
		for _, in := range connSeeds(t, acceptor) {
			if err := checkConnFuzz(in, acceptor); err != nil {
				t.Fatalf("seed % x: %v", in[:min(len(in), 32)], err)
			}
			d := newFuzzDriver(in, acceptor)
			for d.step() {
				d.writeAll()
			}
			reached |= d.h.reached
		}
	}
	for _, s := range AllStates() {
		if s != StateNone && reached&(1<<s) == 0 {
			t.Errorf("no seed reaches %v", s)
		}
	}
}

// The properties catch what they are meant to catch: each case breaks one thing in an open
// session (an OSD acceptor that received a message, its output not yet written) and expects
// the driver's checks to say so.
func TestFuzzChecksHaveTeeth(t *testing.T) {
	bad := wire.NewMessage(wire.MsgPing, nil)
	cases := []struct {
		name    string
		breakIt func(d *fuzzDriver)
		want    string
	}{
		{"unclassified fault", func(d *fuzzDriver) { d.h.Faulted(StateOpened, errors.New("boom")) }, "unclassified"},
		{"fault without a reason", func(d *fuzzDriver) { d.h.Faulted(StateOpened, nil) }, "without a reason"},
		{"leaving CLOSED", func(d *fuzzDriver) { d.h.StateChanged(StateClosed, StateOpened) }, "left CLOSED"},
		{"no timer", func(d *fuzzDriver) { d.c.clearTimers() }, "stalled"},
		{"old seq delivered", func(d *fuzzDriver) { d.h.Deliver(bad, Reservation{}) }, "delivered seq 0"},
		{"unverified message delivered", func(d *fuzzDriver) {
			m := *bad
			m.Header.Seq, d.c.inSeq = 2, 2
			d.h.Deliver(&m, Reservation{})
		}, "does not verify"},
		{"huge read", func(d *fuzzDriver) { d.c.expectInto(make([]byte, 1<<20), (*Conn).handleSection) }, "reading 1048576 bytes"},
		{"output without a socket", func(d *fuzzDriver) { d.h.sockOpen = false }, "output pending"},
		{"throttle underflow", func(d *fuzzDriver) { d.h.th[0].Put(1) }, "below zero"},
		{"throttle leak", func(d *fuzzDriver) { d.h.th[1].cur = 7 }, "still holds 7"},
		{"CLOSED holding messages", func(d *fuzzDriver) { d.c.Stop(); d.c.queue.push(bad) }, "CLOSED holds 1"},
		{"never times out", func(d *fuzzDriver) { d.c.cfg.IdleTimeout = 1 << 60 }, "still in OPENED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newFuzzDriver(fuzzInput(5, 0x22, nil, nil), true)
			for d.step() {
			}
			if err := d.check(); err != nil || d.c.state != StateOpened || d.h.delivered != 1 {
				t.Fatalf("before: %v in %v, %d delivered", err, d.c.state, d.h.delivered)
			}
			tc.breakIt(d)
			err := d.check()
			if err == nil {
				err = d.finish()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// FuzzDecide drives the accept decision table through a model of the registry (the input
// format and every property are described in fuzzdecide.go).
func FuzzDecide(f *testing.F) {
	for _, s := range []string{
		"",
		"\x00\x01\x02\x00",
		"\x08\x02\x01\x00\x01\x01\x01\x01\x00\x00\x03\x00\x03\x01",
		"\x1c\x05\x05\x01\x03\x05\x02\x00\x02\x01\x07\x02\x02\x00\x02\x02\x01\x40\x04\x04",
		"\x04\x01\x02\x00\x15\x81\xff\xff\xff\x7f\x03\x00\x82\x00\x00\x00\x80\x00\x01\xff\x00\x00",
		"deciding who keeps the session when both peers connect at once, again and again",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzing.Report(t, checkDecide(data)) })
}

// The decision checks catch wrong decisions: for each input, Decide's own answer passes and a
// wrong one is caught.
func TestFuzzDecideChecksHaveTeeth(t *testing.T) {
	low := wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.1:6800"), 1)
	high := wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.1:6800"), 2)
	input := func(cs uint32, ex Existing) DecideInput {
		return DecideInput{Connect: wire.Connect{Features: wire.FeaturesAll, HostType: wire.EntityOSD, GlobalSeq: 10,
			ConnectSeq: cs, ProtocolVersion: 10}, Policy: LosslessPeer(0), ProtocolVersion: 10, AuthResult: 1,
			PeerAddr: high, MyAddr: low, Existing: ex}
	}
	open := Existing{Present: true, State: StateOpened, ConnectSeq: 2, PeerGlobalSeq: 5}
	racing := Existing{Present: true, State: StateConnectingSendConnectMsg, ConnectSeq: 1}
	cases := []struct {
		name  string
		in    DecideInput
		wrong Decision
	}{
		{"READY as a reply", input(0, Existing{}), Decision{Verdict: VerdictReply, Tag: wire.TagReady, Rule: "x"}},
		{"open beside a live session", input(3, open), Decision{Verdict: VerdictOpen, Rule: "x"}},
		{"stale global_seq accepted", input(3, Existing{Present: true, State: StateOpened, ConnectSeq: 2, PeerGlobalSeq: 50}),
			Decision{Verdict: VerdictReplace, Rule: "x"}},
		{"RETRY_GLOBAL with our own global_seq", input(3, Existing{Present: true, State: StateOpened, ConnectSeq: 2, PeerGlobalSeq: 50}),
			Decision{Verdict: VerdictReply, Tag: wire.TagRetryGlobal, GlobalSeq: 51, Rule: "x"}},
		{"stale connect_seq takes over", input(1, open), Decision{Verdict: VerdictReplace, Rule: "x"}},
		{"RETRY_SESSION not above", input(1, open), Decision{Verdict: VerdictReply, Tag: wire.TagRetrySession, ConnectSeq: 2, Rule: "x"}},
		{"WAIT against an open session", input(2, open), Decision{Verdict: VerdictReply, Tag: wire.TagWait, KeepaliveExisting: true, Rule: "x"}},
		{"WAIT without a keepalive", input(1, racing), Decision{Verdict: VerdictReply, Tag: wire.TagWait, Rule: "x"}},
		{"race won by the wrong side", input(1, racing), Decision{Verdict: VerdictReplace, Rule: "x"}},
		{"RESETSESSION to connect_seq 0", input(0, Existing{}), Decision{Verdict: VerdictReply, Tag: wire.TagResetSession, Rule: "x"}},
		{"peer restart not flagged", input(0, open), Decision{Verdict: VerdictReplace, Rule: "x"}},
		{"challenge skipped", func() DecideInput { in := input(0, Existing{}); in.AuthResult = 0; return in }(),
			Decision{Verdict: VerdictOpen, Rule: "x"}},
		{"no rule", input(0, Existing{}), Decision{Verdict: VerdictOpen}},
	}
	for _, tc := range cases {
		if err := checkDecision(&tc.in, Decide(&tc.in)); err != nil {
			t.Errorf("%s: Decide's own answer %+v refused: %v", tc.name, Decide(&tc.in), err)
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

var writeCorpus = flag.Bool("write-corpus", false, "rewrite testdata/fuzz/FuzzAcceptor and FuzzConnector from the transcripts")

// TestWriteConnCorpus (with -write-corpus) runs every golden transcript and writes the byte
// stream each socket carried as seeds: what a dialling connection wrote becomes an acceptor's
// input, what an acceptor (or a scripted peer) wrote a connector's, each under the fuzz
// configuration closest to the transcript's messenger. go test runs them as seeds.
func TestWriteConnCorpus(t *testing.T) {
	if !*writeCorpus {
		t.Skip("run with -write-corpus to rewrite testdata/fuzz/FuzzAcceptor and FuzzConnector")
	}
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	written := map[string]bool{}
	for _, target := range []string{"FuzzAcceptor", "FuzzConnector"} {
		dir := filepath.Join("testdata", "fuzz", target)
		old, _ := filepath.Glob(filepath.Join(dir, "transcript-*")) // other entries are findings: kept
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		e := newEnv()
		ddtest.RunTest(t, f, e.handle)
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		for _, s := range e.all {
			for _, acceptor := range []bool{true, false} {
				in := transcriptSeed(s, acceptor)
				if in == nil || written[string(in)] {
					continue
				}
				written[string(in)] = true
				target := map[bool]string{true: "FuzzAcceptor", false: "FuzzConnector"}[acceptor]
				path := filepath.Join("testdata", "fuzz", target, fmt.Sprintf("transcript-%s-socket%d", name, s.id))
				if err := os.WriteFile(path, []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", in)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// transcriptSeed is the input replaying what one side of socket s received, or nil when that
// side is not a connection of the transcript or received nothing.
func transcriptSeed(s *socket, acceptor bool) []byte {
	me, from := 1, 0 // the acceptor reads what the dialer wrote
	if !acceptor {
		me, from = 0, 1
	}
	n, stream := s.ends[me], s.wrote[from]
	if n == nil || len(stream) == 0 {
		return nil
	}
	peerType := wire.EntityOSD
	if s.ends[from] != nil {
		peerType = s.ends[from].m.cfg.MyName.Type
	}
	b1 := seedConfigFor(acceptor, n.m, peerType)
	return fuzzInput(0, b1, nil, stream[:min(len(stream), maxConnInput-3)])
}

// seedConfigFor is the configuration byte closest to messenger m: OSDs, crcs as m has them,
// the policy index whose policy is m's (a connector dials the address its peer announces).
func seedConfigFor(acceptor bool, m *tmsgr, peerType wire.EntityType) byte {
	b1 := byte(0x02)
	if !acceptor {
		b1 |= 0x40
	}
	if !m.cfg.CRCHeader || !m.cfg.CRCData {
		b1 |= 0x01
	}
	for p := range 4 {
		got := parseFuzzConfig(acceptor, 0, b1|byte(p<<2)).policyFor(peerType)
		want := m.policy
		want.FeaturesSupported, want.FeaturesRequired = got.FeaturesSupported, got.FeaturesRequired
		if got == want {
			return b1 | byte(p<<2)
		}
	}
	return b1
}
