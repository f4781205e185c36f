package wire

import "strconv"

// The msgr1 conversation grammar, walked one direction at a time (msgr1-protocol.md §1–§4).
//
//	client: banner addr (connect [authorizer])+ [in_seq] frame*
//	server: banner addr addr (reply [authorizer])+ [in_seq] frame*
//	frame:  MSG header [front] [middle] [data] footer | ACK le64 | KEEPALIVE2 timespec |
//	        KEEPALIVE2_ACK timespec | KEEPALIVE | CLOSE
//
// The client sends another connect after a RETRY_GLOBAL, RETRY_SESSION, RESETSESSION or
// CHALLENGE_AUTHORIZER reply; SEQ and READY open the session (each side sends its in_seq after
// SEQ); any other reply ends the connection. The footer is 21 bytes when both sides have
// MSG_AUTH, else 13 (OldFooterFor). A client stream cannot be walked past a connect without the
// server's reply to it, and a footer's size needs the other side's features: the Walker is told
// both (PeerReply, SetPeerFeatures), by whoever walks the other direction or from options.

// ElemKind says what a walked element is.
type ElemKind uint8

// Element kinds, in the order they can first occur.
const (
	ElemBanner     ElemKind = iota + 1 // "ceph v027"
	ElemAddr                           // a 136-byte legacy entity_addr_t
	ElemConnect                        // ceph_msg_connect (33 bytes, its authorizer follows)
	ElemReply                          // ceph_msg_connect_reply (26 bytes, its authorizer follows)
	ElemAuthorizer                     // the authorizer of a connect or reply (never empty)
	ElemSeq                            // an le64 sequence number: in_seq after SEQ, or ACK's payload
	ElemTag                            // the tag of a session frame (or a byte that is not one)
	ElemTimespec                       // the ceph_timespec of KEEPALIVE2 and KEEPALIVE2_ACK
	ElemHeader                         // ceph_msg_header (53 bytes)
	ElemFront                          // a message's front section (never empty)
	ElemMiddle                         // a message's middle section (never empty)
	ElemData                           // a message's data section (never empty)
	ElemFooter                         // ceph_msg_footer (21 bytes) or ceph_msg_footer_old (13)
)

var elemKindNames = [...]string{
	ElemBanner: "banner", ElemAddr: "addr", ElemConnect: "connect", ElemReply: "reply",
	ElemAuthorizer: "authorizer", ElemSeq: "seq", ElemTag: "tag", ElemTimespec: "timespec",
	ElemHeader: "header", ElemFront: "front", ElemMiddle: "middle", ElemData: "data", ElemFooter: "footer",
}

// String returns the kind's name, e.g. "header".
func (k ElemKind) String() string {
	if k >= ElemBanner && k <= ElemFooter {
		return elemKindNames[k]
	}
	return "ELEMKIND(" + strconv.Itoa(int(k)) + ")"
}

// Element is one walked element of a stream: where it lies, the frame it belongs to and, for
// the structures that steer the grammar, their decoded fields. Only the fields of its Kind are
// set. Nothing is verified: not the banner, addresses, limits, reply tags nor crcs (the
// decoders of this package do that, from Bytes or from the stream).
type Element struct {
	Kind  ElemKind
	Frame FrameKind // the frame the element is part of; 0 for a byte that is not a frame tag
	Off   uint64    // stream offset of its first byte
	Len   uint64    // its length
	Last  bool      // it ends its frame (the frame started where the previous frame ended)

	// Bytes are the element's bytes for the fixed-size kinds (all but authorizers and
	// sections, which are walked without being held): they alias the input or the walker's
	// own buffer and are valid until the next call to the Walker.
	Bytes []byte

	Tag     Tag           // ElemTag: the tag byte; ElemReply: the reply tag
	Connect Connect       // ElemConnect (host_type keeps its low byte; not checked)
	Reply   ConnectReply  // ElemReply
	Header  Header        // ElemHeader (crc not checked)
	Msg     MessageLayout // ElemHeader, the sections and ElemFooter: the message's layout
}

