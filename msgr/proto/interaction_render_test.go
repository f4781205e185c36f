package proto_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/msgrsim/msgrsim/msgr/proto/prototest"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Rendering of the bytes on a socket as frames, one line each, decoded with package wire. Each
// direction has a stream decoder that follows the handshake (the client's phases depend on the
// replies the server wrote, hence the shared conv). Injected bytes are decoded leniently: a
// frame that fails a check is still shown, with the failed check.

// conv is what one socket's handshake settled so far.
type conv struct {
	connects []wire.Connect
	replies  []wire.ConnectReply
	features uint64 // negotiated, once a reply opened the session
}

type decPhase uint8

const (
	phGreeting   decPhase = iota // client: banner; server: banner and two addresses
	phAddr                       // client: its address
	phConnect                    // client: ceph_msg_connect and authorizer
	phAwaitReply                 // client: waiting for the server's reply to the last connect
	phReply                      // server: ceph_msg_connect_reply, authorizer, in_seq after SEQ
	phSeq                        // client: its in_seq after SEQ
	phFrames                     // both: session frames
)

// streamDec decodes one direction of a socket.
type streamDec struct {
	client bool
	conv   *conv
	buf    []byte
	phase  decPhase
	nconn  int // client: connect messages decoded
}

type decoded struct {
	text  string
	reply wire.Tag // a connect reply's tag, 0 otherwise
}

func featuresString(f uint64) string {
	if f == wire.FeaturesAll {
		return "all"
	}
	return fmt.Sprintf("%#x", f)
}

// decode renders every complete unit of d.buf. With atomic set (an injection), the bytes are
// one unit: if they do not decode completely, what is left is reported and dropped.
func (d *streamDec) decode(atomic bool) []decoded {
	var out []decoded
	for len(d.buf) > 0 {
		text, n, reply := d.next(atomic)
		if n == 0 {
			break
		}
		d.buf = d.buf[n:]
		out = append(out, decoded{text: text, reply: reply})
	}
	if atomic && len(d.buf) > 0 {
		out = append(out, decoded{text: fmt.Sprintf("%d bytes not decodable here: % x", len(d.buf), d.buf)})
		d.buf = nil
	}
	return out
}

// next decodes one unit: its text and length (0: incomplete).
func (d *streamDec) next(atomic bool) (string, int, wire.Tag) {
	b := d.buf
	switch d.phase {
	case phGreeting:
		if d.client {
			if len(b) < wire.BannerLen {
				return "", 0, 0
			}
			d.phase = phAddr
			return bannerText(b), wire.BannerLen, 0
		}
		if len(b) < wire.ServerGreetingLen {
			if atomic && len(b) >= wire.BannerLen {
				return fmt.Sprintf("%s (greeting truncated: %d of %d bytes)", bannerText(b), len(b), wire.ServerGreetingLen), len(b), 0
			}
			return truncated(atomic, "greeting", b, wire.ServerGreetingLen)
		}
		d.phase = phReply
		return fmt.Sprintf("%s addr=%s peer_addr=%s", bannerText(b), legacyText(b[wire.BannerLen:]),
			legacyText(b[wire.BannerLen+wire.AddrLen:])), wire.ServerGreetingLen, 0
	case phAddr:
		if len(b) < wire.AddrLen {
			return truncated(atomic, "addr", b, wire.AddrLen)
		}
		d.phase = phConnect
		return "addr " + legacyText(b), wire.AddrLen, 0
	case phConnect:
		return d.connect(atomic)
	case phAwaitReply:
		if len(d.conv.replies) < d.nconn {
			return "", 0, 0
		}
		switch d.conv.replies[d.nconn-1].Tag {
		case wire.TagReady:
			d.phase = phFrames
		case wire.TagSeq:
			d.phase = phSeq
		default:
			d.phase = phConnect
		}
		return d.next(atomic)
	case phReply:
		return d.reply(atomic)
	case phSeq:
		if len(b) < wire.SeqLen {
			return truncated(atomic, "seq", b, wire.SeqLen)
		}
		d.phase = phFrames
		return fmt.Sprintf("seq %d", binary.LittleEndian.Uint64(b)), wire.SeqLen, 0
	}
	return frameText(b, atomic, d.conv.features&wire.FeatureMsgAuth == 0)
}

