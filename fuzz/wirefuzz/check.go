package wirefuzz

import (
	"bytes"
	"fmt"

	"github.com/msgrsim/msgrsim/internal/fuzzing"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The checks of the fuzz targets (msgr/wire/wire_fuzz_test.go for go test -fuzz, gofuzz.go for
// go-fuzz and libFuzzer). Each checks the same two things: no input makes a decoder panic, and
// whatever a decoder accepts re-encodes to exactly the bytes it consumed. They return nil
// when the input passed and an error describing the first property that failed.

// addrMarkerLegacy is the marker byte of an entity_addr_t in the legacy encoding (the
// MSG_ADDR2 encoding starts with 1).
const addrMarkerLegacy = 0

// CheckDecodeHeader (FuzzDecodeHeader): a header decoded with or without crc verification
// re-encodes to its 53 bytes, and a verified one carries the crc of its bytes.
func CheckDecodeHeader(b []byte) error {
	for _, verify := range []bool{false, true} {
		h, err := wire.DecodeHeader(b, verify)
		if err != nil {
			continue
		}
		_ = wire.DefaultLimits().CheckHeader(&h)
		var out [wire.HeaderLen]byte
		h.Encode(out[:], false)
		if !bytes.Equal(out[:], b[:wire.HeaderLen]) {
			return fmt.Errorf("verify=%v: re-encoded % x, input % x", verify, out, b[:wire.HeaderLen])
		}
		if verify && wire.CRC32C(0, b[:wire.HeaderCRCLen]) != h.CRC {
			return fmt.Errorf("accepted a bad crc")
		}
	}
	return nil
}

// CheckDecodeLegacyAddr (FuzzDecodeLegacyAddr): a decoded legacy address equals itself and
// re-encodes to its 136 bytes.
func CheckDecodeLegacyAddr(b []byte) error {
	a, err := wire.DecodeLegacyAddr(b)
	if err != nil {
		return nil
	}
	_ = a.String()
	if wire.Compare(a, a) != 0 {
		return fmt.Errorf("address %v not equal to itself", a)
	}
	if out := a.AppendLegacy(nil); !bytes.Equal(out, b[:wire.AddrLen]) {
		return fmt.Errorf("re-encoded % x\ninput % x", out, b[:wire.AddrLen])
	}
	return nil
}

// CheckDecodeAddr (FuzzDecodeAddr): a refused address consumed nothing; an accepted one
// (legacy or MSG_ADDR2) re-encodes to the bytes consumed, and EncodedLen says how many.
func CheckDecodeAddr(b []byte) error {
	a, n, err := wire.DecodeAddr(b)
	if err != nil {
		if n != 0 {
			return fmt.Errorf("n = %d on error", n)
		}
		return nil
	}
	features := wire.FeaturesAll
	if b[0] == addrMarkerLegacy {
		features = 0
	}
	out := a.AppendEncoded(nil, features)
	if !bytes.Equal(out, b[:n]) || a.EncodedLen(features) != n {
		return fmt.Errorf("re-encoded % x\ninput % x", out, b[:n])
	}
	return nil
}

// CheckDecodeConnect (FuzzDecodeConnect): no authorizer_len over the limit is accepted, and an
// accepted connect message re-encodes to its bytes.
func CheckDecodeConnect(b []byte) error {
	c, err := wire.DecodeConnect(b, wire.Limits{})
	if err != nil {
		return nil
	}
	if c.AuthorizerLen > wire.DefaultMaxAuthorizerLen {
		return fmt.Errorf("authorizer_len %d accepted", c.AuthorizerLen)
	}
	if out := c.Append(nil); !bytes.Equal(out, b[:wire.ConnectLen]) {
		return fmt.Errorf("re-encoded % x\ninput % x", out, b[:wire.ConnectLen])
	}
	return nil
}

// CheckDecodeConnectReply (FuzzDecodeConnectReply): an accepted reply carries a reply tag and
// an authorizer_len within the limit, and re-encodes to its bytes.
func CheckDecodeConnectReply(b []byte) error {
	r, err := wire.DecodeConnectReply(b, wire.Limits{})
	if err != nil {
		return nil
	}
	if !r.Tag.IsReply() || r.AuthorizerLen > wire.DefaultMaxAuthorizerLen {
		return fmt.Errorf("accepted %+v", r)
	}
	if out := r.Append(nil); !bytes.Equal(out, b[:wire.ConnectReplyLen]) {
		return fmt.Errorf("re-encoded % x\ninput % x", out, b[:wire.ConnectReplyLen])
	}
	return nil
}

// CheckDecodeFooter (FuzzDecodeFooter): a footer (old or new) re-encodes to its bytes.
func CheckDecodeFooter(b []byte, old bool) error {
	ft, err := wire.DecodeFooter(b, old)
	if err != nil {
		return nil
	}
	n := wire.FooterSize(!old)
	out := make([]byte, n)
	ft.Encode(out, old)
	if !bytes.Equal(out, b[:n]) {
		return fmt.Errorf("re-encoded % x\ninput % x", out, b[:n])
	}
	return nil
}

// CheckDecodeMAuth (FuzzDecodeMAuth): an MAuth front, an auth-none request and an auth-none
// authorizer decoded from the bytes each re-encode to them.
func CheckDecodeMAuth(b []byte) error {
	if m, err := wire.DecodeMAuth(b); err == nil {
		if out := m.AppendFront(nil); !bytes.Equal(out, b) {
			return fmt.Errorf("MAuth re-encoded % x\ninput % x", out, b)
		}
	}
	// The same bytes as the blobs that travel inside MAuth and connect.
	if r, err := wire.DecodeAuthNoneRequest(b); err == nil {
		if out := r.AppendEncoded(nil); !bytes.Equal(out, b) {
			return fmt.Errorf("request re-encoded % x\ninput % x", out, b)
		}
	}
	if a, err := wire.DecodeAuthNoneAuthorizer(b); err == nil {
		if out := a.AppendEncoded(nil); !bytes.Equal(out, b) {
			return fmt.Errorf("authorizer re-encoded % x\ninput % x", out, b)
		}
	}
	return nil
}

// CheckDecodeMAuthReply (FuzzDecodeMAuthReply): an MAuthReply front and a Ceph string
// decoded from the bytes re-encode to them.
func CheckDecodeMAuthReply(b []byte) error {
	if m, err := wire.DecodeMAuthReply(b); err == nil {
		if out := m.AppendFront(nil); !bytes.Equal(out, b) {
			return fmt.Errorf("re-encoded % x\ninput % x", out, b)
		}
	}
	if s, n, err := wire.DecodeCephString(b); err == nil {
		if out := wire.AppendCephString(nil, s); !bytes.Equal(out, b[:n]) {
			return fmt.Errorf("string re-encoded % x\ninput % x", out, b[:n])
		}
	}
	return nil
}

// CheckDecodeFrame (FuzzDecodeFrame): a session frame (old or new footers) re-encodes to the
// bytes consumed, and its length says how many.
func CheckDecodeFrame(b []byte, old bool) error {
	fr, n, err := wire.DecodeFrame(b, old, wire.Limits{MaxMessageLen: 1 << 20})
	if err != nil {
		return nil
	}
	if out := fr.Append(nil); !bytes.Equal(out, b[:n]) || fr.Len != n {
		return fmt.Errorf("re-encoded % x\ninput % x", out, b[:n])
	}
	return nil
}

// dissectOptionVariants are the single-direction options CheckDissect tries on each stream.
var dissectOptionVariants = []wire.DissectOptions{
	{},
	{FinalReply: wire.TagReady, PeerFeatures: wire.FeaturesAll &^ wire.FeatureMsgAuth},
	{ConnectRounds: 2, FinalReply: wire.TagSeq},
	{FinalReply: wire.TagWait},
}

// maxDissectInput bounds the streams CheckDissect takes: the minimizer is quadratic in the
// input length, and a large interesting input would use the whole -fuzztime being minimized.
const maxDissectInput = 4096

// CheckDissect (FuzzDissect): a conversation passes CheckConversation, and each stream,
// dissected alone under several options, re-encodes to its input when accepted and to a
// prefix of it when refused. Streams over 4 KiB in all are out of scope.
func CheckDissect(c2s, s2c []byte) error {
	if len(c2s)+len(s2c) > maxDissectInput {
		return fuzzing.Skipf("%d bytes: large inputs make minimization slow", len(c2s)+len(s2c))
	}
	if err := CheckConversation(c2s, s2c); err != nil {
		return err
	}
	for dir, data := range [][]byte{c2s, s2c} {
		for _, opts := range dissectOptionVariants {
			st, err := wire.Dissect(wire.Direction(dir), data, opts)
			out := st.Append(nil)
			if err == nil && !bytes.Equal(out, data) || !bytes.HasPrefix(data, out) {
				return fmt.Errorf("%v %+v: re-encoded % x\ninput % x (err %v)", wire.Direction(dir), opts, out, data, err)
			}
		}
	}
	return nil
}

// CheckConversation checks that a dissected conversation re-encodes to its input when it was
// accepted, and to a prefix of it when it was not.
func CheckConversation(c2s, s2c []byte) error {
	cv, err := wire.DissectConversation(c2s, s2c, wire.DissectOptions{})
	gotC, gotS := cv.Client.Append(nil), cv.Server.Append(nil)
	if err == nil && (!bytes.Equal(gotC, c2s) || !bytes.Equal(gotS, s2c)) {
		return fmt.Errorf("accepted but does not re-encode:\nc2s % x\ns2c % x", c2s, s2c)
	}
	if !bytes.HasPrefix(c2s, gotC) || !bytes.HasPrefix(s2c, gotS) {
		return fmt.Errorf("kept frames are not a prefix (err %v)", err)
	}
	return nil
}

// CheckMessageRoundTrip (FuzzMessageRoundTrip) builds a message from an arbitrary header and
// sections, seals it and checks that the frame decodes back to the same message: the encode
// side of DecodeFrame.
func CheckMessageRoundTrip(hdr, front, middle, data []byte, old, dataCRC bool) error {
	h, err := wire.DecodeHeader(hdr, false)
	if err != nil {
		return nil
	}
	m := &wire.Message{Header: h, Front: front, Middle: middle, Data: data}
	m.Seal(true, dataCRC)
	b := wire.AppendMessageFrame(nil, m, old)
	if len(b) != wire.MessageFrameLen(m, old) {
		return fmt.Errorf("frame of %d bytes, MessageFrameLen %d", len(b), wire.MessageFrameLen(m, old))
	}
	fr, n, err := wire.DecodeFrame(b, old, wire.Limits{})
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
