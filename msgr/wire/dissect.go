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
	c := &walker{s: &cv.Client, data: c2s, limits: opts.Limits}
	s := &walker{s: &cv.Server, data: s2c, limits: opts.Limits}
	seq, err := cv.handshake(c, s)
	if err != nil || !cv.Open {
		return cv, err
	}
	cv.Features = cv.Connect.Features & cv.Reply.Features
	cv.OldFooter = !HasFeatures(cv.Features, FeatureMsgAuth)
	return cv, errors.Join(c.open(seq, cv.OldFooter), s.open(seq, cv.OldFooter))
}

// handshake walks greetings and connect rounds; it reports whether the final reply was SEQ.
func (cv *Conversation) handshake(c, s *walker) (seq bool, err error) {
	okC, err := c.greeting(1)
	if err != nil {
		return false, err
	}
	okS, err := s.greeting(2)
	if err != nil {
		return false, err
	}
	if !okC || !okS {
		return false, finished(c, s)
	}
	for {
		cf, ok, err := c.connect()
		if err != nil {
			return false, err
		}
		if !ok { // no connect: the server cannot have replied
			return false, finished(c, s)
		}
		rf, ok, err := s.reply()
		if err != nil {
			return false, err
		}
		if !ok { // the client may only have sent its connect
			return false, finished(c, s)
		}
		cv.Connect, cv.Reply = cf.Connect, rf.Reply
		switch tag := rf.Reply.Tag; {
		case retriesConnect(tag):
			continue
		case opensSession(tag):
			cv.Open = true
			return tag == TagSeq, nil
		default: // WAIT, BADPROTOVER, FEATURES, BADAUTHORIZER: the client faults
			return false, finished(c, s)
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
	w := &walker{s: st, data: data, limits: opts.Limits}
	switch dir {
	case ClientToServer:
		return st, w.dissectClient(opts)
	case ServerToClient:
		return st, w.dissectServer(opts)
	}
	return st, fmt.Errorf("dissect: unknown direction %v", dir)
}

func (w *walker) dissectClient(opts DissectOptions) error {
	if ok, err := w.greeting(1); err != nil || !ok {
		return err // at a clean end nothing is left
	}
	var last Connect
	for range max(opts.ConnectRounds, 1) {
		f, ok, err := w.connect()
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
		return finished(w)
	}
	return w.open(tag == TagSeq, oldFooterFor(last.Features, opts.PeerFeatures))
}

func (w *walker) dissectServer(opts DissectOptions) error {
	if ok, err := w.greeting(2); err != nil || !ok {
		return err // at a clean end nothing is left
	}
	for {
		f, ok, err := w.reply()
		if err != nil || !ok {
			return err
		}
		tag := f.Reply.Tag
		if retriesConnect(tag) {
			continue
		}
		if !opensSession(tag) {
			return finished(w)
		}
		return w.open(tag == TagSeq, oldFooterFor(f.Reply.Features, opts.PeerFeatures))
	}
}

// oldFooterFor decides the footer size from this side's features and the peer's (0: same).
func oldFooterFor(own, peer uint64) bool {
	if peer == 0 {
		peer = own
	}
	return !HasFeatures(own&peer, FeatureMsgAuth)
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

// walker decodes the frames of one stream in order and appends them to s.Frames.
type walker struct {
	s      *Stream
	data   []byte
	off    int
	limits Limits
}

// decodeFunc decodes one element from the start of b and returns it and its length.
type decodeFunc func(b []byte) (Frame, int, error)

// step decodes the next element. At a clean end of data it returns ok false and no error.
func (w *walker) step(kind FrameKind, dec decodeFunc) (f Frame, ok bool, err error) {
	rest := w.data[w.off:]
	if len(rest) == 0 {
		return Frame{}, false, nil
	}
	f, n, err := dec(rest)
	if err != nil {
		if kind == FrameMsg { // a session frame: name it by its tag
			kind = kindOfTag(Tag(rest[0]))
		}
		return Frame{}, false, w.wrap(kind, err)
	}
	f.Offset, f.Len = w.off, n
	w.s.Frames = append(w.s.Frames, f)
	w.off += n
	return f, true, nil
}

// wrap places err at the current offset of the stream.
func (w *walker) wrap(kind FrameKind, err error) error {
	if errors.Is(err, ErrShort) {
		err = fmt.Errorf("%w (%w)", ErrTruncated, err)
	}
	name := "frame"
	if kind != 0 {
		name = kind.String()
	}
	return &DecodeError{What: w.s.Dir.String() + " " + name, Offset: w.off, Err: err}
}

// finished checks that every walker has used all of its data: the handshake stopped without
// opening a session, so nothing more can follow.
func finished(ws ...*walker) error {
	var errs []error
	for _, w := range ws {
		if rest := len(w.data) - w.off; rest != 0 {
			errs = append(errs, &DecodeError{What: w.s.Dir.String() + " stream", Offset: w.off,
				Err: fmt.Errorf("%w: %d bytes after a handshake that opened no session", ErrMalformed, rest)})
		}
	}
	return errors.Join(errs...)
}

// greeting decodes the banner and then addrs legacy addresses (1 for a client, 2 for a server).
func (w *walker) greeting(addrs int) (bool, error) {
	if _, ok, err := w.step(FrameBanner, decodeBannerFrame); err != nil || !ok {
		return false, err
	}
	for range addrs {
		if _, ok, err := w.step(FrameAddr, decodeAddrFrame); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func (w *walker) connect() (Frame, bool, error) {
	return w.step(FrameConnect, func(b []byte) (Frame, int, error) { return decodeConnectFrame(b, w.limits) })
}

func (w *walker) reply() (Frame, bool, error) {
	return w.step(FrameConnectReply, func(b []byte) (Frame, int, error) { return decodeReplyFrame(b, w.limits) })
}

// open decodes the in_seq after a SEQ reply, if any, then session frames to the end of data.
func (w *walker) open(seq, oldFooter bool) error {
	if seq {
		if _, ok, err := w.step(FrameSeq, decodeSeqFrame); err != nil || !ok {
			return err
		}
	}
	w.s.Open, w.s.SessionOffset, w.s.OldFooter = true, w.off, oldFooter
	dec := func(b []byte) (Frame, int, error) { return DecodeFrame(b, oldFooter, w.limits) }
	for {
		if _, ok, err := w.step(FrameMsg, dec); err != nil || !ok {
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

// kindOfTag names the session frame a tag starts, for errors.
func kindOfTag(t Tag) FrameKind {
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
	return 0 // not a session frame tag
}
