package fault

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/simnet"
)

// frameTracker follows the msgr1 structure of every simulated stream as it is written (a
// simnet.Observer) and uses it to bias how many bytes each write, delivery and read moves (a
// simnet.Chunker): with some probability a chunk ends exactly at, one byte before, or one byte
// after a msgr1 boundary — banner, address, connect, reply, seq, tag, header, crc field,
// front/middle/data, footer — where parsers are most likely to get partial reads wrong. It
// also knows which byte ranges are protected by a crc, where corruption must be caught.
type frameTracker struct {
	rand     *detrand.Rand
	cutBias  detrand.Ratio // probability that a chunk ends at a boundary ±1
	conns    map[uint64]*connTrack
	lastConn uint64
	cuts     int // chunks cut at a boundary
	// violation reports a wire-level invariant broken (an ACK on a lossy session).
	violation func(name, detail string)
	// logf, when set, writes the readable trace: boundary cuts and ACK frames.
	logf func(format string, args ...any)
	// cov, if set, counts the reply and frame tags written and read.
	cov Counter
}

type connTrack struct {
	t        *frameTracker
	id       uint64
	s        [2]streamTrack // by simnet.Dir
	replies  []wire.Tag     // reply tags the server sent, in order
	features [2]uint64      // connect features, reply features
	lossy    bool           // the server's opening reply said LOSSY
}

// span is a half-open byte range of a stream.
type span struct{ start, end uint64 }

type streamTrack struct {
	buf       []byte // bytes of the current element not yet complete
	off       uint64 // stream offset of buf[0]
	step      int    // parser position (see advance)
	connects  int    // client: connect messages parsed
	pending   int    // bytes left of a skipped element (authorizer, message body)
	msgStart  uint64 // stream offset of the current message's header
	sections  [4]int // front, middle, data, footer lengths of the current message
	bounds    []uint64
	protected []span
	delivered uint64 // bytes delivered so far (from the chunker's OpDeliver calls)
	// corrupted is one past the last byte chosen as a corruption target: simnet moves a
	// second corruption of one byte to the next byte, which may be unprotected (a frame tag:
	// a flipped MSG tag reads as CLOSE), so targets only move forward.
	corrupted uint64
	fixedTag  wire.Tag // the tag whose fixed-size payload is being read
	marks     []tagMark
}

// tagMark is a reply or frame tag written on a stream, counted as received once the reader
// has read up to end.
type tagMark struct {
	end   uint64
	reply bool
	tag   wire.Tag
}

// wrote counts a tag written on st; it is received once the reader reads past end.
func (t *frameTracker) wrote(st *streamTrack, reply bool, tag wire.Tag, end uint64) {
	if t.cov == nil {
		return
	}
	t.cov.TagWritten(reply, tag)
	st.marks = append(st.marks, tagMark{end: end, reply: reply, tag: tag})
}

// read counts the tags of stream s whose bytes the reader has now read (up to offset to).
func (t *frameTracker) read(s simnet.StreamID, to uint64) {
	c := t.conns[s.Conn]
	if t.cov == nil || c == nil {
		return
	}
	st := &c.s[s.Dir]
	i := 0
	for ; i < len(st.marks) && st.marks[i].end <= to; i++ {
		t.cov.TagRead(st.marks[i].reply, st.marks[i].tag)
	}
	st.marks = append(st.marks[:0], st.marks[i:]...)
}

func newFrameTracker(r *detrand.Rand, cutBias detrand.Ratio) *frameTracker {
	return &frameTracker{rand: r, cutBias: cutBias, conns: make(map[uint64]*connTrack)}
}

func (t *frameTracker) conn(id uint64) *connTrack {
	c := t.conns[id]
	if c == nil {
		c = &connTrack{t: t, id: id}
		t.conns[id] = c
		t.lastConn = max(t.lastConn, id)
	}
	return c
}

// Written implements simnet.Observer.
func (t *frameTracker) Written(s simnet.StreamID, off uint64, p []byte) {
	c := t.conn(s.Conn)
	st := &c.s[s.Dir]
	for len(p) > 0 && st.step != stepDone {
		if skipped(st.step) {
			k := min(st.pending, len(p))
			st.pending -= k
			st.off += uint64(k)
			p = p[k:]
			if st.pending == 0 {
				c.finishSkipped(s.Dir)
			}
			continue
		}
		st.buf = append(st.buf, p...)
		p = nil
		for c.advance(s.Dir) {
		}
	}
}

