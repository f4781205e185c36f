package wire

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// AppendBanner appends the 9-byte banner "ceph v027".
func AppendBanner(dst []byte) []byte { return append(dst, Banner...) }

// CheckBanner checks that b starts with the banner. A prefix of the banner that is too short
// to decide is ErrShort; anything else that differs is ErrBadBanner (e.g. a msgr2 peer).
func CheckBanner(b []byte) error {
	n := min(len(b), BannerLen)
	if string(b[:n]) != Banner[:n] {
		return decodeErr("banner", 0, fmt.Errorf("%w: %q", ErrBadBanner, b[:n]))
	}
	if n < BannerLen {
		return short("banner", BannerLen, n)
	}
	return nil
}

// Append appends the 33-byte ceph_msg_connect (without its authorizer) to dst.
func (c *Connect) Append(dst []byte) []byte {
	dst, b := grow(dst, ConnectLen)
	c.Encode(b)
	return dst
}

// Append appends the 26-byte ceph_msg_connect_reply (without its authorizer) to dst.
func (r *ConnectReply) Append(dst []byte) []byte {
	dst, b := grow(dst, ConnectReplyLen)
	r.Encode(b)
	return dst
}

// AppendSeq appends an le64 sequence number, as exchanged after a SEQ reply.
func AppendSeq(dst []byte, seq uint64) []byte { return binary.LittleEndian.AppendUint64(dst, seq) }

// AppendAck appends an ACK frame: tag 8 and the le64 seq of the last message received.
func AppendAck(dst []byte, seq uint64) []byte {
	return binary.LittleEndian.AppendUint64(append(dst, byte(TagAck)), seq)
}

// AppendKeepalive appends a legacy KEEPALIVE frame (tag 9, no payload), which Ceph sends to
// peers without FeatureMsgrKeepalive2.
func AppendKeepalive(dst []byte) []byte { return append(dst, byte(TagKeepalive)) }

// AppendKeepalive2 appends a KEEPALIVE2 frame: tag 14 and the sender's time.
func AppendKeepalive2(dst []byte, ts Timespec) []byte {
	return appendTimespecFrame(dst, TagKeepalive2, ts)
}

// AppendKeepalive2Ack appends a KEEPALIVE2_ACK frame: tag 15 and the time echoed from the
// KEEPALIVE2 it answers.
func AppendKeepalive2Ack(dst []byte, ts Timespec) []byte {
	return appendTimespecFrame(dst, TagKeepalive2Ack, ts)
}

func appendTimespecFrame(dst []byte, tag Tag, ts Timespec) []byte {
	dst, b := grow(dst, 1+TimespecLen)
	b[0] = byte(tag)
	ts.Encode(b[1:])
	return dst
}

// AppendClose appends a CLOSE frame (tag 6, no payload). Ceph's AsyncMessenger never sends
// one but stops the connection when it receives one.
func AppendClose(dst []byte) []byte { return append(dst, byte(TagClose)) }

// MessageFrameLen is the encoded length of m's MSG frame: tag, header, the three sections and
// the footer (13 bytes with oldFooter, else 21).
func MessageFrameLen(m *Message, oldFooter bool) int {
	return 1 + HeaderLen + len(m.Front) + len(m.Middle) + len(m.Data) + FooterSize(!oldFooter)
}

// AppendMessageFrame appends m as a MSG frame: tag 7, the header exactly as stored in
// m.Header (its CRC field included, not recomputed), front, middle, data, and the footer
// (ceph_msg_footer_old when oldFooter is set, i.e. MSG_AUTH was not negotiated). A decoded
// message therefore re-encodes byte for byte; to send a new one, call m.Seal first so that
// the lengths and crcs match the sections. It does not allocate when dst has the capacity.
func AppendMessageFrame(dst []byte, m *Message, oldFooter bool) []byte {
	dst, b := grow(dst, MessageFrameLen(m, oldFooter))
	b[0] = byte(TagMsg)
	m.Header.Encode(b[1:], false)
	n := 1 + HeaderLen
	n += copy(b[n:], m.Front)
	n += copy(b[n:], m.Middle)
	n += copy(b[n:], m.Data)
	m.Footer.Encode(b[n:], oldFooter)
	return dst
}

// Seal prepares m for sending: it sets the header's section lengths from the sections,
// computes the header crc when headerCRC is set (else writes 0) and the footer with
// SealFooter. Header fields such as Seq and Src must be final before Seal.
func (m *Message) Seal(headerCRC, dataCRC bool) {
	h := &m.Header
	h.FrontLen, h.MiddleLen, h.DataLen = uint32(len(m.Front)), uint32(len(m.Middle)), uint32(len(m.Data))
	var b [HeaderLen]byte
	h.CRC = 0
	h.Encode(b[:], headerCRC)
	m.SealFooter(headerCRC, dataCRC)
}