// End is the stream offset one past the element.
func (e *Element) End() uint64 { return e.Off + e.Len }

// Span is a half-open byte range [Start, End) of a stream.
type Span struct{ Start, End uint64 }

// footerCRCsLen is the length of the footer's front, middle and data crcs (le32 each), which
// start both footer forms.
const footerCRCsLen = 12

// MessageLayout is where the parts of a message lie in its stream, known as soon as its
// header is: header, front, middle, data and footer follow each other.
type MessageLayout struct {
	Header    uint64 // offset of the header (the MSG tag is the byte before)
	FrontEnd  uint64 // one past the front section (Header+HeaderLen when it is empty)
	MiddleEnd uint64 // one past the middle section
	DataEnd   uint64 // one past the data section: where the footer starts
	End       uint64 // one past the footer
}

// LayoutMessage lays out a message whose header h starts at stream offset at, with the
// 13-byte footer when oldFooter is set.
func LayoutMessage(at uint64, h *Header, oldFooter bool) MessageLayout {
	l := MessageLayout{Header: at, FrontEnd: at + HeaderLen + uint64(h.FrontLen)}
	l.MiddleEnd = l.FrontEnd + uint64(h.MiddleLen)
	l.DataEnd = l.MiddleEnd + uint64(h.DataLen)
	l.End = l.DataEnd + uint64(FooterSize(!oldFooter))
	return l
}

// Bounds are the boundaries inside the message, in stream order: where the header's crc field
// starts, where the header, front, middle and data end (an empty section repeats the one
// before), and where the footer's front, middle and data crcs end. End is the last boundary.
func (l *MessageLayout) Bounds() [8]uint64 {
	return [8]uint64{l.Header + HeaderCRCLen, l.Header + HeaderLen, l.FrontEnd, l.MiddleEnd, l.DataEnd,
		l.DataEnd + 4, l.DataEnd + 8, l.DataEnd + footerCRCsLen}
}

// Protected are the message's bytes a receiver that checks header and data crcs verifies: the
// header (its crc covers the first 49 bytes, and a flipped byte of the crc itself no longer
// matches), the sections and the footer's three crcs; then the footer's flags byte, whose
// COMPLETE bit is checked. The signature between them is not checked (no session security).
func (l *MessageLayout) Protected() [2]Span {
	return [2]Span{{l.Header, l.DataEnd + footerCRCsLen}, {l.End - 1, l.End}}
}

// Phase is where a walk is in the conversation.
type Phase uint8

// Phases.
const (
	PhaseGreeting   Phase = iota // the banner and address(es)
	PhaseConnect                 // client: a connect message and its authorizer
	PhaseAwaitReply              // client: blocked until PeerReply tells the answer to its connect
	PhaseReply                   // server: a connect reply and its authorizer
	PhaseSeq                     // the in_seq after a SEQ reply
	PhaseSession                 // session frames
	PhaseClosed                  // the handshake ended without a session: nothing may follow
	PhaseBadTag                  // a byte that is not a session frame tag: the walk stopped
)

// walkStep is the element a Walker reads next.
type walkStep uint8

const (
	wBanner   walkStep = iota
	wAddr              // the sender's address (the server's own comes first)
	wPeerAddr          // server: the client's address as the server saw it
	wConnect
	wConnectAuth
	wAwaitReply
	wReply
	wReplyAuth
	wSeq // in_seq after SEQ
	wTag
	wAck
	wTimespec
	wHeader
	wFront
	wMiddle
	wData
	wFooter
	wClosed
	wBadTag
)

