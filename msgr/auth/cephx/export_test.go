package cephx

import (
	"os"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// FuzzSeeds are byte strings from the real vectors, for the fuzz targets of the external test
// package (fuzz_test.go).
type FuzzSeeds struct {
	Authorizers [][]byte   // every connect authorizer
	Replies     [][]byte   // every connect reply authorizer (challenges, replies)
	Requests    [][]byte   // cephx MAuth payloads
	Responses   [][]byte   // cephx MAuthReply payloads
	Exchanges   [][][]byte // the MAuthReply fronts of each connection, in order
	Keyrings    [][]byte   // the testdata keyrings
	Corpus      []string   // the keyring differential corpus, keys filled in
}

// LoadFuzzSeeds reads the seeds from testdata.
func LoadFuzzSeeds(tb testing.TB) *FuzzSeeds {
	tb.Helper()
	s := &FuzzSeeds{}
	for _, cv := range loadVectors(tb).Conversations {
		for _, h := range cv.Handshake {
			if h.Authorizer == "" {
				continue
			}
			if h.Kind == "CONNECT" {
				s.Authorizers = append(s.Authorizers, unhex(tb, h.Authorizer))
			} else {
				s.Replies = append(s.Replies, unhex(tb, h.Authorizer))
			}
		}
		var fronts [][]byte
		for _, m := range cv.Messages {
			switch m.Type {
			case wire.MsgAuth:
				if a, err := wire.DecodeMAuth(unhex(tb, m.Front)); err == nil && a.Protocol == wire.AuthCephx {
					s.Requests = append(s.Requests, a.AuthPayload)
				}
			case wire.MsgAuthReply:
				front := unhex(tb, m.Front)
				fronts = append(fronts, front)
				if r, err := wire.DecodeMAuthReply(front); err == nil {
					s.Responses = append(s.Responses, r.ResultBl)
				}
			}
		}
		if len(fronts) > 0 {
			s.Exchanges = append(s.Exchanges, fronts)
		}
	}
	for _, c := range keyringCorpus {
		s.Corpus = append(s.Corpus, strings.ReplaceAll(c, "K", testKey))
	}
	for _, p := range []string{"testdata/keyring", "testdata/osd.0.keyring", "testdata/wrong.keyring"} {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		s.Keyrings = append(s.Keyrings, b)
	}
	return s
}

// TestKey is the key of the keyring tests.
const TestKey = testKey
