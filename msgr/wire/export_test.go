package wire

import "testing"

// What the external tests of package wire (wire_fuzz_test.go, package wire_test: the native
// fuzz targets, whose checks live in fuzz/wirefuzz) take from the internal ones: the captured
// streams, the spec vectors, and the message and conversation builders their seeds are made of.

// Capture is a captured connection from ceph-lab (testdata/streams).
type Capture struct {
	Name     string
	C2S, S2C []byte
}

// LoadCapture reads the captured connection name.
func LoadCapture(tb testing.TB, name string) Capture {
	c := loadCapture(tb, name)
	return Capture{Name: c.name, C2S: c.c2s, S2C: c.s2c}
}

// LoadCaptures reads every captured connection.
func LoadCaptures(tb testing.TB) []Capture {
	var cs []Capture
	for _, n := range captureNames {
		cs = append(cs, LoadCapture(tb, n))
	}
	return cs
}

// Unhex decodes a hex dump with arbitrary whitespace.
func Unhex(tb testing.TB, s string) []byte { return unhex(tb, s) }

// MPingFrameHex is the §5.3 example frame (a fresh lossy client's first MPing).
const MPingFrameHex = mpingFrameHex

// Addr2VectorHexes are the MSG_ADDR2 encodings of the address vectors.
func Addr2VectorHexes() []string {
	var hs []string
	for _, v := range addr2Vectors {
		hs = append(hs, v.hex)
	}
	return hs
}

// Builders of the internal tests.
var (
	MustAddr     = mustAddrT
	MPingMessage = mpingMessage
	MAuthFront   = mauthFront
	OSDMessage   = osdMessage
)

// Synthetic builds the two streams of a handshake: a client's banner and address, a server's
// greeting, then connects and replies.
type Synthetic struct{ s *synthetic }

// NewSynthetic starts a handshake of client 10.0.0.2 with server 10.0.0.1:6800.
func NewSynthetic() Synthetic { return Synthetic{newSynthetic()} }

// Connect appends a connect message and its authorizer to the client's stream.
func (s Synthetic) Connect(c Connect, auth []byte) Synthetic { s.s.connect(c, auth); return s }

// Reply appends a reply and its authorizer to the server's stream.
func (s Synthetic) Reply(r ConnectReply, auth []byte) Synthetic { s.s.reply(r, auth); return s }

// Streams are the client's and the server's bytes so far.
func (s Synthetic) Streams() (c2s, s2c []byte) { return s.s.c2s, s.s.s2c }
