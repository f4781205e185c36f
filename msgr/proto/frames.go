package proto

import (
	"fmt"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The read loop of an open session (msgr1-protocol.md §4.1, §4.4).

// rxMessage is the message being received and the throttle units it holds.
type rxMessage struct {
	msg     *wire.Message
	res     Reservation
	section int       // 0 front, 1 middle, 2 data
	sums    [3]uint32 // crc32c of each section, computed as it arrives
}

func (c *Conn) handleTag(data []byte) error {
	switch tag := wire.Tag(data[0]); tag {
	case wire.TagMsg:
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

func (c *Conn) handleHeader(data []byte) error {
	h, err := wire.DecodeHeader(data, c.cfg.CRCHeader)
	if err != nil {
		return fmt.Errorf("message header: %w", err)
	}
	if err := c.cfg.Limits.CheckHeader(&h); err != nil {
		return fmt.Errorf("message header seq %d type %d: %w", h.Seq, h.Type, err)
	}
	c.rx = rxMessage{msg: c.newMessage(&h)}
	c.setState(StateThrottleMessage)
	c.throttle()
	return nil
}

// throttle takes the three throttles in order, parking the connection (with a 1 ms retry
// timer) at the first one that is full (Ceph's THROTTLE_* states, PR #3913).
func (c *Conn) throttle() {
	n := int64(c.rx.msg.Header.PayloadLen())
	if c.state == StateThrottleMessage {
		if !c.tryThrottle(c.throttles.Messages, 1, &c.rx.res.Messages) {
			return
		}
		c.setState(StateThrottleBytes)
	}
	if c.state == StateThrottleBytes {
		if !c.tryThrottle(c.throttles.Bytes, n, &c.rx.res.Bytes) {
			return
		}
		c.setState(StateThrottleDispatchQueue)
	}
	if c.state == StateThrottleDispatchQueue {
		if !c.tryThrottle(c.throttles.Dispatch, n, &c.rx.res.Dispatch) {
			return
		}
	}
	c.readPaused, c.throttleAt = false, 0
	c.setState(StateReadMessageFront)
	c.nextSection()
}

func (c *Conn) tryThrottle(t Throttle, n int64, held *int64) bool {
	if t == nil || n == 0 || t.TryGet(n) {
		if t != nil {
			*held = n
		}
		return true
	}
	if !c.readPaused {
		if c.obs != nil {
			c.obs.Throttled(c.state)
		}
		c.reached(throttleProbe(c.state))
	}
	c.readPaused = true
	c.throttleAt = c.host.Now() + throttleRetry
	return false
}

// nextSection reads the next non-empty payload section, then the footer.
func (c *Conn) nextSection() {
	h := &c.rx.msg.Header
	for c.rx.section < 3 {
		i := c.rx.section
		n := [3]uint32{h.FrontLen, h.MiddleLen, h.DataLen}[i]
		if n > 0 {
			c.expectSection(c.sectionBuf(i, int(n)), c.sectionSum(i), (*Conn).handleSection)
			return
		}
		c.rx.section++
	}
	c.setState(StateReadFooterAndDispatch)
	c.expect(wire.FooterSize(!wire.OldFooterFor(c.features)), (*Conn).handleFooter)
}

// sectionSum is where the running crc of section i goes, or nil when it will not be checked.
func (c *Conn) sectionSum(i int) *uint32 {
	if (i < 2 && !c.cfg.CRCHeader) || (i == 2 && !c.cfg.CRCData) {
		return nil
	}
	return &c.rx.sums[i]
}

// newMessage returns the message to receive a frame with header h into: the host's (whose
// section slices may carry reusable capacity) or a new one. Sections the header says are
// empty are nil, as in a message that was never recycled.
func (c *Conn) newMessage(h *wire.Header) *wire.Message {
	if c.bufs == nil {
		return &wire.Message{Header: *h}
	}
	m := c.bufs.NewMessage()
	m.Header = *h
	if h.FrontLen == 0 {
		m.Front = nil
	}
	if h.MiddleLen == 0 {
		m.Middle = nil
	}
	if h.DataLen == 0 {
		m.Data = nil
	}
	return m
}

// sectionBuf returns n bytes to read section i of the message being received into: the
// spare capacity a recycled message carries when it fits (and is not far too large), or a
// buffer from the host (Buffers.SectionBuffer), or a new one.
func (c *Conn) sectionBuf(i, n int) []byte {
	m := c.rx.msg
	old := [3][]byte{m.Front, m.Middle, m.Data}[i]
	if cap(old) >= n && cap(old) <= 2*n+64<<10 {
		return old[:n]
	}
	if c.bufs != nil {
		return c.bufs.SectionBuffer(n)
	}
	return make([]byte, n)
}

func (c *Conn) handleSection(data []byte) error {
	m := c.rx.msg
	switch c.rx.section {
	case 0:
		m.Front = data
	case 1:
		m.Middle = data
	default:
		m.Data = data
	}
	c.rx.section++
	c.nextSection()
	return nil
}

func (c *Conn) handleFooter(data []byte) error {
	m := c.rx.msg
	f, _ := wire.DecodeFooter(data, wire.OldFooterFor(c.features))
	m.Footer = f
	if err := m.VerifyFooterSums(c.rx.sums, c.cfg.CRCHeader, c.cfg.CRCData); err != nil {
		return fmt.Errorf("message seq %d type %d: %w", m.Header.Seq, m.Header.Type, err)
	}
	if err := c.checkSignature(m); err != nil {
		return err // releaseRx (in fault) returns the throttle units
	}
	seq := m.Header.Seq
	res := c.rx.res
	c.rx = rxMessage{}
	if seq <= c.socketSeq {
		// A sender numbers messages as it writes them, so on one socket seqs only grow: a
		// peer going backwards is broken or hostile. (Ceph drops it as old, quirk Q3.)
		c.throttles.Release(res)
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
		c.throttles.Release(res)
		if c.sendsAcks() {
			c.ackLeft++
		}
		return nil
	}
	c.inSeq = seq
	if c.sendsAcks() {
		c.ackLeft++
	}
	res.From = c.throttles
	c.host.Deliver(m, res)
	return nil
}

// releaseRx returns the throttle units of a partially received message.
func (c *Conn) releaseRx() {
	if c.rx.msg != nil {
		c.throttles.Release(c.rx.res)
	}
	c.rx = rxMessage{}
	c.readPaused, c.throttleAt = false, 0
}