// stepInfo is what each step reads: its element kind, the frame it belongs to (0: set by the
// frame's tag), its fixed length (0: given when the step begins) and the walk's phase.
var stepInfo = [...]struct {
	kind  ElemKind
	frame FrameKind
	size  uint64
	phase Phase
}{
	wBanner:      {ElemBanner, FrameBanner, BannerLen, PhaseGreeting},
	wAddr:        {ElemAddr, FrameAddr, AddrLen, PhaseGreeting},
	wPeerAddr:    {ElemAddr, FrameAddr, AddrLen, PhaseGreeting},
	wConnect:     {ElemConnect, FrameConnect, ConnectLen, PhaseConnect},
	wConnectAuth: {ElemAuthorizer, FrameConnect, 0, PhaseConnect},
	wAwaitReply:  {0, 0, 0, PhaseAwaitReply},
	wReply:       {ElemReply, FrameConnectReply, ConnectReplyLen, PhaseReply},
	wReplyAuth:   {ElemAuthorizer, FrameConnectReply, 0, PhaseReply},
	wSeq:         {ElemSeq, FrameSeq, SeqLen, PhaseSeq},
	wTag:         {ElemTag, 0, 1, PhaseSession},
	wAck:         {ElemSeq, 0, SeqLen, PhaseSession},
	wTimespec:    {ElemTimespec, 0, TimespecLen, PhaseSession},
	wHeader:      {ElemHeader, 0, HeaderLen, PhaseSession},
	wFront:       {ElemFront, 0, 0, PhaseSession},
	wMiddle:      {ElemMiddle, 0, 0, PhaseSession},
	wData:        {ElemData, 0, 0, PhaseSession},
	wFooter:      {ElemFooter, 0, 0, PhaseSession},
	wClosed:      {0, 0, 0, PhaseClosed},
	wBadTag:      {0, 0, 0, PhaseBadTag},
}

// Walker follows one direction of a msgr1 conversation as its bytes arrive, in chunks of any
// size, and reports each element once its last byte is in: kind, offsets, the frame it ends,
// decoded tags, connect, reply and header, and each message's layout (boundaries and
// crc-protected bytes). It checks structure only, allocates nothing per element and holds
// nothing but the fixed-size element in progress (at most an address). What one direction
// cannot tell comes from the other: PeerReply and SetPeerFeatures.
type Walker struct {
	client   bool
	step     walkStep
	off      uint64    // stream offset of the next byte
	start    uint64    // stream offset of the element in progress
	need     uint64    // its length
	hold     bool      // it is fixed-size: gathered into scratch unless it lies whole in the input
	frame    FrameKind // the frame in progress
	connects int       // client: connect messages walked
	replies  []Tag     // client: the reply to each connect, as told
	own      uint64    // features this side sent in its last connect or reply
	peer     uint64    // features the other side sent, once told
	peerSet  bool
	reply    Tag // server: the tag of the reply in progress
	msg      MessageLayout
	e        Element
	scratch  [AddrLen]byte
}

// NewWalker returns a walker at the start of a stream of the given direction.
func NewWalker(dir Direction) *Walker {
	w := new(Walker)
	w.Reset(dir)
	return w
}

// Reset puts w at the start of a new stream of the given direction, keeping its buffers.
func (w *Walker) Reset(dir Direction) {
	*w = Walker{client: dir == ClientToServer, replies: w.replies[:0]}
	w.begin(wBanner, 0)
}

// Phase is where the walk is.
func (w *Walker) Phase() Phase { return stepInfo[w.step].phase }

// Offset is the stream offset of the next byte the walker wants.
func (w *Walker) Offset() uint64 { return w.off }

// Frame is the kind of the frame in progress: the one the next element belongs to, or the
// session frame whose tag was read last (0 before any byte of a session frame and after a
// byte that is not a tag).
func (w *Walker) Frame() FrameKind { return w.frame }

// OldFooter reports whether a message now would carry the 13-byte footer: the features this
// side sent last and the other side's (as told; this side's own when not) lack MSG_AUTH.
func (w *Walker) OldFooter() bool {
	peer := w.own
	if w.peerSet {
		peer = w.peer
	}
	return OldFooterFor(w.own & peer)
}

// SetPeerFeatures tells the walker the features the other side sent (in its connect reply,
// or its connect message), which decide the footer size with this side's.
func (w *Walker) SetPeerFeatures(f uint64) { w.peer, w.peerSet = f, true }

