package wire_test

import (
	"bytes"
	"testing"

	"github.com/msgrsim/msgrsim/fuzz/wirefuzz"
	"github.com/msgrsim/msgrsim/internal/fuzzing"
	. "github.com/msgrsim/msgrsim/msgr/wire"
)

// Every fuzz target checks the same two things: no input makes a decoder panic, and whatever a
// decoder accepts re-encodes to exactly the bytes it consumed (the checks are in
// fuzz/wirefuzz, shared with its go-fuzz entry points). Seeds come from the spec vectors and
// the captured streams; crashers found so far live in testdata/fuzz/<target>/.

// seedFrames adds every frame of the captured conversations, each on its own.
func seedFrames(f *testing.F, kinds ...FrameKind) [][]byte {
	var out [][]byte
	for _, c := range LoadCaptures(f) {
		cv, err := DissectConversation(c.C2S, c.S2C, DissectOptions{})
		if err != nil {
			f.Fatal(err)
		}
		for _, st := range []*Stream{&cv.Client, &cv.Server} {
			data := c.C2S
			if st.Dir == ServerToClient {
				data = c.S2C
			}
			for _, fr := range st.Frames {
				for _, k := range kinds {
					if fr.Kind == k && fr.Len < 4096 {
						out = append(out, data[fr.Offset:fr.Offset+fr.Len])
					}
				}
			}
		}
	}
	return out
}

func FuzzDecodeHeader(f *testing.F) {
	for _, fr := range seedFrames(f, FrameMsg) {
		f.Add(fr[1 : 1+HeaderLen])
	}
	f.Add(Unhex(f, MPingFrameHex)[1 : 1+HeaderLen])
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, wirefuzz.CheckDecodeHeader(b)) })
}

func FuzzDecodeLegacyAddr(f *testing.F) {
	for _, fr := range seedFrames(f, FrameAddr) {
		f.Add(fr)
	}
	f.Add(MustAddr("v1:[fe80::1]:6789/3").AppendLegacy(nil))
	f.Add(EntityAddr{}.AppendLegacy(nil))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, wirefuzz.CheckDecodeLegacyAddr(b)) })
}

func FuzzDecodeAddr(f *testing.F) {
	for _, h := range Addr2VectorHexes() {
		f.Add(Unhex(f, h))
	}
	for _, fr := range seedFrames(f, FrameAddr) {
		f.Add(fr)
	}
	f.Add([]byte{1, 1, 1, 0x28, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, wirefuzz.CheckDecodeAddr(b)) })
}

func FuzzDecodeConnect(f *testing.F) {
	for _, fr := range seedFrames(f, FrameConnect) {
		f.Add(fr)
	}
	f.Add((&Connect{Features: 0x3f01cfbf7ffdffff, HostType: EntityClient, GlobalSeq: 1, ProtocolVersion: 15, Flags: 1}).Append(nil))
	f.Add((&Connect{AuthorizerLen: 0xffffffff}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, wirefuzz.CheckDecodeConnect(b)) })
}

func FuzzDecodeConnectReply(f *testing.F) {
	for _, fr := range seedFrames(f, FrameConnectReply) {
		f.Add(fr)
	}
	for _, tag := range []Tag{TagReady, TagWait, TagChallengeAuthorizer, TagMsg} {
		f.Add((&ConnectReply{Tag: tag, Features: FeaturesAll, AuthorizerLen: 4}).Append(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, wirefuzz.CheckDecodeConnectReply(b)) })
}

func FuzzDecodeFooter(f *testing.F) {
	for _, fr := range seedFrames(f, FrameMsg) {
		f.Add(fr[len(fr)-FooterLen:], false)
		f.Add(fr[len(fr)-FooterLen:], true)
	}
	f.Fuzz(func(t *testing.T, b []byte, old bool) { fuzzing.Report(t, wirefuzz.CheckDecodeFooter(b, old)) })
}

