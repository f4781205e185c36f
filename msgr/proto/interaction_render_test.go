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

// Rendering of the bytes on a socket as frames, one line each. Each direction is walked with
// a wire.Walker (the client's is told the replies the server wrote, the server's the
// client's features, through the shared conv); its elements are grouped into units — one
// line each: a client's banner, address, connect, in_seq; a server's greeting, reply with its
// in_seq; a session frame — described with package wire's decoders. Injected bytes are
// rendered leniently: a frame that fails a check is still shown, with the failed check, and
// an injection that ends inside a unit is shown truncated and dropped.

// conv is what one socket's handshake settled so far.
type conv struct {
	connects []wire.Connect
	replies  []wire.ConnectReply
	features uint64 // negotiated, once a reply opened the session
}

// streamDec renders one direction of a socket.
type streamDec struct {
	client bool
	conv   *conv
	cur    walkState          // the walk, up to the bytes of buf it has taken
	start  walkState          // the walk where the unit in progress started
	buf    []byte             // bytes not yet rendered: the unit in progress
	walked int                // bytes of buf the walker has taken
	msg    wire.MessageLayout // the last message header's
}

// walkState is a walker and how many of conv's replies it was told.
type walkState struct {
	w    wire.Walker
	told int
}

func newStreamDec(client bool, cv *conv) *streamDec {
	d := &streamDec{client: client, conv: cv}
	dir := wire.ServerToClient
	if client {
		dir = wire.ClientToServer
	}
	d.cur.w.Reset(dir)
	d.start = d.cur
	return d
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
// one unit: if they do not decode completely, what is left is reported and dropped, and the
// walk resumes where that unit started.
func (d *streamDec) decode(atomic bool) []decoded {
	d.learn()
	if d.walked == 0 { // the unit starts after what was learnt
		d.start = d.cur
	}
	var out []decoded
	for {
		n, e := d.cur.w.Next(d.buf[d.walked:])
		d.walked += n
		if e != nil && e.Kind == wire.ElemHeader {
			d.msg = e.Msg
		}
		if e != nil && d.endsUnit(e) {
			text, tag, used := d.unit(d.buf[:d.walked], atomic)
			out = append(out, decoded{text: text, reply: tag})
			d.buf, d.walked, d.start = d.buf[used:], 0, d.cur
			continue
		}
		if n == 0 {
			break
		}
	}
	if len(d.buf) > 0 && (atomic || d.stopped()) {
		out = append(out, decoded{text: d.truncated(d.buf)})
		d.buf, d.walked, d.cur = nil, 0, d.start
	}
	return out
}

// learn tells the walker what the other direction settled: the client's the replies, the
// server's the client's features.
func (d *streamDec) learn() {
	st := &d.cur
	if !d.client {
		if k := len(d.conv.connects); k > 0 {
			st.w.SetPeerFeatures(d.conv.connects[k-1].Features)
		}
		return
	}
	for ; st.told < len(d.conv.replies); st.told++ {
		r := &d.conv.replies[st.told]
		st.w.SetPeerFeatures(r.Features)
		st.w.PeerReply(r.Tag)
	}
}

// stopped reports that the walk cannot go on: the handshake closed, a bad tag.
func (d *streamDec) stopped() bool {
	p := d.cur.w.Phase()
	return p == wire.PhaseClosed || p == wire.PhaseBadTag
}

// endsUnit reports whether e ends a unit: any frame, except that a server's greeting is one
// unit and a SEQ reply's unit holds its in_seq.
func (d *streamDec) endsUnit(e *wire.Element) bool {
	switch {
	case !e.Last:
		return false
	case d.client:
		return true
	case e.Frame == wire.FrameAddr || e.Frame == wire.FrameBanner:
		return d.cur.w.Phase() != wire.PhaseGreeting
	}
	return !(e.Frame == wire.FrameConnectReply && d.cur.w.Phase() == wire.PhaseSeq)
}

// unit renders a complete unit b and returns how many bytes of buf it used: b, or with
// atomic set after a bad tag, the rest of the injection too.
func (d *streamDec) unit(b []byte, atomic bool) (string, wire.Tag, int) {
	switch d.start.w.Phase() {
	case wire.PhaseGreeting:
		return d.greetingText(b), 0, len(b)
	case wire.PhaseConnect:
		return d.connectText(b), 0, len(b)
	case wire.PhaseReply:
		text, tag := d.replyText(b)
		return text, tag, len(b)
	case wire.PhaseSeq:
		return fmt.Sprintf("seq %d", binary.LittleEndian.Uint64(b)), 0, len(b)
	}
	if extra := len(d.buf) - len(b); atomic && extra > 0 && !wire.Tag(b[0]).IsFrame() {
		return fmt.Sprintf("bad tag %d (and %d more bytes)", b[0], extra), 0, len(d.buf)
	}
	return frameText(b, &d.msg), 0, len(b)
}

// truncated renders the bytes of a unit the data ends inside, or bytes that cannot be walked
// (a client's banner cut short among them).
func (d *streamDec) truncated(b []byte) string {
	st := &d.start.w
	switch st.Phase() {
	case wire.PhaseGreeting:
		switch {
		case d.client && st.Frame() == wire.FrameBanner: // not decodable, below
		case d.client:
			return fmt.Sprintf("addr truncated: %d of %d bytes", len(b), wire.AddrLen)
		case len(b) >= wire.BannerLen:
			return fmt.Sprintf("%s (greeting truncated: %d of %d bytes)", bannerText(b), len(b), wire.ServerGreetingLen)
		default:
			return fmt.Sprintf("greeting truncated: %d of %d bytes", len(b), wire.ServerGreetingLen)
		}
	case wire.PhaseConnect:
		if len(b) < wire.ConnectLen {
			return fmt.Sprintf("connect truncated: %d of %d bytes", len(b), wire.ConnectLen)
		}
		auth := binary.LittleEndian.Uint32(b[28:])
		return fmt.Sprintf("%s (authorizer truncated: %d of %d bytes)", d.connectText(b), len(b)-wire.ConnectLen, auth)
	case wire.PhaseReply:
		return replyTruncated(b)
	case wire.PhaseSeq:
		return fmt.Sprintf("seq truncated: %d of %d bytes", len(b), wire.SeqLen)
	case wire.PhaseSession:
		return frameTruncated(b, &d.msg)
	}
	return fmt.Sprintf("%d bytes not decodable here: % x", len(b), b)
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

// greetingText renders a client's banner or address, or a server's greeting.
func (d *streamDec) greetingText(b []byte) string {
	switch {
	case d.client && len(b) == wire.BannerLen:
		return bannerText(b)
	case d.client:
		return "addr " + legacyText(b)
	}
	return fmt.Sprintf("%s addr=%s peer_addr=%s", bannerText(b), legacyText(b[wire.BannerLen:]),
		legacyText(b[wire.BannerLen+wire.AddrLen:]))
}

// connectText renders a connect message (its authorizer may be short) and records it once
// complete.
func (d *streamDec) connectText(b []byte) string {
	c, err := wire.DecodeConnect(b, wire.Limits{MaxAuthorizerLen: math.MaxUint32})
	if err != nil {
		return fmt.Sprintf("connect (undecodable: %v)", err)
	}
	if len(b) == wire.ConnectLen+int(c.AuthorizerLen) {
		d.conv.connects = append(d.conv.connects, c)
	}
	return fmt.Sprintf("connect gseq=%d cseq=%d proto=%d features=%s type=%v flags=%d auth=%d/%d",
		c.GlobalSeq, c.ConnectSeq, c.ProtocolVersion, featuresString(c.Features), c.HostType, c.Flags,
		c.AuthorizerProtocol, c.AuthorizerLen)
}

// replyText renders a complete reply unit (reply, authorizer, in_seq after SEQ) and records
// the reply, and the session's features when it opened one.
func (d *streamDec) replyText(b []byte) (string, wire.Tag) {
	r, text, err := replyLine(b)
	if err != nil {
		return text, 0
	}
	d.conv.replies = append(d.conv.replies, r)
	switch r.Tag {
	case wire.TagSeq:
		text += fmt.Sprintf("\nseq %d", binary.LittleEndian.Uint64(b[len(b)-wire.SeqLen:]))
		fallthrough
	case wire.TagReady:
		if k := len(d.conv.connects); k > 0 {
			d.conv.features = d.conv.connects[k-1].Features & r.Features
		} else {
			d.conv.features = r.Features
		}
	}
	return text, r.Tag
}

// replyLine decodes a connect reply and renders its line (without the in_seq).
func replyLine(b []byte) (wire.ConnectReply, string, error) {
	r, err := wire.DecodeConnectReply(b, wire.Limits{MaxAuthorizerLen: math.MaxUint32})
	if err != nil {
		return r, fmt.Sprintf("reply (undecodable: %v)", err), err
	}
	text := fmt.Sprintf("reply %v gseq=%d cseq=%d proto=%d features=%s flags=%d", r.Tag, r.GlobalSeq, r.ConnectSeq,
		r.ProtocolVersion, featuresString(r.Features), r.Flags)
	if r.AuthorizerLen > 0 {
		text += fmt.Sprintf(" auth_len=%d", r.AuthorizerLen)
	}
	return r, text, nil
}

func replyTruncated(b []byte) string {
	if len(b) < wire.ConnectReplyLen {
		return fmt.Sprintf("reply truncated: %d of %d bytes", len(b), wire.ConnectReplyLen)
	}
	r, text, err := replyLine(b)
	if err != nil {
		return text
	}
	n := wire.ConnectReplyLen + int(r.AuthorizerLen)
	if r.Tag == wire.TagSeq {
		n += wire.SeqLen
	}
	return fmt.Sprintf("%s (truncated: %d of %d bytes)", text, len(b), n)
}

// frameText renders one complete session frame (a message laid out as l).
func frameText(b []byte, l *wire.MessageLayout) string {
	switch tag := wire.Tag(b[0]); tag {
	case wire.TagMsg:
		return msgText(b, l)
	case wire.TagAck:
		return fmt.Sprintf("ACK %d", binary.LittleEndian.Uint64(b[1:]))
	case wire.TagKeepalive2, wire.TagKeepalive2Ack:
		ts, _ := wire.DecodeTimespec(b[1:])
		return fmt.Sprintf("%v %d.%09d", tag, ts.Sec, ts.Nsec)
	case wire.TagKeepalive, wire.TagClose:
		return tag.String()
	default:
		return fmt.Sprintf("bad tag %d", b[0])
	}
}

// frameTruncated renders a session frame the data ends inside (a message laid out as l once
// its header is in).
func frameTruncated(b []byte, l *wire.MessageLayout) string {
	if tag := wire.Tag(b[0]); tag != wire.TagMsg {
		return fmt.Sprintf("%s truncated: %d of %d bytes", tag, len(b), 1+wire.SeqLen)
	}
	if len(b) < 1+wire.HeaderLen {
		return fmt.Sprintf("MSG header truncated: %d of %d bytes", len(b), 1+wire.HeaderLen)
	}
	h, _ := wire.DecodeHeader(b[1:], false)
	return fmt.Sprintf("%s (truncated: %d of %d bytes)", headerText(&h), len(b), 1+l.End-l.Header)
}

func headerText(h *wire.Header) string {
	return fmt.Sprintf("MSG seq=%d tid=%d type=%d prio=%d len=%d+%d+%d", h.Seq, h.Tid, h.Type, h.Priority,
		h.FrontLen, h.MiddleLen, h.DataLen)
}

// msgText renders a complete MSG frame laid out as l, with the checks it fails.
func msgText(b []byte, l *wire.MessageLayout) string {
	oldFooter := l.End-l.DataEnd == wire.OldFooterLen
	h, _ := wire.DecodeHeader(b[1:], false)
	var notes []string
	if got := wire.CRC32C(0, b[1:1+wire.HeaderCRCLen]); got != h.CRC {
		notes = append(notes, "bad header crc")
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
	text := headerText(&h)
	if len(notes) > 0 {
		text += " (" + strings.Join(notes, "; ") + ")"
	}
	return text
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
