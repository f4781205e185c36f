package wire

import (
	"bytes"
	"fmt"

	"github.com/msgrsim/msgrsim/internal/fuzzing"
)

// The checks of the fuzz targets (wire_fuzz_test.go for go test -fuzz, gofuzz.go for go-fuzz
// and libFuzzer). Each checks the same two things: no input makes a decoder panic, and
// whatever a decoder accepts re-encodes to exactly the bytes it consumed. They return nil
// when the input passed and an error describing the first property that failed. Only tests
// and gofuzz builds call them, so the linker leaves them out of production binaries.

func checkDecodeHeader(b []byte) error {
	for _, verify := range []bool{false, true} {
		h, err := DecodeHeader(b, verify)
		if err != nil {
			continue
		}
		_ = DefaultLimits().CheckHeader(&h)
		var out [HeaderLen]byte
		h.Encode(out[:], false)
		if !bytes.Equal(out[:], b[:HeaderLen]) {
			return fmt.Errorf("verify=%v: re-encoded % x, input % x", verify, out, b[:HeaderLen])
		}
		if verify && crc32cNoEscape(0, b[:HeaderCRCLen]) != h.CRC {
			return fmt.Errorf("accepted a bad crc")
		}
	}
	return nil
}

func checkDecodeLegacyAddr(b []byte) error {
	a, err := DecodeLegacyAddr(b)
	if err != nil {
		return nil
	}
	_ = a.String()
	if Compare(a, a) != 0 {
		return fmt.Errorf("address %v not equal to itself", a)
	}
	if out := a.AppendLegacy(nil); !bytes.Equal(out, b[:AddrLen]) {
		return fmt.Errorf("re-encoded % x\ninput % x", out, b[:AddrLen])
	}
	return nil
}

func checkDecodeAddr(b []byte) error {
	a, n, err := DecodeAddr(b)
	if err != nil {
		if n != 0 {
			return fmt.Errorf("n = %d on error", n)
		}
		return nil
	}
	features := FeaturesAll
	if b[0] == addrMarkerLegacy {
		features = 0
	}
	out := a.AppendEncoded(nil, features)
	if !bytes.Equal(out, b[:n]) || a.EncodedLen(features) != n {
		return fmt.Errorf("re-encoded % x\ninput % x", out, b[:n])
	}
	return nil
}

func checkDecodeConnect(b []byte) error {
	c, err := DecodeConnect(b, Limits{})
	if err != nil {
		return nil
	}
	if c.AuthorizerLen > DefaultMaxAuthorizerLen {
		return fmt.Errorf("authorizer_len %d accepted", c.AuthorizerLen)
	}
	if out := c.Append(nil); !bytes.Equal(out, b[:ConnectLen]) {
		return fmt.Errorf("re-encoded % x\ninput % x", out, b[:ConnectLen])
	}
	return nil
}

func checkDecodeConnectReply(b []byte) error {
	r, err := DecodeConnectReply(b, Limits{})
	if err != nil {
		return nil
	}
	if !r.Tag.IsReply() || r.AuthorizerLen > DefaultMaxAuthorizerLen {
		return fmt.Errorf("accepted %+v", r)
	}
	if out := r.Append(nil); !bytes.Equal(out, b[:ConnectReplyLen]) {
		return fmt.Errorf("re-encoded % x\ninput % x", out, b[:ConnectReplyLen])
	}
	return nil
}

func checkDecodeFooter(b []byte, old bool) error {
	ft, err := DecodeFooter(b, old)
	if err != nil {
		return nil
	}
	n := FooterSize(!old)
	out := make([]byte, n)
	ft.Encode(out, old)
	if !bytes.Equal(out, b[:n]) {
		return fmt.Errorf("re-encoded % x\ninput % x", out, b[:n])
	}
	return nil
}

func checkDecodeMAuth(b []byte) error {
	if m, err := DecodeMAuth(b); err == nil {
		if out := m.AppendFront(nil); !bytes.Equal(out, b) {
			return fmt.Errorf("MAuth re-encoded % x\ninput % x", out, b)
		}
	}
	// The same bytes as the blobs that travel inside MAuth and connect.
	if r, err := DecodeAuthNoneRequest(b); err == nil {
		if out := r.AppendEncoded(nil); !bytes.Equal(out, b) {
			return fmt.Errorf("request re-encoded % x\ninput % x", out, b)
		}
	}
	if a, err := DecodeAuthNoneAuthorizer(b); err == nil {
		if out := a.AppendEncoded(nil); !bytes.Equal(out, b) {
			return fmt.Errorf("authorizer re-encoded % x\ninput % x", out, b)
		}
	}
	return nil
}