// skipped steps are elements whose bytes are not needed, only their length.
func skipped(step int) bool {
	return step == stepConnectAuth || step == stepReplyAuth || step == stepBody
}

// Chunk implements simnet.Chunker.
func (t *frameTracker) Chunk(s simnet.StreamID, op simnet.Op, off uint64, avail int) int {
	n := t.defaultChunk(avail)
	if avail > 1 && t.rand.Chance(t.cutBias) {
		if b, ok := t.boundaryWithin(s, off, avail); ok {
			n = b
			t.cuts++
			if t.logf != nil {
				t.logf("network: %v %v cut at a msgr1 boundary ±1: %d of %d bytes from offset %d", s, op, n, avail, off)
			}
		}
	}
	if op == simnet.OpDeliver {
		if c := t.conns[s.Conn]; c != nil {
			c.s[s.Dir].delivered = off + uint64(n)
		}
	}
	if op == simnet.OpRead {
		t.read(s, off+uint64(n))
	}
	return n
}

// defaultChunk is simnet's own distribution: everything with probability 1/2 (and on word 0),
// else uniform.
func (t *frameTracker) defaultChunk(avail int) int {
	if avail <= 1 || !t.rand.Bool() {
		return avail
	}
	return avail - t.rand.IntN(avail)
}

// boundaryWithin picks a cut length in [1, avail] that ends at a boundary ±1 after off.
func (t *frameTracker) boundaryWithin(s simnet.StreamID, off uint64, avail int) (int, bool) {
	c := t.conns[s.Conn]
	if c == nil {
		return 0, false
	}
	b := c.s[s.Dir].bounds
	lo := sort.Search(len(b), func(i int) bool { return b[i] > off })
	hi := sort.Search(len(b), func(i int) bool { return b[i] > off+uint64(avail)+1 })
	if lo >= hi {
		return 0, false
	}
	cut := int(b[lo+t.rand.IntN(hi-lo)]-off) + t.rand.Range(-1, 1)
	if cut < 1 || cut > avail {
		return 0, false
	}
	return cut, true
}

// corruptTarget picks a byte not yet delivered inside a crc-protected range of some stream.
func (t *frameTracker) corruptTarget() (simnet.StreamID, uint64, bool) {
	for tries := 0; tries < 8 && t.lastConn > 0; tries++ {
		id := 1 + t.rand.Uint64N(t.lastConn)
		c := t.conns[id]
		if c == nil {
			continue
		}
		dir := simnet.Dir(t.rand.IntN(2))
		st := &c.s[dir]
		// Among the last few protected ranges not yet delivered, pick one at random: always
		// taking the last one would always hit a message's footer flags byte (only its
		// COMPLETE bit is checked), and never a crc. Never target a byte at or before one
		// already targeted: simnet moves such a corruption to the next byte delivered, which
		// may be an unprotected tag.
		floor := max(st.delivered, st.corrupted)
		var cands []span
		for i := len(st.protected) - 1; i >= 0 && i >= len(st.protected)-4; i-- {
			if sp := st.protected[i]; sp.end > floor {
				cands = append(cands, sp)
			}
		}
		if len(cands) > 0 {
			sp := cands[t.rand.IntN(len(cands))]
			start := max(sp.start, floor)
			off := start + t.rand.Uint64N(sp.end-start)
			st.corrupted = off + 1
			return simnet.StreamID{Conn: id, Dir: dir}, off, true
		}
	}
	return simnet.StreamID{}, 0, false
}

// Parser steps. A client stream is: banner, address, connect (+ authorizer) — repeated per
// reply that asks for another — then the le64 seq after a SEQ reply, then frames. A server
// stream is: banner, two addresses, replies (+ authorizer, + seq after SEQ), then frames.
const (
	stepBanner = iota
	stepAddr
	stepAddr2 // server: the client's address as seen
	stepConnect
	stepConnectAuth
	stepAfterConnect // client: waits for the server's reply to decide
	stepReply
	stepReplyAuth
	stepReplySeq
	stepSeq // client: le64 in_seq after SEQ
	stepTag
	stepFixed  // a fixed-length frame payload (ack, timespec)
	stepHeader // MSG header
	stepBody   // MSG front+middle+data+footer
	stepDone   // stream ended in the handshake (rejected)
)

