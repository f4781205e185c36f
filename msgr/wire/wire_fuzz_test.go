package wire

import (
	"bytes"
	"testing"
)

// Every fuzz target checks the same two things: no input makes a decoder panic, and whatever a
// decoder accepts re-encodes to exactly the bytes it consumed. Seeds come from the spec
// vectors and the captured streams; crashers found so far live in testdata/fuzz/<target>/.

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
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, verify := range []bool{false, true} {
			h, err := DecodeHeader(b, verify)
			if err != nil {
				continue
			}
			_ = DefaultLimits().CheckHeader(&h)
			var out [HeaderLen]byte
			h.Encode(out[:], false)
			if !bytes.Equal(out[:], b[:HeaderLen]) {
				t.Fatalf("verify=%v: re-encoded % x, input % x", verify, out, b[:HeaderLen])
			}
			if verify && crc32cNoEscape(0, b[:HeaderCRCLen]) != h.CRC {
				t.Fatal("accepted a bad crc")
			}
		}
	})
}

func FuzzDecodeLegacyAddr(f *testing.F) {
	for _, fr := range seedFrames(f, FrameAddr) {
		f.Add(fr)
	}
	f.Add(mustAddrT("v1:[fe80::1]:6789/3").AppendLegacy(nil))
	f.Add(EntityAddr{}.AppendLegacy(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeLegacyAddr(b)
		if err != nil {
			return
		}
		_ = a.String()
		if Compare(a, a) != 0 {
			t.Fatal("address not equal to itself")
		}
		if out := a.AppendLegacy(nil); !bytes.Equal(out, b[:AddrLen]) {
			t.Fatalf("re-encoded % x\ninput % x", out, b[:AddrLen])
		}
	})
}

func FuzzDecodeAddr(f *testing.F) {
	for _, v := range addr2Vectors {
		f.Add(unhex(f, v.hex))
	}
	for _, fr := range seedFrames(f, FrameAddr) {
		f.Add(fr)
	}
	f.Add([]byte{1, 1, 1, 0x28, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, n, err := DecodeAddr(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("n = %d on error", n)
			}
			return
		}
		features := FeaturesAll
		if b[0] == addrMarkerLegacy {
			features = 0
		}
		out := a.AppendEncoded(nil, features)
		if !bytes.Equal(out, b[:n]) || a.EncodedLen(features) != n {
			t.Fatalf("re-encoded % x\ninput % x", out, b[:n])
		}
	})
}

func FuzzDecodeConnect(f *testing.F) {
	for _, fr := range seedFrames(f, FrameConnect) {
		f.Add(fr)
	}
	f.Add((&Connect{Features: 0x3f01cfbf7ffdffff, HostType: EntityClient, GlobalSeq: 1, ProtocolVersion: 15, Flags: 1}).Append(nil))
	f.Add((&Connect{AuthorizerLen: 0xffffffff}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeConnect(b, Limits{})
		if err != nil {
			return
		}
		if c.AuthorizerLen > DefaultMaxAuthorizerLen {
			t.Fatalf("authorizer_len %d accepted", c.AuthorizerLen)
		}
		if out := c.Append(nil); !bytes.Equal(out, b[:ConnectLen]) {
			t.Fatalf("re-encoded % x\ninput % x", out, b[:ConnectLen])
		}
	})
}

