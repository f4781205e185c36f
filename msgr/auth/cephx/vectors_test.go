package cephx

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The real-Ceph vectors: testdata/vectors.json holds what a Ceph 16.2.15 cluster with cephx
// sent on loopback (see testdata/README.md): the cephx handshakes of the ceph CLI with a
// monitor, the mon<->mon sessions with cephx authorizers, challenges and signed messages.
// testdata/keyring has the keys of that throw-away cluster. The vectors are extracted from a
// capture made by scripts/ceph/cephx-capture.sh with
//
//	go test ./msgr/auth/cephx -run TestExtractVectors -cephx.extract DIR

var extractDir = flag.String("cephx.extract", "", "extract testdata/vectors.json from the streams cephx-capture.sh wrote in this directory")

// The messages kept per direction of a connection: every MAuth and MAuthReply, and of the
// others the first 16 on a session opened with an authorizer (they are signed), the first 2
// on one without (a client's session with a monitor: they show it is not signed).
const (
	maxSignedMessages   = 16
	maxUnsignedMessages = 2
)

type vectorFile struct {
	Source        string         `json:"source"`
	Conversations []conversation `json:"conversations"`
}

type conversation struct {
	Stream          string         `json:"stream"`
	ClientType      uint8          `json:"client_type"` // entity type of the connecting side
	ClientFeatures  string         `json:"client_features"`
	ServerFeatures  string         `json:"server_features"`
	Handshake       []handshake    `json:"handshake"`
	Messages        []vectorMsg    `json:"messages"`
	MessagesDropped map[string]int `json:"messages_dropped,omitempty"`
}

type handshake struct {
	Dir        string `json:"dir"`
	Kind       string `json:"kind"`
	Tag        string `json:"tag,omitempty"`
	GlobalSeq  uint32 `json:"global_seq"`
	Protocol   uint32 `json:"authorizer_protocol,omitempty"`
	Authorizer string `json:"authorizer,omitempty"`
}

type vectorMsg struct {
	Dir    string `json:"dir"`
	Type   uint16 `json:"type"`
	Seq    uint64 `json:"seq"`
	Header string `json:"header"`
	Front  string `json:"front,omitempty"` // MAuth and MAuthReply only
	Footer string `json:"footer"`
}

func TestExtractVectors(t *testing.T) {
	if *extractDir == "" {
		t.Skip("run with -cephx.extract DIR to regenerate testdata/vectors.json")
	}
	streams, err := filepath.Glob(filepath.Join(*extractDir, "stream*.c2s.bin"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(streams)
	vf := vectorFile{Source: "Ceph 16.2.15 (Debian 12) on loopback, scripts/ceph/cephx-capture.sh"}
	for _, c2sPath := range streams {
		name := strings.TrimSuffix(filepath.Base(c2sPath), ".c2s.bin")
		cv, ok := extractConversation(t, name, c2sPath, strings.TrimSuffix(c2sPath, ".c2s.bin")+".s2c.bin")
		if ok {
			vf.Conversations = append(vf.Conversations, cv)
		}
	}
	b, err := json.MarshalIndent(&vf, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/vectors.json", append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d conversations", len(vf.Conversations))
}

func extractConversation(t *testing.T, name, c2sPath, s2cPath string) (conversation, bool) {
	c2s, err1 := os.ReadFile(c2sPath)
	s2c, err2 := os.ReadFile(s2cPath)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if len(c2s) == 0 {
		return conversation{}, false
	}
	d, err := wire.DissectConversation(c2s, s2c, wire.DissectOptions{})
	if err != nil {
		t.Logf("%s: %v (kept what decoded)", name, err)
	}
	cv := conversation{Stream: name, MessagesDropped: map[string]int{}}
	limit := maxUnsignedMessages
	if d.Connect.AuthorizerProtocol == wire.AuthCephx {
		limit = maxSignedMessages
	}
	for _, st := range []*wire.Stream{&d.Client, &d.Server} {
		dir := st.Dir.String()
		kept := 0
		for i := range st.Frames {
			f := &st.Frames[i]
			switch f.Kind {
			case wire.FrameConnect:
				cv.ClientType = uint8(f.Connect.HostType)
				cv.ClientFeatures = fmt.Sprintf("%#x", f.Connect.Features)
				cv.Handshake = append(cv.Handshake, handshake{Dir: dir, Kind: "CONNECT", GlobalSeq: f.Connect.GlobalSeq,
					Protocol: f.Connect.AuthorizerProtocol, Authorizer: hex.EncodeToString(f.Authorizer)})
			case wire.FrameConnectReply:
				cv.ServerFeatures = fmt.Sprintf("%#x", f.Reply.Features)
				cv.Handshake = append(cv.Handshake, handshake{Dir: dir, Kind: "CONNECT_REPLY", Tag: f.Reply.Tag.String(),
					GlobalSeq: f.Reply.GlobalSeq, Authorizer: hex.EncodeToString(f.Authorizer)})
			case wire.FrameMsg:
				auth := f.Msg.Header.Type == wire.MsgAuth || f.Msg.Header.Type == wire.MsgAuthReply
				if !auth && kept == limit {
					cv.MessagesDropped[dir]++
					continue
				}
				if !auth {
					kept++
				}
				cv.Messages = append(cv.Messages, vectorMessage(dir, f.Msg, f.OldFooter))
			}
		}
	}
	return cv, len(cv.Handshake) > 0
}

func vectorMessage(dir string, m *wire.Message, oldFooter bool) vectorMsg {
	var h [wire.HeaderLen]byte
	m.Header.Encode(h[:], false)
	f := make([]byte, wire.FooterSize(!oldFooter))
	m.Footer.Encode(f, oldFooter)
	v := vectorMsg{Dir: dir, Type: m.Header.Type, Seq: m.Header.Seq, Header: hex.EncodeToString(h[:]),
		Footer: hex.EncodeToString(f)}
	if m.Header.Type == wire.MsgAuth || m.Header.Type == wire.MsgAuthReply {
		v.Front = hex.EncodeToString(m.Front)
	}
	return v
}

// loadVectors reads testdata/vectors.json.
func loadVectors(tb testing.TB) *vectorFile {
	tb.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		tb.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(b, &vf); err != nil {
		tb.Fatal(err)
	}
	return &vf
}

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