// PeerReply tells a client walker the tag of the server's next connect reply: the answer to
// its next connect message not yet answered. Replies may be told before or after the walker
// reaches their connect; a server walker ignores them.
func (w *Walker) PeerReply(tag Tag) {
	if !w.client {
		return
	}
	w.replies = append(w.replies, tag)
	if w.step == wAwaitReply && len(w.replies) >= w.connects {
		w.clientReply(w.replies[w.connects-1])
	}
}

// Next walks the start of p, which continues the stream at Offset. It returns how many bytes
// it consumed and, when they completed an element, the element (valid until the next call).
// It consumes nothing, and returns no element, when p is empty, when it waits for PeerReply
// or when the walk has ended (PhaseClosed, PhaseBadTag); otherwise it consumes at least one
// byte and never more than the rest of the element in progress, so a caller loops until p is
// used up.
func (w *Walker) Next(p []byte) (int, *Element) {
	// The short path: bytes that do not complete the element in progress (the common case
	// when bytes come one at a time or sections in pieces).
	if end := w.off + uint64(len(p)); end < w.start+w.need {
		if w.hold {
			copy(w.scratch[w.off-w.start:], p)
		}
		w.off = end
		return len(p), nil
	}
	return w.next(p)
}

// next walks the bytes of p that complete the element in progress.
func (w *Walker) next(p []byte) (int, *Element) {
	if len(p) == 0 || w.step == wAwaitReply || w.step >= wClosed {
		return 0, nil
	}
	n := w.start + w.need - w.off
	var b []byte
	switch {
	case !w.hold: // an authorizer or section: walked, not held
	case w.off == w.start: // whole in p
		b = p[:n:n]
	default:
		copy(w.scratch[w.off-w.start:w.need], p[:n])
		b = w.scratch[:w.need:w.need]
	}
	w.off += n
	return int(n), w.complete(b)
}

// begin starts the element of step s; n is its length when the step has no fixed size.
func (w *Walker) begin(s walkStep, n uint64) {
	info := &stepInfo[s]
	w.step, w.start, w.need, w.hold = s, w.off, info.size, info.size != 0
	if info.size == 0 {
		w.need = n
	}
	if info.frame != 0 || s == wTag {
		w.frame = info.frame
	}
}

// stop makes the walk wait (wAwaitReply) or end (wClosed, wBadTag): no element in progress.
func (w *Walker) stop(s walkStep) {
	w.step, w.start, w.need, w.hold = s, w.off, 0, false
	if s != wBadTag {
		w.frame = 0
	}
}

// complete reports the element just walked (b: its bytes, if held) and moves to the next.
func (w *Walker) complete(b []byte) *Element {
	e := &w.e
	e.Kind, e.Frame, e.Off, e.Len, e.Bytes, e.Last = stepInfo[w.step].kind, w.frame, w.start, w.need, b, true
	switch w.step {
	case wBanner:
		w.begin(wAddr, 0)
	case wAddr:
		w.begin(wConnect, 0)
		if !w.client {
			w.begin(wPeerAddr, 0)
		}
	case wPeerAddr:
		w.begin(wReply, 0)
	case wConnect, wConnectAuth:
		w.walkedConnect(e, b)
	case wReply, wReplyAuth:
		w.walkedReply(e, b)
	default:
		w.walkedSession(e, b)
	}
	return e
}

// walkedConnect follows a connect message or its authorizer.
func (w *Walker) walkedConnect(e *Element, b []byte) {
	if w.step == wConnect {
		e.Connect = connectFields(b)
		w.own = e.Connect.Features
		w.connects++
		if n := e.Connect.AuthorizerLen; n > 0 {
			e.Last = false
			w.begin(wConnectAuth, uint64(n))
			return
		}
	}
	w.stop(wAwaitReply)
	if len(w.replies) >= w.connects {
		w.clientReply(w.replies[w.connects-1])
	}
}