func checkDecodeMAuthReply(b []byte) error {
	if m, err := DecodeMAuthReply(b); err == nil {
		if out := m.AppendFront(nil); !bytes.Equal(out, b) {
			return fmt.Errorf("re-encoded % x\ninput % x", out, b)
		}
	}
	if s, n, err := DecodeCephString(b); err == nil {
		if out := AppendCephString(nil, s); !bytes.Equal(out, b[:n]) {
			return fmt.Errorf("string re-encoded % x\ninput % x", out, b[:n])
		}
	}
	return nil
}

func checkDecodeFrame(b []byte, old bool) error {
	fr, n, err := DecodeFrame(b, old, Limits{MaxMessageLen: 1 << 20})
	if err != nil {
		return nil
	}
	if out := fr.Append(nil); !bytes.Equal(out, b[:n]) || fr.Len != n {
		return fmt.Errorf("re-encoded % x\ninput % x", out, b[:n])
	}
	return nil
}

// dissectOptionVariants are the single-direction options checkDissect tries on each stream.
var dissectOptionVariants = []DissectOptions{
	{},
	{FinalReply: TagReady, PeerFeatures: FeaturesAll &^ FeatureMsgAuth},
	{ConnectRounds: 2, FinalReply: TagSeq},
	{FinalReply: TagWait},
}

// maxDissectInput bounds the streams checkDissect takes: the minimizer is quadratic in the
// input length, and a large interesting input would use the whole -fuzztime being minimized.
const maxDissectInput = 4096

func checkDissect(c2s, s2c []byte) error {
	if len(c2s)+len(s2c) > maxDissectInput {
		return fuzzing.Skipf("%d bytes: large inputs make minimization slow", len(c2s)+len(s2c))
	}
	if err := conversationRoundTrip(c2s, s2c); err != nil {
		return err
	}
	for dir, data := range [][]byte{c2s, s2c} {
		for _, opts := range dissectOptionVariants {
			st, err := Dissect(Direction(dir), data, opts)
			out := st.Append(nil)
			if err == nil && !bytes.Equal(out, data) || !bytes.HasPrefix(data, out) {
				return fmt.Errorf("%v %+v: re-encoded % x\ninput % x (err %v)", Direction(dir), opts, out, data, err)
			}
		}
	}
	return nil
}

// conversationRoundTrip checks that a dissected conversation re-encodes to its input when it
// was accepted, and to a prefix of it when it was not.
func conversationRoundTrip(c2s, s2c []byte) error {
	cv, err := DissectConversation(c2s, s2c, DissectOptions{})
	gotC, gotS := cv.Client.Append(nil), cv.Server.Append(nil)
	if err == nil && (!bytes.Equal(gotC, c2s) || !bytes.Equal(gotS, s2c)) {
		return fmt.Errorf("accepted but does not re-encode:\nc2s % x\ns2c % x", c2s, s2c)
	}
	if !bytes.HasPrefix(c2s, gotC) || !bytes.HasPrefix(s2c, gotS) {
		return fmt.Errorf("kept frames are not a prefix (err %v)", err)
	}
	return nil
}

// checkMessageRoundTrip builds a message from an arbitrary header and sections, seals it and
// checks that the frame decodes back to the same message: the encode side of DecodeFrame.
func checkMessageRoundTrip(hdr, front, middle, data []byte, old, dataCRC bool) error {
	h, err := DecodeHeader(hdr, false)
	if err != nil {
		return nil
	}
	m := &Message{Header: h, Front: front, Middle: middle, Data: data}
	m.Seal(true, dataCRC)
	b := AppendMessageFrame(nil, m, old)
	if len(b) != MessageFrameLen(m, old) {
		return fmt.Errorf("frame of %d bytes, MessageFrameLen %d", len(b), MessageFrameLen(m, old))
	}
	fr, n, err := DecodeFrame(b, old, Limits{})
	if err != nil || n != len(b) {
		return fmt.Errorf("sealed message refused: %v", err)
	}
	got := fr.Msg
	if got.Header != m.Header || got.Footer != m.Footer || !bytes.Equal(got.Front, front) ||
		!bytes.Equal(got.Middle, middle) || !bytes.Equal(got.Data, data) {
		return fmt.Errorf("decoded %+v, want %+v", got, m)
	}
	return nil
}
