package fault

import (
	"encoding/binary"
	"fmt"
	"sort"
	"sync"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/simnet"
)

// frameTracker follows the msgr1 structure of every simulated stream as it is written (a
// simnet.Observer, walking each stream with a wire.Walker) and uses it to bias how many bytes each write, delivery and read moves (a
// simnet.Chunker): with some probability a chunk ends exactly at, one byte before, or one byte
// after a msgr1 boundary — banner, address, connect, reply, seq, tag, header, crc field,
// front/middle/data, footer — where parsers are most likely to get partial reads wrong. It
// also knows which byte ranges are protected by a crc, where corruption must be caught.
type frameTracker struct {
	rand     *detrand.Rand
	cutBias  detrand.Ratio         // probability that a chunk ends at a boundary ±1
	conns    map[uint64]*connTrack // lookup only: never iterated
	recent   *connTrack            // the connection last found (see find)
	blocks   []*connBlock          // every connection's block, in creation order (release)
	lastConn uint64
	cuts     int // chunks cut at a boundary
	// violation reports a wire-level invariant broken (an ACK on a lossy session).
	violation func(name, detail string)
	// logf, when set, writes the readable trace: boundary cuts and ACK frames.
	logf func(format string, args ...any)
	// cov, if set, counts the reply and frame tags written and read.
	cov Counter
	// mon, if set, is told the handshake and session elements written and how far each
	// stream was read (the conformance monitor, check.Sessions).
	mon Monitor
	// armed tampers wait for a target: the next delivery on an eligible stream that still
	// holds a whole message's front and crcs gets one (tamper, which reports whether it did).
	armed    int
	tamperOK func(c *connTrack) bool
	tamper   func(s simnet.StreamID, m writtenMsg) bool
}

// Monitor watches the msgr1 conversation of every connection: the elements written in each
// direction (0: the client's stream, 1: the server's) and how far each stream's reader has
// read. check.Sessions implements it.
type Monitor interface {
	Written(conn uint64, dir int, e *wire.Element)
	Read(conn uint64, dir int, to uint64)
}

type connTrack struct {
	t     *frameTracker
	id    uint64
	s     [2]streamTrack // by simnet.Dir
	lossy bool           // the server's opening reply said LOSSY
	cephx bool           // the client's connect carried a cephx authorizer
	feat  uint64         // the features of the client's last connect
	// signed: the session signs its messages, as Ceph's cephx does when both sides have
	// MSG_AUTH: a cephx authorizer, and MSG_AUTH in the connect and in the reply.
	signed bool
}

// span is a half-open byte range of a stream.
type span struct{ start, end uint64 }

type streamTrack struct {
	// w walks the stream's msgr1 grammar; the client's walker is told the server's replies
	// and each is told the other's features as they are written.
	w wire.Walker
	// held are client bytes written while its walker waited for the server's reply to a
	// connect: walked with the next bytes written on the stream.
	held      []byte
	bounds    []uint64
	protected []span
	delivered uint64 // bytes delivered so far (from the chunker's OpDeliver calls)
	// corrupted is one past the last byte chosen as a corruption target: simnet moves a
	// second corruption of one byte to the next byte, which may be unprotected (a frame tag:
	// a flipped MSG tag reads as CLOSE), so targets only move forward.
	corrupted uint64
	marks     []tagMark
	// msgs are the last messages written in full (tamper targets), curTid the tid of the
	// message being written.
	msgs   []writtenMsg
	curTid uint64
}

// writtenMsg is a message written in full on a stream: its layout and tid.
type writtenMsg struct {
	l   wire.MessageLayout
	tid uint64
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
	if t.mon != nil {
		t.mon.Read(s.Conn, int(s.Dir), to)
	}
	c := t.find(s.Conn)
	if t.cov == nil || c == nil {
		return
	}
	st := &c.s[s.Dir]
	i := 0
	for ; i < len(st.marks) && st.marks[i].end <= to; i++ {
		t.cov.TagRead(st.marks[i].reply, st.marks[i].tag)
	}
	if i > 0 { // (most reads reach no new mark: no copy)
		st.marks = append(st.marks[:0], st.marks[i:]...)
	}
}