// advance parses one element of direction d if its bytes are in; it reports progress.
func (c *connTrack) advance(d simnet.Dir) bool {
	st := &c.s[d]
	if st.step == stepDone {
		return false
	}
	if skipped(st.step) {
		rest := st.buf
		st.buf = nil
		c.replay(d, rest)
		return len(st.buf) > 0
	}
	need, ok := c.need(d)
	if !ok || len(st.buf) < need {
		return false
	}
	elem := st.buf[:need]
	c.consume(d, elem)
	st.addBound(st.off + uint64(need))
	st.off += uint64(need)
	st.buf = append(st.buf[:0], st.buf[need:]...)
	st.prune()
	return true
}

// addBound inserts a boundary offset, keeping the list sorted (new ones are near the end).
func (st *streamTrack) addBound(x uint64) {
	st.bounds = append(st.bounds, x)
	for i := len(st.bounds) - 1; i > 0 && st.bounds[i-1] > x; i-- {
		st.bounds[i-1], st.bounds[i] = st.bounds[i], st.bounds[i-1]
	}
}

// prune keeps the boundary and protected lists short: only what is not yet delivered matters.
func (st *streamTrack) prune() {
	if len(st.bounds) > 512 {
		st.bounds = append(st.bounds[:0], st.bounds[len(st.bounds)-256:]...)
	}
	if len(st.protected) > 64 {
		st.protected = append(st.protected[:0], st.protected[len(st.protected)-32:]...)
	}
}

// need is the length of the next element of direction d, once knowable.
func (c *connTrack) need(d simnet.Dir) (int, bool) {
	st := &c.s[d]
	switch st.step {
	case stepBanner:
		return wire.BannerLen, true
	case stepAddr, stepAddr2:
		return wire.AddrLen, true
	case stepConnect:
		return wire.ConnectLen, true
	case stepReply:
		return wire.ConnectReplyLen, true
	case stepFixed:
		return st.pending, true
	case stepReplySeq, stepSeq:
		return wire.SeqLen, true
	case stepAfterConnect:
		return c.clientNext()
	case stepTag:
		return 1, true
	case stepHeader:
		return wire.HeaderLen, true
	}
	return 0, false
}

// replay feeds bytes that were buffered before the parser learned they belong to a skipped
// element back through the skipping path.
func (c *connTrack) replay(d simnet.Dir, p []byte) {
	st := &c.s[d]
	for len(p) > 0 && skipped(st.step) {
		k := min(st.pending, len(p))
		st.pending -= k
		st.off += uint64(k)
		p = p[k:]
		if st.pending == 0 {
			c.finishSkipped(d)
		}
	}
	if len(p) > 0 && st.step != stepDone {
		st.buf = append(st.buf, p...)
	}
}

// clientNext decides what the client sends after a connect, from the server's reply to it.
func (c *connTrack) clientNext() (int, bool) {
	st := &c.s[simnet.ClientToServer]
	if len(c.replies) < st.connects {
		return 0, false
	}
	switch c.replies[st.connects-1] {
	case wire.TagRetryGlobal, wire.TagRetrySession, wire.TagResetSession, wire.TagChallengeAuthorizer:
		st.step = stepConnect
	case wire.TagSeq:
		st.step = stepSeq
	case wire.TagReady:
		st.step = stepTag
	default:
		st.step = stepDone
		return 0, false
	}
	return c.need(simnet.ClientToServer)
}

// consume acts on one complete fixed-size element and moves the parser on.
func (c *connTrack) consume(d simnet.Dir, b []byte) {
	st := &c.s[d]
	client := d == simnet.ClientToServer
	switch st.step {
	case stepBanner:
		st.step = stepAddr
	case stepAddr:
		st.step = stepConnect
		if !client {
			st.step = stepAddr2
		}
	case stepAddr2:
		st.step = stepReply
	case stepConnect:
		c.features[0] = binary.LittleEndian.Uint64(b)
		st.connects++
		st.skipOr(int(binary.LittleEndian.Uint32(b[28:])), stepConnectAuth, stepAfterConnect)
	case stepReply:
		c.replies = append(c.replies, wire.Tag(b[0]))
		c.t.wrote(st, true, wire.Tag(b[0]), st.off+wire.ConnectReplyLen)
		c.features[1] = binary.LittleEndian.Uint64(b[1:])
		c.lossy = b[25]&wire.ConnectLossy != 0
		st.skipOr(int(binary.LittleEndian.Uint32(b[21:])), stepReplyAuth, stepReply)
		if st.step == stepReply {
			c.afterReply()
		}
	case stepReplySeq, stepSeq, stepFixed:
		if st.step == stepFixed && st.fixedTag == wire.TagAck && c.t.logf != nil {
			c.t.logf("network: conn %d %v: ACK %d", c.id, d, binary.LittleEndian.Uint64(b))
		}
		st.step = stepTag
	case stepTag:
		c.consumeTag(d, wire.Tag(b[0]))
	case stepHeader:
		c.consumeHeader(d, b)
	}
}

