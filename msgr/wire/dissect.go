package wire

import (
	"errors"
	"fmt"
	"strings"
)

// ErrTruncated: a captured stream ends inside a frame. Errors wrapping it also wrap ErrShort.
var ErrTruncated = errors.New("msgr1: stream truncated inside a frame")

// Direction is the direction of one byte stream of a TCP connection.
type Direction uint8

// Directions. The client is the side that connected.
const (
	ClientToServer Direction = iota // c2s
	ServerToClient                  // s2c
)

// String returns "c2s" or "s2c".
func (d Direction) String() string {
	switch d {
	case ClientToServer:
		return "c2s"
	case ServerToClient:
		return "s2c"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// DissectOptions configure DissectConversation and Dissect.
type DissectOptions struct {
	// Limits bound the authorizer and message lengths; the zero value means DefaultLimits.
	Limits Limits

	// The fields below are used only by Dissect, for what one direction cannot tell.

	// PeerFeatures are the features the other side advertised; the footer size follows from
	// the intersection with this side's. 0 means "the same as this side".
	PeerFeatures uint64
	// ConnectRounds is the number of connect messages in a client stream (one per reply:
	// RETRY_*, RESETSESSION and CHALLENGE_AUTHORIZER make the client send another). 0 means 1.
	ConnectRounds int
	// FinalReply is the server's reply to the client's last connect. 0 means SEQ when the
	// client advertised FeatureReconnectSeq, else READY.
	FinalReply Tag
}

// Stream is one direction of a dissected connection: its frames in order, handshake first.
type Stream struct {
	Dir    Direction
	Frames []Frame
	// Open reports that the handshake opened a session; the session's frames start at
	// SessionOffset (which equals the stream length if there are none).
	Open          bool
	SessionOffset int
	OldFooter     bool // messages carry the 13-byte footer (MSG_AUTH not negotiated)
}

// Len is the number of bytes the frames cover.
func (s *Stream) Len() int {
	if len(s.Frames) == 0 {
		return 0
	}
	last := &s.Frames[len(s.Frames)-1]
	return last.Offset + last.Len
}

// Append re-encodes every frame and appends them to dst: for a dissected stream, the bytes
// that were dissected.
func (s *Stream) Append(dst []byte) []byte {
	for i := range s.Frames {
		dst = s.Frames[i].Append(dst)
	}
	return dst
}

// Messages returns the stream's messages in order.
func (s *Stream) Messages() []*Message {
	var ms []*Message
	for i := range s.Frames {
		if s.Frames[i].Kind == FrameMsg && s.Frames[i].Msg != nil {
			ms = append(ms, s.Frames[i].Msg)
		}
	}
	return ms
}

// Count returns the number of frames of the given kind.
func (s *Stream) Count(kind FrameKind) int {
	n := 0
	for i := range s.Frames {
		if s.Frames[i].Kind == kind {
			n++
		}
	}
	return n
}

// String lists the frames, one per line, prefixed with the direction.
func (s *Stream) String() string {
	var b strings.Builder
	for i := range s.Frames {
		b.WriteString(s.Dir.String())
		b.WriteString(s.Frames[i].String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Conversation is a dissected msgr1 connection: both streams and what the handshake settled.
type Conversation struct {
	Client Stream // c2s
	Server Stream // s2c
	// Connect and Reply are the last connect message and connect reply of the handshake.
	Connect Connect
	Reply   ConnectReply
	// Open reports that the server answered READY or SEQ.
	Open bool
	// Features are the negotiated features (Connect.Features & Reply.Features) when Open.
	Features  uint64
	OldFooter bool // messages carry the 13-byte footer
}

// DissectConversation decodes both streams of a captured msgr1 connection. It walks the
// handshake in lockstep — client banner and address; server banner and two addresses; then
// rounds of connect and connect reply, another round after RETRY_GLOBAL, RETRY_SESSION,
// RESETSESSION or CHALLENGE_AUTHORIZER; the le64 in_seq of each side after SEQ — and then
// decodes each direction's frames to the end of its data, with the footer size the
// negotiated features imply. Every header, front, middle and data crc is verified.
//
// A stream may end between frames (a connection closed early); one that ends inside a frame
// is an error wrapping ErrTruncated. Bytes a stream cannot hold at that point (data after a
// handshake that did not open a session) are ErrMalformed. On error the conversation holds
// the frames decoded so far.
func DissectConversation(c2s, s2c []byte, opts DissectOptions) (*Conversation, error) {
	cv := &Conversation{Client: Stream{Dir: ClientToServer}, Server: Stream{Dir: ServerToClient}}
	c := newDissector(&cv.Client, c2s, opts.Limits)
	s := newDissector(&cv.Server, s2c, opts.Limits)
	if err := cv.handshake(c, s); err != nil || !cv.Open {
		return cv, err
	}
	cv.Features = cv.Connect.Features & cv.Reply.Features
	cv.OldFooter = OldFooterFor(cv.Features)
	return cv, errors.Join(c.session(), s.session())
}

// handshake walks greetings and connect rounds, telling each side's walker what the other
// sent: the client's features to the server, each reply to the client.
func (cv *Conversation) handshake(c, s *dissector) error {
	okC, err := c.greeting()
	if err != nil {
		return err
	}
	okS, err := s.greeting()
	if err != nil {
		return err
	}
	if !okC || !okS {
		return finished(c, s)
	}
	for {
		cf, ok, err := c.frame()
		if err != nil {
			return err
		}
		if !ok { // no connect: the server cannot have replied
			return finished(c, s)
		}
		s.w.SetPeerFeatures(cf.Connect.Features)
		rf, ok, err := s.frame()
		if err != nil {
			return err
		}
		if !ok { // the client may only have sent its connect
			return finished(c, s)
		}
		cv.Connect, cv.Reply = cf.Connect, rf.Reply
		c.w.SetPeerFeatures(rf.Reply.Features)
		c.w.PeerReply(rf.Reply.Tag)
		switch s.w.Phase() {
		case PhaseReply: // the client connects again
		case PhaseClosed: // WAIT, BADPROTOVER, FEATURES, BADAUTHORIZER: the client faults
			return finished(c, s)
		default:
			cv.Open = true
			return nil
		}
	}
}

// Dissect decodes one direction of a captured msgr1 connection when the other is not
// available. A server stream holds everything it needs but the client's features
// (opts.PeerFeatures); a client stream needs the number of connect rounds and the final
// reply tag from opts. Errors are as for DissectConversation; on error the stream holds the
// frames decoded so far.
func Dissect(dir Direction, data []byte, opts DissectOptions) (*Stream, error) {
	st := &Stream{Dir: dir}
	d := newDissector(st, data, opts.Limits)
	if opts.PeerFeatures != 0 {
		d.w.SetPeerFeatures(opts.PeerFeatures)
	}
	switch dir {
	case ClientToServer:
		return st, d.dissectClient(opts)
	case ServerToClient:
		return st, d.dissectServer()
	}
	return st, fmt.Errorf("dissect: unknown direction %v", dir)
}

// dissectClient walks a client stream, telling its walker the replies from opts: a
// connect-again reply to each connect but the last, then the final reply.
func (d *dissector) dissectClient(opts DissectOptions) error {
	if ok, err := d.greeting(); err != nil || !ok {
		return err // at a clean end nothing is left
	}
	var last Connect
	for i := range max(opts.ConnectRounds, 1) {
		if i > 0 {
			d.w.PeerReply(TagRetryGlobal)
		}
		f, ok, err := d.frame()
		if err != nil || !ok {
			return err
		}
		last = f.Connect
	}
	tag := opts.FinalReply
	if tag == 0 {
		tag = TagReady
		if HasFeatures(last.Features, FeatureReconnectSeq) {
			tag = TagSeq
		}
	}
	if !opensSession(tag) {
		return finished(d)
	}
	d.w.PeerReply(tag)
	return d.session()
}

// dissectServer walks a server stream: replies until one that is not answered by another
// connect, then the session if it opened one.
func (d *dissector) dissectServer() error {
	if ok, err := d.greeting(); err != nil || !ok {
		return err // at a clean end nothing is left
	}
	for d.w.Phase() == PhaseReply {
		if _, ok, err := d.frame(); err != nil || !ok {
			return err
		}
	}
	if d.w.Phase() == PhaseClosed {
		return finished(d)
	}
	return d.session()
}

// dissector decodes the frames of one stream in order and appends them to s.Frames: its
// walker finds where each frame ends and what it is, and the frame's decoder checks it.
type dissector struct {
	s      *Stream
	data   []byte
	off    int // where the next frame starts: the walker has walked up to here
	limits Limits
	w      Walker
}

func newDissector(s *Stream, data []byte, limits Limits) *dissector {
	d := &dissector{s: s, data: data, limits: limits}
	d.w.Reset(s.Dir)
	return d
}

// frame walks and decodes the next frame. At a clean end of data it returns ok false and no
// error; a frame the data ends inside is an error wrapping ErrTruncated.
func (d *dissector) frame() (f Frame, ok bool, err error) {
	if d.off == len(d.data) {
		return Frame{}, false, nil
	}
	kind, end, complete := d.walkFrame()
	f, n, err := d.decode(kind, d.data[d.off:])
	switch {
	case err != nil:
		return Frame{}, false, d.wrap(kind, err)
	case !complete || n != end-d.off: // the decoders and the walker follow one grammar
		return Frame{}, false, d.wrap(kind, fmt.Errorf("%w: %v frame of %d bytes, walked %d", ErrMalformed, kind, n, end-d.off))
	}
	f.Offset, f.Len = d.off, n
	d.s.Frames = append(d.s.Frames, f)
	d.off = end
	return f, true, nil
}

// walkFrame walks from the start of a frame to its end, or as far as the data goes; it
// returns the frame's kind, where the walk stopped and whether that ends the frame.
func (d *dissector) walkFrame() (kind FrameKind, end int, complete bool) {
	pos := d.off
	for pos < len(d.data) {
		n, e := d.w.Next(d.data[pos:])
		pos += n
		if e != nil && e.Last {
			return e.Frame, pos, true
		}
		if n == 0 { // the walk cannot go on (it never stops inside a frame)
			break
		}
	}
	return d.w.Frame(), pos, false
}

// decode decodes a frame of the given kind from the start of b and returns its length.
func (d *dissector) decode(kind FrameKind, b []byte) (Frame, int, error) {
	switch kind {
	case FrameBanner:
		return decodeBannerFrame(b)
	case FrameAddr:
		return decodeAddrFrame(b)
	case FrameConnect:
		return decodeConnectFrame(b, d.limits)
	case FrameConnectReply:
		return decodeReplyFrame(b, d.limits)
	case FrameSeq:
		return decodeSeqFrame(b)
	}
	return DecodeFrame(b, d.w.OldFooter(), d.limits)
}

// wrap places err at the current offset of the stream.
func (d *dissector) wrap(kind FrameKind, err error) error {
	if errors.Is(err, ErrShort) {
		err = fmt.Errorf("%w (%w)", ErrTruncated, err)
	}
	name := "frame"
	if kind != 0 {
		name = kind.String()
	}
	return &DecodeError{What: d.s.Dir.String() + " " + name, Offset: d.off, Err: err}
}

// finished checks that every dissector has used all of its data: the handshake stopped without
// opening a session, so nothing more can follow.
func finished(ds ...*dissector) error {
	var errs []error
	for _, d := range ds {
		if rest := len(d.data) - d.off; rest != 0 {
			errs = append(errs, &DecodeError{What: d.s.Dir.String() + " stream", Offset: d.off,
				Err: fmt.Errorf("%w: %d bytes after a handshake that opened no session", ErrMalformed, rest)})
		}
	}
	return errors.Join(errs...)
}

// greeting decodes the banner and the address(es) (1 for a client, 2 for a server).
func (d *dissector) greeting() (bool, error) {
	for d.w.Phase() == PhaseGreeting {
		if _, ok, err := d.frame(); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// session decodes the in_seq after a SEQ reply, if any, then session frames to the end of data.
func (d *dissector) session() error {
	for {
		if d.w.Phase() == PhaseSession && !d.s.Open {
			d.s.Open, d.s.SessionOffset, d.s.OldFooter = true, d.off, d.w.OldFooter()
		}
		if _, ok, err := d.frame(); err != nil || !ok {
			return err
		}
	}
}

func decodeBannerFrame(b []byte) (Frame, int, error) {
	if err := CheckBanner(b); err != nil {
		return Frame{}, 0, err
	}
	return Frame{Kind: FrameBanner}, BannerLen, nil
}

func decodeAddrFrame(b []byte) (Frame, int, error) {
	a, err := DecodeLegacyAddr(b)
	if err != nil {
		return Frame{}, 0, err
	}
	return Frame{Kind: FrameAddr, Addr: a}, AddrLen, nil
}

func decodeSeqFrame(b []byte) (Frame, int, error) {
	seq, err := DecodeSeq(b)
	if err != nil {
		return Frame{}, 0, err
	}
	return Frame{Kind: FrameSeq, Seq: seq}, SeqLen, nil
}

func decodeConnectFrame(b []byte, limits Limits) (Frame, int, error) {
	c, err := DecodeConnect(b, limits)
	if err != nil {
		return Frame{}, 0, err
	}
	auth, n, err := authorizerAfter(b, ConnectLen, c.AuthorizerLen, "ceph_msg_connect authorizer")
	if err != nil {
		return Frame{}, 0, err
	}
	return Frame{Kind: FrameConnect, Connect: c, Authorizer: auth}, n, nil
}

func decodeReplyFrame(b []byte, limits Limits) (Frame, int, error) {
	r, err := DecodeConnectReply(b, limits)
	if err != nil {
		return Frame{}, 0, err
	}
	auth, n, err := authorizerAfter(b, ConnectReplyLen, r.AuthorizerLen, "ceph_msg_connect_reply authorizer")
	if err != nil {
		return Frame{}, 0, err
	}
	return Frame{Kind: FrameConnectReply, Reply: r, Authorizer: auth}, n, nil
}

// authorizerAfter returns the l authorizer bytes at off (nil when l is 0, aliasing b) and the
// offset after them. l has already been checked against the limits.
func authorizerAfter(b []byte, off int, l uint32, what string) ([]byte, int, error) {
	end := off + int(l)
	if len(b) < end {
		return nil, 0, short(what, end, len(b))
	}
	if l == 0 {
		return nil, end, nil
	}
	return b[off:end:end], end, nil
}