func newFrameTracker(r *detrand.Rand, cutBias detrand.Ratio) *frameTracker {
	return &frameTracker{rand: r, cutBias: cutBias, conns: make(map[uint64]*connTrack)}
}

// The capacities of a stream's boundary and protected lists, and how many written messages it
// remembers (tamper targets). prune keeps the lists within them (it cuts a list past
// maxBounds or maxSpans entries in half, after a header's or a message's few were added), so
// the block's arrays hold them for the whole run: a long run's lists grew to a few kilobytes
// per connection and were allocated again by every run.
const (
	maxBounds      = 512
	maxSpans       = 64
	trackBounds    = maxBounds + 16
	trackSpans     = maxSpans + 16
	maxWrittenMsgs = 8
	trackMarks     = 16 // tags written and not yet read, in the block (more grow out of it)
)

// find returns the tracked connection with the given id, or nil. Most calls in a row are for
// one connection (a write, then its deliveries and reads), so the last one found is checked
// before the map.
func (t *frameTracker) find(id uint64) *connTrack {
	if c := t.recent; c != nil && c.id == id {
		return c
	}
	c := t.conns[id]
	if c != nil {
		t.recent = c
	}
	return c
}

func (t *frameTracker) conn(id uint64) *connTrack {
	c := t.find(id)
	if c == nil {
		b := newConnBlock()
		c = &b.connTrack
		c.t, c.id = t, id
		// The boundary and protected lists of both directions start with room for a few
		// dozen messages, in the block (growing from nothing took several allocations).
		for d := range c.s {
			c.s[d].w.Reset(wire.Direction(d)) // simnet.Dir and wire.Direction agree: c2s, s2c
			c.s[d].w.SetPeerFeatures(0)       // until the other side's connect or reply
			c.s[d].bounds = b.bounds[d*trackBounds : d*trackBounds : (d+1)*trackBounds]
			c.s[d].protected = b.protected[d*trackSpans : d*trackSpans : (d+1)*trackSpans]
			c.s[d].msgs = b.msgs[d*maxWrittenMsgs : d*maxWrittenMsgs : (d+1)*maxWrittenMsgs]
			c.s[d].marks = b.marks[d*trackMarks : d*trackMarks : (d+1)*trackMarks]
		}
		t.conns[id] = c
		t.blocks = append(t.blocks, b)
		t.lastConn = max(t.lastConn, id)
	}
	return c
}

// connBlock is a tracked connection with room for its first boundaries, protected ranges and
// written messages: one allocation per connection, and reused by the runs after this one
// (spareConns).
type connBlock struct {
	connTrack
	bounds    [2 * trackBounds]uint64
	protected [2 * trackSpans]span
	msgs      [2 * maxWrittenMsgs]writtenMsg
	marks     [2 * trackMarks]tagMark
}

// spareConns holds the connection blocks of finished runs (frameTracker.release) for the runs
// made later in the process: a fuzzing worker runs hundreds of short runs per second, and each
// allocated a few kilobytes per connection. A block taken from here is cleared as new (a run
// must not depend on the runs before it, even through a bug that reads stale state); the
// garbage collector empties the pool when idle.
var spareConns sync.Pool

// newConnBlock is a zeroed connection block, a spare one if there is.
func newConnBlock() *connBlock {
	if b, ok := spareConns.Get().(*connBlock); ok {
		*b = connBlock{}
		return b
	}
	return new(connBlock)
}

// release gives the tracker's connection blocks to spareConns: the run is over and nothing
// reads the tracker any more.
func (t *frameTracker) release() {
	for i, b := range t.blocks {
		spareConns.Put(b)
		t.blocks[i] = nil
	}
	t.blocks = t.blocks[:0]
	clear(t.conns)
	t.recent = nil
}

