package wire

import (
	"testing"

	"github.com/msgrsim/msgrsim/internal/fuzzing"
)

// Every fuzz target checks the same two things: no input makes a decoder panic, and whatever a
// decoder accepts re-encodes to exactly the bytes it consumed (the checks are in fuzzcheck.go,
// shared with the go-fuzz entry points of gofuzz.go). Seeds come from the spec vectors and the
// captured streams; crashers found so far live in testdata/fuzz/<target>/.

// seedFrames adds every frame of the captured conversations, each on its own.
func seedFrames(f *testing.F, kinds ...FrameKind) [][]byte {
	var out [][]byte
	for _, c := range loadCaptures(f) {
		cv, err := DissectConversation(c.c2s, c.s2c, DissectOptions{})
		if err != nil {
			f.Fatal(err)
		}
		for _, st := range []*Stream{&cv.Client, &cv.Server} {
			data := c.c2s
			if st.Dir == ServerToClient {
				data = c.s2c
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
	f.Add(unhex(f, mpingFrameHex)[1 : 1+HeaderLen])
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, checkDecodeHeader(b)) })
}

func FuzzDecodeLegacyAddr(f *testing.F) {
	for _, fr := range seedFrames(f, FrameAddr) {
		f.Add(fr)
	}
	f.Add(mustAddrT("v1:[fe80::1]:6789/3").AppendLegacy(nil))
	f.Add(EntityAddr{}.AppendLegacy(nil))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, checkDecodeLegacyAddr(b)) })
}

func FuzzDecodeAddr(f *testing.F) {
	for _, v := range addr2Vectors {
		f.Add(unhex(f, v.hex))
	}
	for _, fr := range seedFrames(f, FrameAddr) {
		f.Add(fr)
	}
	f.Add([]byte{1, 1, 1, 0x28, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, checkDecodeAddr(b)) })
}

func FuzzDecodeConnect(f *testing.F) {
	for _, fr := range seedFrames(f, FrameConnect) {
		f.Add(fr)
	}
	f.Add((&Connect{Features: 0x3f01cfbf7ffdffff, HostType: EntityClient, GlobalSeq: 1, ProtocolVersion: 15, Flags: 1}).Append(nil))
	f.Add((&Connect{AuthorizerLen: 0xffffffff}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, checkDecodeConnect(b)) })
}

func FuzzDecodeConnectReply(f *testing.F) {
	for _, fr := range seedFrames(f, FrameConnectReply) {
		f.Add(fr)
	}
	for _, tag := range []Tag{TagReady, TagWait, TagChallengeAuthorizer, TagMsg} {
		f.Add((&ConnectReply{Tag: tag, Features: FeaturesAll, AuthorizerLen: 4}).Append(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, checkDecodeConnectReply(b)) })
}

func FuzzDecodeFooter(f *testing.F) {
	for _, fr := range seedFrames(f, FrameMsg) {
		f.Add(fr[len(fr)-FooterLen:], false)
		f.Add(fr[len(fr)-FooterLen:], true)
	}
	f.Fuzz(func(t *testing.T, b []byte, old bool) { fuzzing.Report(t, checkDecodeFooter(b, old)) })
}

func FuzzDecodeMAuth(f *testing.F) {
	f.Add(mauthFront())
	for _, c := range loadCaptures(f) {
		f.Add(c.c2s[249:309]) // the captured MAuth front
	}
	f.Add((&AuthNoneAuthorizer{Name: AuthEntityName{8, "admin"}, GlobalID: 4151}).AppendEncoded(nil))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, checkDecodeMAuth(b)) })
}

func FuzzDecodeMAuthReply(f *testing.F) {
	f.Add((&MAuthReply{Protocol: 1, GlobalID: 4123}).AppendFront(nil))
	f.Add((&MAuthReply{Protocol: 2, Result: -13, ResultBl: []byte("x"), ResultMsg: "no"}).AppendFront(nil))
	f.Add(AppendCephString(nil, `{"health":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzing.Report(t, checkDecodeMAuthReply(b)) })
}

func FuzzDecodeFrame(f *testing.F) {
	for _, fr := range seedFrames(f, FrameMsg, FrameKeepalive2, FrameKeepalive2Ack) {
		f.Add(fr, false)
	}
	f.Add(AppendMessageFrame(nil, osdMessage(1, NewName(EntityOSD, 1)), true), true)
	f.Add(AppendAck(nil, 5), false)
	f.Fuzz(func(t *testing.T, b []byte, old bool) { fuzzing.Report(t, checkDecodeFrame(b, old)) })
}

func FuzzDissect(f *testing.F) {
	// Small seeds: the minimizer is quadratic in the input length, and a large interesting
	// input would use the whole -fuzztime being minimized.
	for _, c := range loadCaptures(f) {
		f.Add(c.c2s[:min(len(c.c2s), 453)], c.s2c[:min(len(c.s2c), 423)])
	}
	s := newSynthetic().connect(Connect{Features: FeaturesAll &^ FeatureMsgAuth}, []byte{1, 2})
	s.reply(ConnectReply{Tag: TagRetryGlobal, Features: FeaturesAll}, nil).connect(Connect{Features: FeaturesAll &^ FeatureMsgAuth}, nil)
	s.reply(ConnectReply{Tag: TagReady, Features: FeaturesAll}, []byte{3})
	s.c2s = AppendClose(AppendKeepalive(AppendAck(AppendMessageFrame(s.c2s, mpingMessage(), true), 1)))
	f.Add(s.c2s, s.s2c)
	f.Fuzz(func(t *testing.T, c2s, s2c []byte) { fuzzing.Report(t, checkDissect(c2s, s2c)) })
}

// FuzzMessageRoundTrip builds messages from arbitrary headers and sections, seals them and
// checks that the frame decodes back to the same message: the encode side of DecodeFrame.
func FuzzMessageRoundTrip(f *testing.F) {
	var hb [HeaderLen]byte
	m := osdMessage(3, NewName(EntityOSD, 7))
	m.Header.Encode(hb[:], false)
	f.Add(hb[:], m.Front, m.Middle, m.Data[:100], false, true)
	f.Add(hb[:], []byte{}, []byte{}, []byte{}, true, false)
	f.Fuzz(func(t *testing.T, hdr, front, middle, data []byte, old, dataCRC bool) {
		fuzzing.Report(t, checkMessageRoundTrip(hdr, front, middle, data, old, dataCRC))
	})
}