func truncated(atomic bool, what string, b []byte, need int) (string, int, wire.Tag) {
	if !atomic {
		return "", 0, 0
	}
	return fmt.Sprintf("%s truncated: %d of %d bytes", what, len(b), need), len(b), 0
}

func bannerText(b []byte) string {
	if string(b[:wire.BannerLen]) == wire.Banner {
		return "banner"
	}
	return fmt.Sprintf("banner %q", b[:wire.BannerLen])
}

func legacyText(b []byte) string {
	a, err := wire.DecodeLegacyAddr(b)
	if err != nil {
		return fmt.Sprintf("(bad address: %v)", err)
	}
	return addrString(a)
}

func (d *streamDec) connect(atomic bool) (string, int, wire.Tag) {
	b := d.buf
	if len(b) < wire.ConnectLen {
		return truncated(atomic, "connect", b, wire.ConnectLen)
	}
	c, err := wire.DecodeConnect(b, wire.Limits{MaxAuthorizerLen: math.MaxUint32})
	if err != nil {
		return fmt.Sprintf("connect (undecodable: %v)", err), len(b), 0
	}
	text := fmt.Sprintf("connect gseq=%d cseq=%d proto=%d features=%s type=%v flags=%d auth=%d/%d",
		c.GlobalSeq, c.ConnectSeq, c.ProtocolVersion, featuresString(c.Features), c.HostType, c.Flags,
		c.AuthorizerProtocol, c.AuthorizerLen)
	n := wire.ConnectLen + int(c.AuthorizerLen)
	if len(b) < n {
		if !atomic {
			return "", 0, 0
		}
		return fmt.Sprintf("%s (authorizer truncated: %d of %d bytes)", text, len(b)-wire.ConnectLen, c.AuthorizerLen), len(b), 0
	}
	d.conv.connects = append(d.conv.connects, c)
	d.nconn++
	d.phase = phAwaitReply
	return text, n, 0
}

func (d *streamDec) reply(atomic bool) (string, int, wire.Tag) {
	b := d.buf
	if len(b) < wire.ConnectReplyLen {
		return truncated(atomic, "reply", b, wire.ConnectReplyLen)
	}
	r, err := wire.DecodeConnectReply(b, wire.Limits{MaxAuthorizerLen: math.MaxUint32})
	if err != nil {
		return fmt.Sprintf("reply (undecodable: %v)", err), len(b), 0
	}
	text := fmt.Sprintf("reply %v gseq=%d cseq=%d proto=%d features=%s flags=%d", r.Tag, r.GlobalSeq, r.ConnectSeq,
		r.ProtocolVersion, featuresString(r.Features), r.Flags)
	if r.AuthorizerLen > 0 {
		text += fmt.Sprintf(" auth_len=%d", r.AuthorizerLen)
	}
	n := wire.ConnectReplyLen + int(r.AuthorizerLen)
	if r.Tag == wire.TagSeq {
		n += wire.SeqLen
	}
	if len(b) < n {
		if !atomic {
			return "", 0, 0
		}
		return fmt.Sprintf("%s (truncated: %d of %d bytes)", text, len(b), n), len(b), r.Tag
	}
	d.conv.replies = append(d.conv.replies, r)
	switch r.Tag {
	case wire.TagSeq:
		text += fmt.Sprintf("\nseq %d", binary.LittleEndian.Uint64(b[n-wire.SeqLen:]))
		fallthrough
	case wire.TagReady:
		d.phase = phFrames
		if k := len(d.conv.connects); k > 0 {
			d.conv.features = d.conv.connects[k-1].Features & r.Features
		} else {
			d.conv.features = r.Features
		}
	}
	return text, n, r.Tag
}