// Written implements simnet.Observer.
func (t *frameTracker) Written(s simnet.StreamID, off uint64, p []byte) {
	c := t.conn(s.Conn)
	st := &c.s[s.Dir]
	if len(st.held) > 0 {
		p = append(st.held, p...)
		st.held = nil
	}
	c.walk(s.Dir, p)
}

// walk walks bytes written on direction d and acts on each element they complete. Bytes the
// walker cannot take yet (a client waiting for the server's reply) are held; bytes after the
// stream left the grammar (a rejected handshake, a bad tag) are ignored.
func (c *connTrack) walk(d simnet.Dir, p []byte) {
	st := &c.s[d]
	for len(p) > 0 {
		n, e := st.w.Next(p)
		if n == 0 {
			if st.w.Phase() == wire.PhaseAwaitReply {
				st.held = append(st.held, p...)
			}
			return
		}
		p = p[n:]
		if e != nil {
			c.element(d, e)
		}
	}
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
		if c := t.find(s.Conn); c != nil {
			if t.armed > 0 && t.tamperOK(c) {
				t.tamperArmed(s, c, off)
			}
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
	c := t.find(s.Conn)
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

// element records what one walked element tells: its end is a boundary (a message's inner
// boundaries are known from its header, its end once the footer is in), a connect or reply
// informs the other direction's walker, tags are counted and ACKs checked.
func (c *connTrack) element(d simnet.Dir, e *wire.Element) {
	st := &c.s[d]
	if c.t.mon != nil {
		switch e.Kind {
		case wire.ElemAddr, wire.ElemConnect, wire.ElemReply, wire.ElemSeq, wire.ElemHeader:
			c.t.mon.Written(c.id, int(d), e)
		}
	}
	switch e.Kind {
	case wire.ElemFront, wire.ElemMiddle, wire.ElemData:
		return // their ends were added with the header
	case wire.ElemConnect:
		c.s[simnet.ServerToClient].w.SetPeerFeatures(e.Connect.Features)
		c.cephx = e.Connect.AuthorizerProtocol == wire.AuthCephx && e.Connect.AuthorizerLen > 0
		c.feat, c.signed = e.Connect.Features, false
	case wire.ElemReply:
		c.reply(e)
	case wire.ElemTag:
		c.tag(d, e.Tag, e.End())
	case wire.ElemSeq:
		if e.Frame == wire.FrameAck && c.t.logf != nil {
			c.t.logf("network: conn %d %v: ACK %d", c.id, d, binary.LittleEndian.Uint64(e.Bytes))
		}
	case wire.ElemHeader:
		st.curTid = e.Header.Tid
		st.addBounds(e.Msg.Bounds())
		st.prune()
		return
	case wire.ElemFooter:
		c.protectMessage(d, &e.Msg)
		if len(st.msgs) == maxWrittenMsgs {
			st.msgs = append(st.msgs[:0], st.msgs[1:]...)
		}
		st.msgs = append(st.msgs, writtenMsg{l: e.Msg, tid: st.curTid})
	}
	st.addBound(e.End())
	st.prune()
}

// reply tells the client's walker the server's reply, and notes whether it made the session
// lossy.
func (c *connTrack) reply(e *wire.Element) {
	client := &c.s[simnet.ClientToServer].w
	client.PeerReply(e.Tag)
	client.SetPeerFeatures(e.Reply.Features)
	c.lossy = e.Reply.Flags&wire.ConnectLossy != 0
	c.signed = c.cephx && c.feat&e.Reply.Features&wire.FeatureMsgAuth != 0
	c.t.wrote(&c.s[simnet.ServerToClient], true, e.Tag, e.End())
}

// tag counts a session frame tag written on direction d (ending at end) and checks that no
// ACK is sent on a lossy session.
func (c *connTrack) tag(d simnet.Dir, tag wire.Tag, end uint64) {
	if tag.IsFrame() {
		c.t.wrote(&c.s[d], false, tag, end)
	}
	if tag != wire.TagAck {
		return
	}
	if c.t.cov != nil {
		c.t.cov.Evaluated(check.InvLossyAck, 1)
	}
	if c.lossy && c.t.violation != nil {
		c.t.violation(check.InvLossyAck, fmt.Sprintf("conn %d: %v sent an ACK on a lossy session", c.id, d))
	}
}

// addBound inserts a boundary offset, keeping the list sorted (new ones are near the end).
func (st *streamTrack) addBound(x uint64) {
	st.bounds = append(st.bounds, x)
	for i := len(st.bounds) - 1; i > 0 && st.bounds[i-1] > x; i-- {
		st.bounds[i-1], st.bounds[i] = st.bounds[i], st.bounds[i-1]
	}
}

// addBounds inserts a message's boundaries (ascending): appended at once when they all come
// after the list's last one (the usual case: they follow what the stream wrote before).
// Bounds is nondecreasing, so the list is what inserting them one by one makes.
func (st *streamTrack) addBounds(bs [8]uint64) {
	if n := len(st.bounds); n == 0 || st.bounds[n-1] <= bs[0] {
		st.bounds = append(st.bounds, bs[:]...)
		return
	}
	for _, b := range bs {
		st.addBound(b)
	}
}

// prune keeps the boundary and protected lists short: only what is not yet delivered matters.
func (st *streamTrack) prune() {
	if len(st.bounds) > maxBounds {
		st.bounds = append(st.bounds[:0], st.bounds[len(st.bounds)-maxBounds/2:]...)
	}
	if len(st.protected) > maxSpans {
		st.protected = append(st.protected[:0], st.protected[len(st.protected)-maxSpans/2:]...)
	}
}

// protectMessage records the crc-protected bytes of the message just finished: the header and
// sections, the footer's three crcs and its flags (not the signature, unchecked with auth none).
func (c *connTrack) protectMessage(d simnet.Dir, l *wire.MessageLayout) {
	st := &c.s[d]
	for _, sp := range l.Protected() {
		st.protected = append(st.protected, span{sp.Start, sp.End})
	}
}

// tamperArmed tampers with the first message of stream s whose front and crcs are all at or
// after off, the stream's first undelivered byte.
func (t *frameTracker) tamperArmed(s simnet.StreamID, c *connTrack, off uint64) {
	for _, m := range c.s[s.Dir].msgs {
		if m.l.Header+wire.HeaderLen >= off && m.l.FrontEnd > m.l.Header+wire.HeaderLen {
			if t.tamper(s, m) {
				t.armed--
			}
			return
		}
	}
}

// tamperTarget picks a message written in full whose front (not empty) and footer crcs are
// all still undelivered, on a signed connection (a cephx authorizer, MSG_AUTH on both sides:
// without it Ceph's cephx neither signs nor checks) unless anyConn is true.
func (t *frameTracker) tamperTarget(anyConn bool) (simnet.StreamID, writtenMsg, bool) {
	for tries := 0; tries < 8 && t.lastConn > 0; tries++ {
		id := 1 + t.rand.Uint64N(t.lastConn)
		c := t.conns[id]
		if c == nil || !(anyConn || c.signed) { // anyConn: the run has no auth, every session is fair game
			continue
		}
		dir := simnet.Dir(t.rand.IntN(2))
		st := &c.s[dir]
		var cands []writtenMsg
		for _, m := range st.msgs {
			if m.l.Header+wire.HeaderLen >= st.delivered && m.l.FrontEnd > m.l.Header+wire.HeaderLen {
				cands = append(cands, m)
			}
		}
		if len(cands) > 0 {
			return simnet.StreamID{Conn: id, Dir: dir}, cands[t.rand.IntN(len(cands))], true
		}
	}
	return simnet.StreamID{}, writtenMsg{}, false
}
