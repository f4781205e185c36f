package wire

import (
	"strconv"
	"testing"
)

func BenchmarkHeaderEncode(b *testing.B) {
	h := mpingMessage().Header
	var buf [HeaderLen]byte
	b.SetBytes(HeaderLen)
	b.ReportAllocs()
	for b.Loop() {
		h.Encode(buf[:], true)
	}
}

func BenchmarkHeaderDecode(b *testing.B) {
	var buf [HeaderLen]byte
	h := mpingMessage().Header
	h.Encode(buf[:], true)
	b.SetBytes(HeaderLen)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeHeader(buf[:], true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFooter(b *testing.B) {
	f := Footer{FrontCRC: 1, MiddleCRC: 2, DataCRC: 3, Flags: FooterComplete}
	var buf [FooterLen]byte
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(FooterLen)
		b.ReportAllocs()
		for b.Loop() {
			f.Encode(buf[:], false)
		}
	})
	b.Run("decode", func(b *testing.B) {
		f.Encode(buf[:], false)
		b.SetBytes(FooterLen)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeFooter(buf[:], false); err != nil {
				b.Fatal(err)
			}
		}
	})
}

var benchSizes = []int{0, 4 << 10, 64 << 10, 4 << 20}

func sizeName(n int) string { return "size=" + strconv.Itoa(n) }

func BenchmarkCRC32C(b *testing.B) {
	for _, n := range benchSizes {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i)
		}
		b.Run(sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				CRC32C(0, p)
			}
		})
	}
}

func BenchmarkAppendMessageFrame(b *testing.B) {
	for _, n := range benchSizes {
		m := &Message{Header: Header{Seq: 1, Type: MsgOSDOp, Priority: PrioDefault, Version: 8}, Front: make([]byte, 200), Data: make([]byte, n)}
		m.Seal(true, true)
		buf := make([]byte, 0, MessageFrameLen(m, false))
		b.Run(sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(MessageFrameLen(m, false)))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendMessageFrame(buf[:0], m, false)
			}
		})
	}
}

// BenchmarkSealAndAppend is what a sender does per message: crcs, then the frame.
func BenchmarkSealAndAppend(b *testing.B) {
	for _, n := range benchSizes {
		m := &Message{Header: Header{Seq: 1, Type: MsgOSDOp, Priority: PrioDefault, Version: 8}, Front: make([]byte, 200), Data: make([]byte, n)}
		buf := make([]byte, 0, MessageFrameLen(m, false))
		b.Run(sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(MessageFrameLen(m, false)))
			b.ReportAllocs()
			for b.Loop() {
				m.Seal(true, true)
				buf = AppendMessageFrame(buf[:0], m, false)
			}
		})
	}
}

func BenchmarkDecodeMessage(b *testing.B) {
	for _, n := range benchSizes {
		m := &Message{Header: Header{Seq: 1, Type: MsgOSDOp, Priority: PrioDefault, Version: 8}, Front: make([]byte, 200), Data: make([]byte, n)}
		m.Seal(true, true)
		frame := AppendMessageFrame(nil, m, false)
		b.Run(sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := DecodeMessage(frame[1:], false, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDissectConversation(b *testing.B) {
	c := loadCapture(b, "ceph-s-msgr1.conn1")
	b.SetBytes(int64(len(c.c2s) + len(c.s2c)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DissectConversation(c.c2s, c.s2c, DissectOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// smallConversation is a session of n small messages each way, an ACK after each and a
// KEEPALIVE2 every 16: what a simulated conversation looks like.
func smallConversation(n int) (c2s, s2c []byte) {
	s := newSynthetic().connect(Connect{Features: FeaturesAll, HostType: EntityOSD, GlobalSeq: 1}, nil)
	s.reply(ConnectReply{Tag: TagSeq, Features: FeaturesAll, ConnectSeq: 1}, nil)
	s.s2c, s.c2s = AppendSeq(s.s2c, 0), AppendSeq(s.c2s, 0)
	for i := range n {
		for _, dst := range []*[]byte{&s.c2s, &s.s2c} {
			m := &Message{Header: Header{Seq: uint64(i + 1), Type: MsgPing, Priority: PrioDefault}, Front: make([]byte, 100)}
			m.Seal(true, true)
			*dst = AppendAck(AppendMessageFrame(*dst, m, false), uint64(i+1))
			if i%16 == 0 {
				*dst = AppendKeepalive2(*dst, Timespec{Sec: uint32(i)})
			}
		}
	}
	return s.c2s, s.s2c
}

func BenchmarkDissectSmallMessages(b *testing.B) {
	c2s, s2c := smallConversation(1000)
	b.SetBytes(int64(len(c2s) + len(s2c)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DissectConversation(c2s, s2c, DissectOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWalk walks both directions of a conversation of small messages in writes of the
// given size, the client told the server's reply as the simulator's tracker does.
func BenchmarkWalk(b *testing.B) {
	c2s, s2c := smallConversation(1000)
	var c, s Walker
	for _, chunk := range []int{1, 61, 4096} {
		b.Run("write="+strconv.Itoa(chunk), func(b *testing.B) {
			b.SetBytes(int64(len(c2s) + len(s2c)))
			b.ReportAllocs()
			for b.Loop() {
				c.Reset(ClientToServer)
				s.Reset(ServerToClient)
				walkChunks(&s, &c, s2c, chunk)
				walkChunks(&c, &s, c2s, chunk)
			}
		})
	}
}

// walkChunks walks data with w in chunks, telling other what the reply and connect say.
func walkChunks(w, other *Walker, data []byte, chunk int) {
	for off := 0; off < len(data); off += chunk {
		for p := data[off:min(off+chunk, len(data))]; len(p) > 0; {
			n, e := w.Next(p)
			if n == 0 {
				return
			}
			p = p[n:]
			switch {
			case e == nil:
			case e.Kind == ElemReply:
				other.PeerReply(e.Tag)
				other.SetPeerFeatures(e.Reply.Features)
			case e.Kind == ElemConnect:
				other.SetPeerFeatures(e.Connect.Features)
			}
		}
	}
}
