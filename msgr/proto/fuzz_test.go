package proto_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/fuzz/protofuzz"
	"github.com/msgrsim/msgrsim/internal/ddtest"
	"github.com/msgrsim/msgrsim/internal/fuzzing"
	"github.com/msgrsim/msgrsim/msgr/proto/prototest"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Fuzz targets of one connection fed arbitrary peer bytes after a valid or partial prefix, in
// arbitrary chunkings, with ticks of the clock (the input format and every property checked
// are described in fuzz/protofuzz/conn.go; the tests of the harness itself are there too).
// Seeds: every prefix under several configurations, the real Ceph streams captured in
// ../wire/testdata/streams, and the byte streams of the golden transcripts
// (testdata/fuzz/FuzzAcceptor, FuzzConnector; see TestWriteConnCorpus).

// streamsDir holds the real Ceph streams the seeds are made of.
const streamsDir = "../wire/testdata/streams"

func FuzzAcceptor(f *testing.F) {
	addSeeds(f, true)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzing.Report(t, protofuzz.CheckAcceptor(data)) })
}

func FuzzConnector(f *testing.F) {
	addSeeds(f, false)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzing.Report(t, protofuzz.CheckConnector(data)) })
}

func addSeeds(f *testing.F, acceptor bool) {
	seeds, err := protofuzz.Seeds(acceptor, streamsDir)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range seeds {
		f.Add(s)
	}
}

// FuzzDecide drives the accept decision table through a model of the registry (the input
// format and every property are described in fuzz/protofuzz/decide.go).
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
	f.Fuzz(func(t *testing.T, data []byte) { fuzzing.Report(t, protofuzz.CheckDecide(data)) })
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
		for _, s := range e.Sockets {
			for _, acceptor := range []bool{true, false} {
				in := transcriptSeed(s, acceptor)
				if in == nil || written[string(in)] {
					continue
				}
				written[string(in)] = true
				target := map[bool]string{true: "FuzzAcceptor", false: "FuzzConnector"}[acceptor]
				path := filepath.Join("testdata", "fuzz", target, fmt.Sprintf("transcript-%s-socket%d", name, s.ID))
				if err := os.WriteFile(path, []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", in)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// transcriptSeed is the input replaying what one side of socket s received, or nil when that
// side is not a connection of the transcript or received nothing.
func transcriptSeed(s *prototest.Socket, acceptor bool) []byte {
	me, from := 1, 0 // the acceptor reads what the dialer wrote
	if !acceptor {
		me, from = 0, 1
	}
	n, stream := s.Ends[me], s.Wrote[from]
	if n == nil || len(stream) == 0 {
		return nil
	}
	peerType := wire.EntityOSD
	if s.Ends[from] != nil {
		peerType = s.Ends[from].M.Cfg.MyName.Type
	}
	b1 := seedConfigFor(acceptor, n.M, peerType)
	return protofuzz.Input(0, b1, nil, stream[:min(len(stream), protofuzz.MaxConnInput-3)])
}

// seedConfigFor is the configuration byte closest to messenger m: OSDs, crcs as m has them,
// the policy index whose policy is m's (a connector dials the address its peer announces).
func seedConfigFor(acceptor bool, m *prototest.Msgr, peerType wire.EntityType) byte {
	b1 := byte(0x02)
	if !acceptor {
		b1 |= 0x40
	}
	if !m.Cfg.CRCHeader || !m.Cfg.CRCData {
		b1 |= 0x01
	}
	for p := range 4 {
		got := protofuzz.PolicyFor(acceptor, b1|byte(p<<2), peerType)
		want := m.Policy
		want.FeaturesSupported, want.FeaturesRequired = got.FeaturesSupported, got.FeaturesRequired
		if got == want {
			return b1 | byte(p<<2)
		}
	}
	return b1
}