// DecodeMessage decodes a message from the start of b (which follows a MSG tag): header,
// front, middle, data and footer (13 bytes with oldFooter, else 21), and returns it with the
// number of bytes used. It verifies the header crc, checks the lengths against limits before
// looking further, requires the COMPLETE flag and verifies the front, middle and data crcs
// (the data crc unless the sender set NOCRC). The sections alias b.
//
// When b ends inside the message the error wraps ErrShort, so a reader can wait for more;
// lengths over the limits are refused as soon as the header is complete.
func DecodeMessage(b []byte, oldFooter bool, limits Limits) (Message, int, error) {
	h, err := DecodeHeader(b, true)
	if err != nil {
		return Message{}, 0, err
	}
	if err := limits.CheckHeader(&h); err != nil {
		return Message{}, 0, err
	}
	need := uint64(HeaderLen) + h.PayloadLen() + uint64(FooterSize(!oldFooter))
	if uint64(len(b)) < need {
		return Message{}, 0, decodeErr("message", len(b),
			fmt.Errorf("%w: need %d bytes, have %d", ErrShort, need, len(b)))
	}
	total := int(need)
	m := Message{Header: h}
	n := HeaderLen
	m.Front, n = section(b, n, h.FrontLen)
	m.Middle, n = section(b, n, h.MiddleLen)
	m.Data, n = section(b, n, h.DataLen)
	if m.Footer, err = DecodeFooter(b[n:], oldFooter); err != nil {
		return Message{}, 0, err
	}
	if err := m.VerifyFooter(true, true); err != nil {
		return Message{}, 0, &DecodeError{What: "message footer", Offset: n, Err: err}
	}
	return m, total, nil
}

// section returns the l bytes of b at off (nil when l is 0) and the offset after them.
func section(b []byte, off int, l uint32) ([]byte, int) {
	if l == 0 {
		return nil, off
	}
	end := off + int(l)
	return b[off:end:end], end
}

// FrameKind says what a Frame holds: a handshake element or a frame of an open session.
type FrameKind uint8

// Frame kinds. The first five occur only in the handshake; the others are the tagged frames
// of an open session.
const (
	FrameBanner        FrameKind = iota + 1 // "ceph v027"
	FrameAddr                               // a 136-byte legacy entity_addr_t
	FrameConnect                            // ceph_msg_connect and its authorizer
	FrameConnectReply                       // ceph_msg_connect_reply and its authorizer
	FrameSeq                                // le64 in_seq exchanged after a SEQ reply
	FrameMsg                                // tag MSG: a message
	FrameAck                                // tag ACK: le64 seq
	FrameKeepalive                          // tag KEEPALIVE
	FrameKeepalive2                         // tag KEEPALIVE2: timespec
	FrameKeepalive2Ack                      // tag KEEPALIVE2_ACK: timespec
	FrameClose                              // tag CLOSE
)

var frameKindNames = [...]string{
	FrameBanner: "BANNER", FrameAddr: "ADDR", FrameConnect: "CONNECT", FrameConnectReply: "CONNECT_REPLY",
	FrameSeq: "IN_SEQ", FrameMsg: "MSG", FrameAck: "ACK", FrameKeepalive: "KEEPALIVE",
	FrameKeepalive2: "KEEPALIVE2", FrameKeepalive2Ack: "KEEPALIVE2_ACK", FrameClose: "CLOSE",
}

// String returns the kind's name, e.g. "CONNECT_REPLY" or "KEEPALIVE2".
func (k FrameKind) String() string {
	if k >= FrameBanner && k <= FrameClose {
		return frameKindNames[k]
	}
	return "FRAMEKIND(" + strconv.Itoa(int(k)) + ")"
}

// Frame is one decoded element of a msgr1 byte stream, handshake or session, with where it
// was found. Only the fields of its Kind are set; byte slices alias the decoded input.
type Frame struct {
	Kind   FrameKind
	Offset int // byte offset of the frame in its stream
	Len    int // encoded length, tag included

	Addr       EntityAddr   // FrameAddr
	Connect    Connect      // FrameConnect
	Reply      ConnectReply // FrameConnectReply
	Authorizer []byte       // FrameConnect, FrameConnectReply: AuthorizerLen bytes
	Seq        uint64       // FrameSeq, FrameAck
	Time       Timespec     // FrameKeepalive2, FrameKeepalive2Ack
	Msg        *Message     // FrameMsg, with every crc verified
	OldFooter  bool         // FrameMsg: the footer is the 13-byte ceph_msg_footer_old
}