func FuzzDecodeConnectReply(f *testing.F) {
	for _, fr := range seedFrames(f, FrameConnectReply) {
		f.Add(fr)
	}
	for _, tag := range []Tag{TagReady, TagWait, TagChallengeAuthorizer, TagMsg} {
		f.Add((&ConnectReply{Tag: tag, Features: FeaturesAll, AuthorizerLen: 4}).Append(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeConnectReply(b, Limits{})
		if err != nil {
			return
		}
		if !r.Tag.IsReply() || r.AuthorizerLen > DefaultMaxAuthorizerLen {
			t.Fatalf("accepted %+v", r)
		}
		if out := r.Append(nil); !bytes.Equal(out, b[:ConnectReplyLen]) {
			t.Fatalf("re-encoded % x\ninput % x", out, b[:ConnectReplyLen])
		}
	})
}

func FuzzDecodeFooter(f *testing.F) {
	for _, fr := range seedFrames(f, FrameMsg) {
		f.Add(fr[len(fr)-FooterLen:], false)
		f.Add(fr[len(fr)-FooterLen:], true)
	}
	f.Fuzz(func(t *testing.T, b []byte, old bool) {
		ft, err := DecodeFooter(b, old)
		if err != nil {
			return
		}
		n := FooterSize(!old)
		out := make([]byte, n)
		ft.Encode(out, old)
		if !bytes.Equal(out, b[:n]) {
			t.Fatalf("re-encoded % x\ninput % x", out, b[:n])
		}
	})
}

func FuzzDecodeMAuth(f *testing.F) {
	f.Add(mauthFront())
	for _, c := range loadCaptures(f) {
		f.Add(c.c2s[249:309]) // the captured MAuth front
	}
	f.Add((&AuthNoneAuthorizer{Name: AuthEntityName{8, "admin"}, GlobalID: 4151}).AppendEncoded(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := DecodeMAuth(b); err == nil {
			if out := m.AppendFront(nil); !bytes.Equal(out, b) {
				t.Fatalf("MAuth re-encoded % x\ninput % x", out, b)
			}
		}
		// The same bytes as the blobs that travel inside MAuth and connect.
		if r, err := DecodeAuthNoneRequest(b); err == nil {
			if out := r.AppendEncoded(nil); !bytes.Equal(out, b) {
				t.Fatalf("request re-encoded % x\ninput % x", out, b)
			}
		}
		if a, err := DecodeAuthNoneAuthorizer(b); err == nil {
			if out := a.AppendEncoded(nil); !bytes.Equal(out, b) {
				t.Fatalf("authorizer re-encoded % x\ninput % x", out, b)
			}
		}
	})
}

func FuzzDecodeMAuthReply(f *testing.F) {
	f.Add((&MAuthReply{Protocol: 1, GlobalID: 4123}).AppendFront(nil))
	f.Add((&MAuthReply{Protocol: 2, Result: -13, ResultBl: []byte("x"), ResultMsg: "no"}).AppendFront(nil))
	f.Add(AppendCephString(nil, `{"health":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := DecodeMAuthReply(b); err == nil {
			if out := m.AppendFront(nil); !bytes.Equal(out, b) {
				t.Fatalf("re-encoded % x\ninput % x", out, b)
			}
		}
		if s, n, err := DecodeCephString(b); err == nil {
			if out := AppendCephString(nil, s); !bytes.Equal(out, b[:n]) {
				t.Fatalf("string re-encoded % x\ninput % x", out, b[:n])
			}
		}
	})
}

func FuzzDecodeFrame(f *testing.F) {
	for _, fr := range seedFrames(f, FrameMsg, FrameKeepalive2, FrameKeepalive2Ack) {
		f.Add(fr, false)
	}
	f.Add(AppendMessageFrame(nil, osdMessage(1, NewName(EntityOSD, 1)), true), true)
	f.Add(AppendAck(nil, 5), false)
	f.Fuzz(func(t *testing.T, b []byte, old bool) {
		fr, n, err := DecodeFrame(b, old, Limits{MaxMessageLen: 1 << 20})
		if err != nil {
			return
		}
		if out := fr.Append(nil); !bytes.Equal(out, b[:n]) || fr.Len != n {
			t.Fatalf("re-encoded % x\ninput % x", out, b[:n])
		}
	})
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
	f.Fuzz(func(t *testing.T, c2s, s2c []byte) {
		if len(c2s)+len(s2c) > 4096 {
			t.Skip("large inputs make minimization slow")
		}
		checkRoundTrip(t, c2s, s2c)
		for dir, data := range [][]byte{c2s, s2c} {
			for _, opts := range dissectOptionVariants {
				st, err := Dissect(Direction(dir), data, opts)
				out := st.Append(nil)
				if err == nil && !bytes.Equal(out, data) || !bytes.HasPrefix(data, out) {
					t.Fatalf("%v %+v: re-encoded % x\ninput % x (err %v)", Direction(dir), opts, out, data, err)
				}
			}
		}
	})
}

// dissectOptionVariants are the single-direction options FuzzDissect tries on each stream.
var dissectOptionVariants = []DissectOptions{
	{},
	{FinalReply: TagReady, PeerFeatures: FeaturesAll &^ FeatureMsgAuth},
	{ConnectRounds: 2, FinalReply: TagSeq},
	{FinalReply: TagWait},
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
		h, err := DecodeHeader(hdr, false)
		if err != nil {
			return
		}
		m := &Message{Header: h, Front: front, Middle: middle, Data: data}
		m.Seal(true, dataCRC)
		b := AppendMessageFrame(nil, m, old)
		if len(b) != MessageFrameLen(m, old) {
			t.Fatalf("frame of %d bytes, MessageFrameLen %d", len(b), MessageFrameLen(m, old))
		}
		fr, n, err := DecodeFrame(b, old, Limits{})
		if err != nil || n != len(b) {
			t.Fatalf("sealed message refused: %v", err)
		}
		got := fr.Msg
		if got.Header != m.Header || got.Footer != m.Footer || !bytes.Equal(got.Front, front) ||
			!bytes.Equal(got.Middle, middle) || !bytes.Equal(got.Data, data) {
			t.Fatalf("decoded %+v, want %+v", got, m)
		}
	})
}
