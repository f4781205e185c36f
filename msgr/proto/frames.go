package proto

import (
	"fmt"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The read loop of an open session (msgr1-protocol.md §4.1, §4.4).

// rxMessage is the message being received and the throttle units it holds.
type rxMessage struct {
	msg     *wire.Message
	res     Reservation // units counted here; From is always the Conn's throttles (see setThrottles)
	section int         // 0 front, 1 middle, 2 data
	sums    [3]uint32   // crc32c of each section, computed as it arrives
}

// start begins receiving into m (nil: nothing is being received), field by field: a
// whole-struct store of the heap-allocated Conn goes through a bulk write barrier while the
// garbage collector marks (see need).
func (rx *rxMessage) start(m *wire.Message) {
	rx.msg, rx.section = m, 0
	rx.sums[0], rx.sums[1], rx.sums[2] = 0, 0, 0 // not [3]uint32{}: that went through the stack
	rx.res.Messages, rx.res.Bytes, rx.res.Dispatch = 0, 0, 0
}

func (c *Conn) handleTag(data []byte) error {
	switch tag := wire.Tag(data[0]); tag {
	case wire.TagMsg:
		for c.in.buffered() >= wire.HeaderLen {
			// The header is in the prefetch buffer: handled now, as process's next round
			// would (a direct call instead of a round of the loop).
			if err := c.handleHeader(c.in.take(wire.HeaderLen)); err != nil {
				return err
			}
			if !c.nextMsgBuffered() {
				return nil
			}
			c.need.then = nil // consumed, as in process
			c.in.r++          // the next message's tag
		}
		c.expect(wire.HeaderLen, (*Conn).handleHeader)
	case wire.TagAck:
		c.expect(wire.SeqLen, (*Conn).handleAckFrame)
	case wire.TagKeepalive:
		// Ceph's quirk Q1 (not re-arming the read after a bare KEEPALIVE) is not copied.
		c.expect(1, (*Conn).handleTag)
	case wire.TagKeepalive2:
		c.expect(wire.TimespecLen, (*Conn).handleKeepalive2)
	case wire.TagKeepalive2Ack:
		c.expect(wire.TimespecLen, (*Conn).handleKeepalive2Ack)
	case wire.TagClose:
		// Ceph stops without telling its dispatchers (quirk Q2); here they hear of a reset.
		c.stopWithReset()
	default:
		return fmt.Errorf("%w: %v in state %v", wire.ErrBadTag, tag, c.state)
	}
	return nil
}

// nextMsgBuffered reports whether what process would do next is to call handleTag with the
// tag of a message whose header is in the prefetch buffer too: the message just handled was
// received whole (its footer set the need of a tag: the only 1-byte need there is) and the
// reader is not paused.
func (c *Conn) nextMsgBuffered() bool {
	nd := &c.need
	return nd.n == 1 && nd.then != nil && nd.dst == nil && nd.filled == 0 && !c.readPaused &&
		c.in.buffered() > wire.HeaderLen && wire.Tag(c.in.buf[c.in.r]) == wire.TagMsg
}

func (c *Conn) handleAckFrame(data []byte) error {
	seq, _ := wire.DecodeSeq(data)
	c.handleAck(seq)
	c.expect(1, (*Conn).handleTag)
	return nil
}

func (c *Conn) handleKeepalive2(data []byte) error {
	c.kaAck, _ = wire.DecodeTimespec(data)
	c.kaAckDue = true
	c.expect(1, (*Conn).handleTag)
	return nil
}

func (c *Conn) handleKeepalive2Ack(data []byte) error {
	c.lastKeepaliveAck, _ = wire.DecodeTimespec(data)
	c.expect(1, (*Conn).handleTag)
	return nil
}

// handleHeader decodes the header from the read buffer straight into the message that will
// receive the frame (no intermediate wire.Header), and checks its crc and lengths there. A
// message taken for a header that fails is left to the garbage collector. Its sections get
// their buffers only when they are read (sectionBuf), after the throttles.
//
// On a session with only the dispatch throttle and no state watcher (the messenger's, in
// production), a data-only message whose data and footer lie whole in the prefetch buffer
// (most small messages of a stream) is received here to the end: what nextSection and
// handleFooter would do, with the same checks, errors and state stores (a fault reports the
// state), without the calls between them. Messages that arrive in pieces or have a front or
// middle section take the general path; TestWholeMessageMatchesPieces compares the two.
func (c *Conn) handleHeader(data []byte) error {
	m := c.newMessage()
	h := &m.Header
	if err := h.Decode(data, c.cfg.CRCHeader); err != nil {
		return fmt.Errorf("message header: %w", err)
	}
	if l := &c.cfg.Limits; h.FrontLen > l.MaxFrontLen || h.MiddleLen > l.MaxMiddleLen ||
		h.DataLen > l.MaxDataLen || h.PayloadLen() > uint64(l.MaxMessageLen) {
		// Over a limit (setDefaults filled them in): CheckHeader says which.
		if err := l.CheckHeader(h); err != nil {
			return fmt.Errorf("message header seq %d type %d: %w", h.Seq, h.Type, err)
		}
	}
	c.rx.start(m)
	if c.dispatchOnly {
		// No policy throttles (the messenger's dispatch throttle is the only one), and no
		// one watches the states: the two that would pass at once are skipped, and the
		// dispatch throttle is taken here, as throttle would.
		c.state = StateThrottleDispatchQueue // where a full throttle parks (and Tick retries)
		if t, n := c.throttles.Dispatch, int64(h.PayloadLen()); t != nil && n != 0 {
			// tryThrottle with takeThrottle written out (one call less per message)
			if !t.TryGet(n) {
				c.throttleFull()
				return nil
			}
			c.rx.res.Dispatch = n
		}
		c.readPaused, c.throttleAt = false, 0
		c.state = StateReadMessageFront
		if d, f := int(h.DataLen), wire.FooterSize(!wire.OldFooterFor(c.features)); h.FrontLen|h.MiddleLen == 0 &&
			c.in.buffered() >= d+f {
			// The whole message is buffered: nextSection's and handleFooter's work, inline.
			if d > 0 {
				buf := c.sectionBuf(d)
				copy(buf, c.in.take(d))
				if c.cfg.CRCData {
					c.rx.sums[2] = wire.CRC32C(0, buf)
				}
				m.Data = buf
			}
			c.state = StateReadFooterAndDispatch
			return c.handleFooter(c.in.take(f))
		}
	} else {
		c.setState(StateThrottleMessage)
		if !c.throttle() {
			return nil
		}
	}
	return c.nextSection(true)
}

// throttle takes the three throttles in order, parking the connection (with a 1 ms retry
// timer) at the first one that is full (Ceph's THROTTLE_* states, PR #3913). It reports
// whether the message was admitted: its sections are read next (nextSection).
func (c *Conn) throttle() bool {
	n := int64(c.rx.msg.Header.PayloadLen())
	if c.state == StateThrottleMessage {
		if !c.tryThrottle(c.throttles.Messages, 1, &c.rx.res.Messages) {
			return false
		}
		c.setState(StateThrottleBytes)
	}
	if c.state == StateThrottleBytes {
		if !c.tryThrottle(c.throttles.Bytes, n, &c.rx.res.Bytes) {
			return false
		}
		c.setState(StateThrottleDispatchQueue)
	}
	if c.state == StateThrottleDispatchQueue {
		if !c.tryThrottle(c.throttles.Dispatch, n, &c.rx.res.Dispatch) {
			return false
		}
	}
	c.readPaused, c.throttleAt = false, 0
	c.setState(StateReadMessageFront)
	return true
}

func (c *Conn) tryThrottle(t Throttle, n int64, held *int64) bool {
	if t == nil || n == 0 {
		return true // no such throttle, or nothing to take (held stays 0): inlined, a check
	}
	return c.takeThrottle(t, n, held)
}

// takeThrottle is tryThrottle with a throttle.
//
//go:noinline
func (c *Conn) takeThrottle(t Throttle, n int64, held *int64) bool {
	if n == 0 || t.TryGet(n) {
		*held = n
		return true
	}
	c.throttleFull()
	return false
}

// throttleFull parks the connection at a full throttle, retrying in throttleRetry.
func (c *Conn) throttleFull() {
	if !c.readPaused {
		if c.obs != nil {
			c.obs.Throttled(c.state)
		}
		c.reached(throttleProbe(c.state))
	}
	c.readPaused = true
	c.throttleAt = c.host.Now() + throttleRetry
}

// nextSection reads the next non-empty payload section, then the footer. A handler (now set:
// called from process, whose need it consumed) has the footer handled right away when it
// lies whole in the prefetch buffer, as process's next round would: a message whose sections
// need no copy is handled in one round of process.
func (c *Conn) nextSection(now bool) error {
	h := &c.rx.msg.Header
	if c.rx.section == 0 {
		if h.FrontLen > 0 && c.readSection(0, h.FrontLen, now) {
			return nil
		}
		c.rx.section = 1
	}
	if c.rx.section == 1 {
		if h.MiddleLen > 0 && c.readSection(1, h.MiddleLen, now) {
			return nil
		}
		c.rx.section = 2
	}
	if c.rx.section == 2 {
		if n := int(h.DataLen); n > 0 && now && c.in.buffered() >= n {
			// readSection's common case written out (most messages are data only, and a
			// data section usually lies whole in the buffer): one call less per message.
			buf := c.sectionBuf(n)
			copy(buf, c.in.take(n))
			if c.cfg.CRCData {
				c.rx.sums[2] = wire.CRC32C(0, buf)
			}
			c.rx.msg.Data = buf
		} else if n > 0 && c.readSection(2, h.DataLen, now) {
			return nil
		}
		c.rx.section = 3
	}
	c.setState(StateReadFooterAndDispatch)
	n := wire.FooterSize(!wire.OldFooterFor(c.features))
	if now && c.in.buffered() >= n {
		return c.handleFooter(c.in.take(n))
	}
	c.expect(n, (*Conn).handleFooter)
	return nil
}

// readSection reads section i (0 front, 1 middle, 2 data) of n bytes, and reports whether it
// set a need for it (handleSection then takes it). For a handler (now) a section that lies
// whole in the prefetch buffer is copied out and summed right away instead, as process's
// next round (fill, then handleSection) would.
func (c *Conn) readSection(i int, n uint32, now bool) bool {
	buf, sum := c.sectionBuf(int(n)), c.sectionSum(i)
	if !now || c.in.buffered() < int(n) {
		c.expectSection(buf, sum, (*Conn).handleSection)
		return true
	}
	copy(buf, c.in.take(int(n)))
	if sum != nil {
		*sum = wire.CRC32C(0, buf)
	}
	c.setSection(i, buf)
	return false
}

// sectionSum is where the running crc of section i goes, or nil when it will not be checked.
func (c *Conn) sectionSum(i int) *uint32 {
	if (i < 2 && !c.cfg.CRCHeader) || (i == 2 && !c.cfg.CRCData) {
		return nil
	}
	return &c.rx.sums[i]
}

// newMessage returns the message to receive a frame into: the host's (recycled) or a new
// one, without sections.
func (c *Conn) newMessage() *wire.Message {
	if c.bufs == nil {
		return &wire.Message{}
	}
	return c.bufs.NewMessage()
}

// sectionBuf returns n bytes to read section i of the message being received into: the
// host's (recycled memory) or a new buffer. It is called when the section's first byte is
// expected, after the throttles admitted the message.
func (c *Conn) sectionBuf(n int) []byte {
	if c.bufs == nil {
		return make([]byte, n)
	}
	return c.bufs.SectionBuffer(n)
}

func (c *Conn) handleSection(data []byte) error {
	c.setSection(c.rx.section, data)
	c.rx.section++
	return c.nextSection(true)
}

// setSection makes data section i of the message being received.
func (c *Conn) setSection(i int, data []byte) {
	m := c.rx.msg
	switch i {
	case 0:
		m.Front = data
	case 1:
		m.Middle = data
	default:
		m.Data = data
	}
}

// handleFooter checks the footer of the message being received against the sums of its
// sections, and delivers it (or drops it as old).
func (c *Conn) handleFooter(data []byte) error {
	m := c.rx.msg
	if err := m.DecodeFooterSums(data, wire.OldFooterFor(c.features), &c.rx.sums, c.cfg.CRCHeader, c.cfg.CRCData); err != nil {
		return fmt.Errorf("message seq %d type %d: %w", m.Header.Seq, m.Header.Type, err)
	}
	if err := c.checkSignature(m); err != nil {
		return err // releaseRx (in fault) returns the throttle units
	}
	seq := m.Header.Seq
	res := &c.rx.res // handed to the host in place (From is c.throttles: setThrottles); start resets the units for the next message
	c.rx.msg = nil   // received (releaseRx has nothing to return)
	if seq <= c.socketSeq {
		// A sender numbers messages as it writes them, so on one socket seqs only grow: a
		// peer going backwards is broken or hostile. (Ceph drops it as old, quirk Q3.)
		c.throttles.put(res)
		return fmt.Errorf("%w: seq %d after seq %d on this socket", ErrSeqRegression, seq, c.socketSeq)
	}
	c.socketSeq = seq
	c.setState(StateOpened)
	c.expect(1, (*Conn).handleTag)
	if seq <= c.inSeq {
		// An old message (already received on a previous socket, resent across a reconnect):
		// drop it and keep reading. Ceph stops reading here (quirk Q3) and leaks the throttle
		// reservation. It is acknowledged (our in_seq covers it): the sender holds it until
		// an ACK does, and may have nothing new for us to acknowledge otherwise (quirk Q14).
		c.reached(ProbeOldMessage)
		c.throttles.put(res)
		if c.sendsAcks() {
			c.ackLeft++
		}
		return nil
	}
	c.inSeq = seq
	if c.sendsAcks() {
		c.ackLeft++
	}
	c.host.Deliver(m, res)
	return nil
}

// releaseRx returns the throttle units of a partially received message.
func (c *Conn) releaseRx() {
	if c.rx.msg != nil {
		c.throttles.Release(c.rx.res)
	}
	c.rx = rxMessage{}
	c.rx.res.From = c.throttles // (see setThrottles)
	c.readPaused, c.throttleAt = false, 0
}