func FuzzDecodeMAuth(f *testing.F) {
	f.Add(MAuthFront())
	for _, c := range LoadCaptures(f) {
		f.Add(c.C2S[249:309]) // the captured MAuth front
	}
	f.Add((&AuthNoneAuthorizer{Name: AuthEntityName{8, "admin"}, GlobalID: 4151}).AppendEncoded(nil))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, wirefuzz.CheckDecodeMAuth(b)) })
}

func FuzzDecodeMAuthReply(f *testing.F) {
	f.Add((&MAuthReply{Protocol: 1, GlobalID: 4123}).AppendFront(nil))
	f.Add((&MAuthReply{Protocol: 2, Result: -13, ResultBl: []byte("x"), ResultMsg: "no"}).AppendFront(nil))
	f.Add(AppendCephString(nil, `{"health":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, wirefuzz.CheckDecodeMAuthReply(b)) })
}

func FuzzDecodeFrame(f *testing.F) {
	for _, fr := range seedFrames(f, FrameMsg, FrameKeepalive2, FrameKeepalive2Ack) {
		f.Add(fr, false)
	}
	f.Add(AppendMessageFrame(nil, OSDMessage(1, NewName(EntityOSD, 1)), true), true)
	f.Add(AppendAck(nil, 5), false)
	f.Fuzz(func(t *testing.T, b []byte, old bool) { fuzzing.Report(t, wirefuzz.CheckDecodeFrame(b, old)) })
}

func FuzzDissect(f *testing.F) {
	// Small seeds: the minimizer is quadratic in the input length, and a large interesting
	// input would use the whole -fuzztime being minimized.
	for _, c := range LoadCaptures(f) {
		f.Add(c.C2S[:min(len(c.C2S), 453)], c.S2C[:min(len(c.S2C), 423)])
	}
	s := NewSynthetic().Connect(Connect{Features: FeaturesAll &^ FeatureMsgAuth}, []byte{1, 2})
	s = s.Reply(ConnectReply{Tag: TagRetryGlobal, Features: FeaturesAll}, nil).Connect(Connect{Features: FeaturesAll &^ FeatureMsgAuth}, nil)
	s = s.Reply(ConnectReply{Tag: TagReady, Features: FeaturesAll}, []byte{3})
	c2s, s2c := s.Streams()
	c2s = AppendClose(AppendKeepalive(AppendAck(AppendMessageFrame(c2s, MPingMessage(), true), 1)))
	f.Add(c2s, s2c)
	f.Fuzz(func(t *testing.T, c2s, s2c []byte) { fuzzing.Report(t, wirefuzz.CheckDissect(c2s, s2c)) })
}

// FuzzMessageRoundTrip builds messages from arbitrary headers and sections, seals them and
// checks that the frame decodes back to the same message: the encode side of DecodeFrame.
func FuzzMessageRoundTrip(f *testing.F) {
	var hb [HeaderLen]byte
	m := OSDMessage(3, NewName(EntityOSD, 7))
	m.Header.Encode(hb[:], false)
	f.Add(hb[:], m.Front, m.Middle, m.Data[:100], false, true)
	f.Add(hb[:], []byte{}, []byte{}, []byte{}, true, false)
	f.Fuzz(func(t *testing.T, hdr, front, middle, data []byte, old, dataCRC bool) {
		fuzzing.Report(t, wirefuzz.CheckMessageRoundTrip(hdr, front, middle, data, old, dataCRC))
	})
}

// TestDissectMutations flips every byte of the bootstrap connection, one at a time: nothing
// panics, and whatever is accepted re-encodes to the mutated bytes (FuzzDissect's
// conversation check).
func TestDissectMutations(t *testing.T) {
	c := LoadCapture(t, "ceph-s-msgr1.conn0")
	for dir, data := range [][]byte{c.C2S, c.S2C} {
		for i := range data {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				mut := bytes.Clone(data)
				mut[i] ^= x
				c2s, s2c := c.C2S, c.S2C
				if dir == 0 {
					c2s = mut
				} else {
					s2c = mut
				}
				if err := wirefuzz.CheckConversation(c2s, s2c); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