// clientReply moves a client on after the server's reply to its last connect.
func (w *Walker) clientReply(tag Tag) {
	switch {
	case retriesConnect(tag):
		w.begin(wConnect, 0)
	default:
		w.opened(tag)
	}
}

// walkedReply follows a connect reply or its authorizer.
func (w *Walker) walkedReply(e *Element, b []byte) {
	if w.step == wReply {
		e.Reply = replyFields(b)
		e.Tag, w.reply, w.own = e.Reply.Tag, e.Reply.Tag, e.Reply.Features
		if n := e.Reply.AuthorizerLen; n > 0 {
			e.Last = false
			w.begin(wReplyAuth, uint64(n))
			return
		}
	}
	if retriesConnect(w.reply) {
		w.begin(wReply, 0)
		return
	}
	w.opened(w.reply)
}

// opened moves either side on after a reply that did not ask for another connect: in_seq
// after SEQ, session frames after READY, nothing after any other.
func (w *Walker) opened(tag Tag) {
	switch tag {
	case TagSeq:
		w.begin(wSeq, 0)
	case TagReady:
		w.begin(wTag, 0)
	default:
		w.stop(wClosed)
	}
}

// walkedSession follows an element of the in_seq or of a session frame.
func (w *Walker) walkedSession(e *Element, b []byte) {
	switch w.step {
	case wTag:
		w.walkedTag(e, Tag(b[0]))
	case wHeader:
		e.Header, _ = DecodeHeader(b, false)
		w.msg = LayoutMessage(e.Off, &e.Header, w.OldFooter())
		e.Msg, e.Last = w.msg, false
		w.nextSection(wFront)
	case wFront, wMiddle:
		e.Msg, e.Last = w.msg, false
		w.nextSection(w.step + 1)
	case wData:
		e.Msg, e.Last = w.msg, false
		w.begin(wFooter, w.msg.End-w.msg.DataEnd)
	case wFooter:
		e.Msg = w.msg
		w.begin(wTag, 0)
	default: // in_seq, ACK, timespec
		w.begin(wTag, 0)
	}
}

// walkedTag moves on after a session frame tag.
func (w *Walker) walkedTag(e *Element, tag Tag) {
	e.Tag = tag
	w.frame = frameOfTag(tag)
	e.Frame = w.frame
	switch tag {
	case TagMsg:
		e.Last = false
		w.begin(wHeader, 0)
	case TagAck:
		e.Last = false
		w.begin(wAck, 0)
	case TagKeepalive2, TagKeepalive2Ack:
		e.Last = false
		w.begin(wTimespec, 0)
	case TagKeepalive, TagClose:
		w.begin(wTag, 0)
	default:
		w.stop(wBadTag)
	}
}

// nextSection begins the first non-empty section from s on, or the footer.
func (w *Walker) nextSection(s walkStep) {
	ends := [3]uint64{w.msg.FrontEnd, w.msg.MiddleEnd, w.msg.DataEnd}
	for ; s <= wData; s++ {
		if end := ends[s-wFront]; end > w.off {
			w.begin(s, end-w.off)
			return
		}
	}
	w.begin(wFooter, w.msg.End-w.msg.DataEnd)
}

// retriesConnect reports whether the client answers a reply with this tag by sending another
// connect message on the same socket.
func retriesConnect(t Tag) bool {
	switch t {
	case TagRetryGlobal, TagRetrySession, TagResetSession, TagChallengeAuthorizer:
		return true
	}
	return false
}

// opensSession reports whether a reply with this tag opens the session.
func opensSession(t Tag) bool { return t == TagReady || t == TagSeq }

// frameOfTag is the session frame a tag starts (0 for a byte that is not a frame tag).
func frameOfTag(t Tag) FrameKind {
	switch t {
	case TagAck:
		return FrameAck
	case TagKeepalive:
		return FrameKeepalive
	case TagKeepalive2:
		return FrameKeepalive2
	case TagKeepalive2Ack:
		return FrameKeepalive2Ack
	case TagClose:
		return FrameClose
	case TagMsg:
		return FrameMsg
	}
	return 0
}