// skipOr skips n bytes in step skip, or goes straight to next when n is 0.
func (st *streamTrack) skipOr(n int, skip, next int) {
	if n > 0 {
		st.step, st.pending = skip, n
		return
	}
	st.step = next
}

// afterReply moves the server stream on after a reply (and its authorizer).
func (c *connTrack) afterReply() {
	st := &c.s[simnet.ServerToClient]
	switch c.replies[len(c.replies)-1] {
	case wire.TagSeq:
		st.step = stepReplySeq
	case wire.TagReady:
		st.step = stepTag
	case wire.TagRetryGlobal, wire.TagRetrySession, wire.TagResetSession, wire.TagChallengeAuthorizer:
		st.step = stepReply
	default:
		st.step = stepDone
	}
}

func (c *connTrack) consumeTag(d simnet.Dir, tag wire.Tag) {
	st := &c.s[d]
	st.fixedTag = tag
	if tag.IsFrame() {
		c.t.wrote(st, false, tag, st.off+1)
	}
	switch tag {
	case wire.TagMsg:
		st.step = stepHeader
	case wire.TagAck:
		st.step, st.pending = stepFixed, 8
		if c.t.cov != nil {
			c.t.cov.Evaluated(check.InvLossyAck, 1)
		}
		if c.lossy && c.t.violation != nil {
			c.t.violation(check.InvLossyAck, fmt.Sprintf("conn %d: %v sent an ACK on a lossy session", c.id, d))
		}
	case wire.TagKeepalive2, wire.TagKeepalive2Ack:
		st.step, st.pending = stepFixed, 8
	case wire.TagKeepalive, wire.TagClose:
		st.step = stepTag
	default:
		st.step = stepDone
	}
}

// consumeHeader records the message's layout: boundaries inside the header, and the lengths
// of the body that follows.
func (c *connTrack) consumeHeader(d simnet.Dir, b []byte) {
	st := &c.s[d]
	st.msgStart = st.off
	st.addBound(st.off + wire.HeaderCRCLen)
	footer := wire.FooterSize(c.features[0]&c.features[1]&wire.FeatureMsgAuth != 0)
	st.sections = [4]int{int(binary.LittleEndian.Uint32(b[22:])), int(binary.LittleEndian.Uint32(b[26:])),
		int(binary.LittleEndian.Uint32(b[30:])), footer}
	total := st.sections[0] + st.sections[1] + st.sections[2] + footer
	st.step, st.pending = stepBody, total
	// Boundaries inside the body: the ends of front, middle and data, and the footer's crcs.
	at := st.off + wire.HeaderLen
	for i := 0; i < 3; i++ {
		at += uint64(st.sections[i])
		st.addBound(at)
	}
	st.addBound(at + 4)
	st.addBound(at + 8)
	st.addBound(at + 12)
}

// finishSkipped ends a skipped element: the authorizer is done, or the message body.
func (c *connTrack) finishSkipped(d simnet.Dir) {
	st := &c.s[d]
	st.addBound(st.off)
	switch st.step {
	case stepConnectAuth:
		st.step = stepAfterConnect
	case stepReplyAuth:
		st.step = stepReply
		c.afterReply()
	case stepBody:
		c.protectMessage(d)
		st.step = stepTag
	}
	st.prune()
}

// protectMessage records the crc-protected bytes of the message just finished: the header and
// sections, the footer's three crcs and its flags (not the signature, unchecked with auth none).
func (c *connTrack) protectMessage(d simnet.Dir) {
	st := &c.s[d]
	footer := st.sections[3]
	end := st.off
	st.protected = append(st.protected, span{st.msgStart, end - uint64(footer) + 12}, span{end - 1, end})
}
