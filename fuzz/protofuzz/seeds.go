package protofuzz

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Input assembles an input of FuzzAcceptor or FuzzConnector: the prefix byte, the
// configuration byte, the schedule (at most 255 actions) and the peer's bytes after the
// prefix.
func Input(b0, b1 byte, sched, stream []byte) []byte {
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

// Seeds are the seed inputs of FuzzAcceptor (acceptor) or FuzzConnector: every prefix under
// several configurations and schedules; for an acceptor, every registered session; for a
// connector, every reply tag that does not open the session; and the real Ceph streams
// captured in streamsDir (msgr/wire/testdata/streams), whole and in small chunks.
func Seeds(acceptor bool, streamsDir string) ([][]byte, error) {
	var seeds [][]byte
	for prefix := range numPrefixes {
		for _, cfg := range seedConfigs {
			for _, sched := range seedSchedules {
				seeds = append(seeds, Input(byte(prefix), cfg, sched, []byte("\x08\x01\x00\x00\x00\x00\x00\x00\x00\x0e")))
			}
		}
	}
	if acceptor {
		for ex := range existings {
			seeds = append(seeds, Input(byte(4|ex<<3), 0x02, nil, nil), Input(byte(3|ex<<3), 0x42, nil, nil))
		}
	} else {
		seeds = append(seeds, replySeeds()...)
	}
	captures, err := captureSeeds(acceptor, streamsDir)
	if err != nil {
		return nil, err
	}
	for _, c := range captures {
		seeds = append(seeds, c.input)
	}
	return seeds, nil
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
		seeds = append(seeds, Input(2, 0x02, nil, b), Input(2, 0x0a, []byte{0x0f, 0x0f, 0xc6, 0xf6}, b))
	}
	return seeds
}

// captureSeed is a seed made of a real Ceph stream.
type captureSeed struct {
	name     string
	input    []byte
	messages bool // the stream carries messages the connection delivers
}

// captureSeeds are the real Ceph streams (a ceph CLI and a ceph-mon): the client's side for
// an acceptor playing the monitor, the monitor's side for a connector playing the client
// (dialling the address the monitor announces), whole and in small chunks.
func captureSeeds(acceptor bool, dir string) ([]captureSeed, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.bin"))
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("no captured streams in %s (%v)", dir, err)
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
			return nil, fmt.Errorf("captured stream: %w", err)
		}
		b = b[:min(len(b), MaxConnInput-16)]
		// The fake server of ceph-vs-fake-ready answered READY: its client sent no in_seq and
		// the fake sent no messages.
		real := strings.Contains(name, "ceph-s-")
		seeds = append(seeds, captureSeed{name, Input(0, cfg, nil, b), real},
			captureSeed{name + " in 7-byte chunks", Input(0, cfg, []byte{0x06}, b), real})
	}
	return seeds, nil
}