// Append re-encodes the frame and appends it to dst; for a decoded frame the result is the
// bytes it was decoded from.
func (f *Frame) Append(dst []byte) []byte {
	switch f.Kind {
	case FrameBanner:
		return AppendBanner(dst)
	case FrameAddr:
		return f.Addr.AppendEncoded(dst, 0)
	case FrameConnect:
		return append(f.Connect.Append(dst), f.Authorizer...)
	case FrameConnectReply:
		return append(f.Reply.Append(dst), f.Authorizer...)
	case FrameSeq:
		return AppendSeq(dst, f.Seq)
	}
	return f.appendSession(dst)
}

func (f *Frame) appendSession(dst []byte) []byte {
	switch f.Kind {
	case FrameMsg:
		if f.Msg != nil {
			return AppendMessageFrame(dst, f.Msg, f.OldFooter)
		}
	case FrameAck:
		return AppendAck(dst, f.Seq)
	case FrameKeepalive:
		return AppendKeepalive(dst)
	case FrameKeepalive2:
		return AppendKeepalive2(dst, f.Time)
	case FrameKeepalive2Ack:
		return AppendKeepalive2Ack(dst, f.Time)
	case FrameClose:
		return AppendClose(dst)
	}
	return dst
}

// String is a one-line summary such as "@195 MSG type=17 seq=1 …".
func (f *Frame) String() string {
	s := "@" + strconv.Itoa(f.Offset) + " " + f.Kind.String()
	switch f.Kind {
	case FrameAddr:
		return s + " " + f.Addr.String()
	case FrameConnect:
		c := &f.Connect
		return s + fmt.Sprintf(" features=%#x host_type=%v global_seq=%d connect_seq=%d proto=%d auth=%d/%d flags=%d",
			c.Features, c.HostType, c.GlobalSeq, c.ConnectSeq, c.ProtocolVersion, c.AuthorizerProtocol, c.AuthorizerLen, c.Flags)
	case FrameConnectReply:
		r := &f.Reply
		return s + fmt.Sprintf(" %v features=%#x global_seq=%d connect_seq=%d proto=%d auth_len=%d flags=%d",
			r.Tag, r.Features, r.GlobalSeq, r.ConnectSeq, r.ProtocolVersion, r.AuthorizerLen, r.Flags)
	case FrameSeq, FrameAck:
		return s + " " + strconv.FormatUint(f.Seq, 10)
	case FrameKeepalive2, FrameKeepalive2Ack:
		return s + fmt.Sprintf(" %d.%09d", f.Time.Sec, f.Time.Nsec)
	case FrameMsg:
		if f.Msg != nil {
			return "@" + strconv.Itoa(f.Offset) + " " + f.Msg.String()
		}
	}
	return s
}

// DecodeFrame decodes one frame of an open session from the start of b — a tag and what
// follows it — and returns it with the number of bytes used. Messages are decoded with
// DecodeMessage (every crc verified, lengths checked against limits; oldFooter selects the
// 13-byte footer). A tag that is not a session frame tag is ErrBadTag; when b ends inside
// the frame the error wraps ErrShort.
func DecodeFrame(b []byte, oldFooter bool, limits Limits) (Frame, int, error) {
	if len(b) == 0 {
		return Frame{}, 0, short("frame tag", 1, 0)
	}
	switch tag := Tag(b[0]); tag {
	case TagMsg:
		m, n, err := DecodeMessage(b[1:], oldFooter, limits)
		if err != nil {
			return Frame{}, 0, err
		}
		return Frame{Kind: FrameMsg, Len: 1 + n, Msg: &m, OldFooter: oldFooter}, 1 + n, nil
	case TagAck:
		seq, err := DecodeSeq(b[1:])
		if err != nil {
			return Frame{}, 0, err
		}
		return Frame{Kind: FrameAck, Len: 1 + SeqLen, Seq: seq}, 1 + SeqLen, nil
	case TagKeepalive2, TagKeepalive2Ack:
		return decodeTimespecFrame(tag, b)
	case TagKeepalive:
		return Frame{Kind: FrameKeepalive, Len: 1}, 1, nil
	case TagClose:
		return Frame{Kind: FrameClose, Len: 1}, 1, nil
	default:
		return Frame{}, 0, decodeErr("frame tag", 0, fmt.Errorf("%w: %v", ErrBadTag, tag))
	}
}

func decodeTimespecFrame(tag Tag, b []byte) (Frame, int, error) {
	ts, err := DecodeTimespec(b[1:])
	if err != nil {
		return Frame{}, 0, err
	}
	kind := FrameKeepalive2
	if tag == TagKeepalive2Ack {
		kind = FrameKeepalive2Ack
	}
	return Frame{Kind: kind, Len: 1 + TimespecLen, Time: ts}, 1 + TimespecLen, nil
}