// frameText renders one session frame.
func frameText(b []byte, atomic, oldFooter bool) (string, int, wire.Tag) {
	switch tag := wire.Tag(b[0]); tag {
	case wire.TagMsg:
		return msgText(b, atomic, oldFooter)
	case wire.TagAck, wire.TagKeepalive2, wire.TagKeepalive2Ack:
		if len(b) < 1+8 {
			return truncated(atomic, tag.String(), b, 9)
		}
		if tag == wire.TagAck {
			return fmt.Sprintf("ACK %d", binary.LittleEndian.Uint64(b[1:])), 9, 0
		}
		ts, _ := wire.DecodeTimespec(b[1:])
		return fmt.Sprintf("%v %d.%09d", tag, ts.Sec, ts.Nsec), 9, 0
	case wire.TagKeepalive, wire.TagClose:
		return tag.String(), 1, 0
	default:
		if atomic && len(b) > 1 {
			return fmt.Sprintf("bad tag %d (and %d more bytes)", b[0], len(b)-1), len(b), 0
		}
		return fmt.Sprintf("bad tag %d", b[0]), 1, 0
	}
}

func msgText(b []byte, atomic, oldFooter bool) (string, int, wire.Tag) {
	if len(b) < 1+wire.HeaderLen {
		return truncated(atomic, "MSG header", b, 1+wire.HeaderLen)
	}
	h, _ := wire.DecodeHeader(b[1:], false)
	text := fmt.Sprintf("MSG seq=%d tid=%d type=%d prio=%d len=%d+%d+%d", h.Seq, h.Tid, h.Type, h.Priority,
		h.FrontLen, h.MiddleLen, h.DataLen)
	var notes []string
	if got := wire.CRC32C(0, b[1:1+wire.HeaderCRCLen]); got != h.CRC {
		notes = append(notes, "bad header crc")
	}
	fsize := wire.FooterSize(!oldFooter)
	need := uint64(1+wire.HeaderLen) + h.PayloadLen() + uint64(fsize)
	if uint64(len(b)) < need {
		if !atomic {
			return "", 0, 0
		}
		return fmt.Sprintf("%s (truncated: %d of %d bytes)", text, len(b), need), len(b), 0
	}
	m := wire.Message{Header: h}
	off := 1 + wire.HeaderLen
	m.Front, off = b[off:off+int(h.FrontLen)], off+int(h.FrontLen)
	m.Middle, off = b[off:off+int(h.MiddleLen)], off+int(h.MiddleLen)
	m.Data, off = b[off:off+int(h.DataLen)], off+int(h.DataLen)
	m.Footer, _ = wire.DecodeFooter(b[off:], oldFooter)
	if oldFooter {
		notes = append(notes, "old footer")
	}
	if f := m.Footer.Flags; f != wire.FooterComplete {
		notes = append(notes, "footer flags "+footerFlags(f))
	}
	if err := m.VerifyFooter(true, true); err != nil && !errors.Is(err, wire.ErrIncomplete) {
		notes = append(notes, err.Error())
	}
	if len(notes) > 0 {
		text += " (" + strings.Join(notes, "; ") + ")"
	}
	return text, int(need), 0
}

func footerFlags(f wire.FooterFlags) string {
	var s []string
	for _, x := range []struct {
		bit  wire.FooterFlags
		name string
	}{{wire.FooterComplete, "COMPLETE"}, {wire.FooterNoCRC, "NOCRC"}, {wire.FooterSigned, "SIGNED"}} {
		if f&x.bit != 0 {
			s = append(s, x.name)
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "|")
}

// render (the World's Tap) decodes p, just written by end `from` of s (or injected toward the
// other end), and records the frames; then the other direction is decoded too, as it may have
// been waiting for a reply.
func (e *env) render(s *prototest.Socket, from int, p []byte, injected bool) {
	dec := &e.sock(s).dec
	d := dec[from]
	d.buf = append(d.buf, p...)
	e.emit(s, from, d.decode(injected), injected)
	e.emit(s, 1-from, dec[1-from].decode(false), false)
}

func (e *env) emit(s *prototest.Socket, from int, ds []decoded, injected bool) {
	prefix := s.EndName(from) + "→" + s.EndName(1-from)
	if injected {
		prefix = "inject→" + s.EndName(1-from)
	}
	for _, d := range ds {
		if d.reply != 0 && !injected && s.Ends[from] != nil {
			e.replyTags[d.reply] = true
		}
		for _, line := range strings.Split(d.text, "\n") {
			e.Logf("%s %s", prefix, line)
		}
	}
}
