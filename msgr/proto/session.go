package proto

import (
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// maxBatchBytes bounds one output batch so a long queue does not monopolise a writer.
const maxBatchBytes = 4 << 20

// canWrite reports whether frames may be written (Ceph's can_write == CANWRITE).
func (c *Conn) canWrite() bool { return c.state.open() }

// canSend reports whether fillOutput would produce frames.
func (c *Conn) canSend() bool {
	return c.canWrite() && (c.keepalive || c.kaAckDue || c.queue.len() > 0 || (c.ackLeft > 0 && c.sendsAcks()))
}

// fillOutput appends the frames due, in Ceph's order: keepalive, keepalive acks, queued
// messages (requeued first, then by priority), then an ACK for what we received.
func (c *Conn) fillOutput() {
	if !c.canWrite() {
		return
	}
	if c.keepalive {
		c.keepalive = false
		c.writeKeepalive()
	}
	if c.kaAckDue {
		c.kaAckDue = false
		b := c.out.reserve(1 + wire.TimespecLen)
		b[0] = byte(wire.TagKeepalive2Ack)
		c.kaAck.Encode(b[1:])
	}
	for c.out.bytes < maxBatchBytes && c.queue.n > 0 {
		// The messages of the next queue in order (what pop would return one by one), written
		// from its slice and dropped from it together: writeMessage does not touch the queue.
		f := c.queue.first()
		live := f.live()
		k := 0
		for k < len(live) && c.out.bytes < maxBatchBytes {
			c.writeMessage(live[k])
			k++
		}
		if !c.policy.Lossy { // a lossless session keeps them until acknowledged
			if k == 1 {
				c.sent.push(live[0]) // (pushAll is a call, push inlined)
			} else {
				c.sent.pushAll(live[:k])
			}
		}
		f.drop(k)
		c.queue.n -= k
	}
	if c.ackLeft > 0 && c.sendsAcks() {
		c.writeAck()
	}
}

// writeAck writes an ACK frame of what we received.
func (c *Conn) writeAck() {
	c.ackLeft = 0
	b := c.out.reserve(1 + wire.SeqLen)
	b[0] = byte(wire.TagAck)
	wire.PutSeq(b[1:], c.ackSeq())
}

// ackLegacyOpen: a session opened without the SEQ exchange (the peer or we lack
// RECONNECT_SEQ) acknowledges what it already received before anything else (quirk Q14).
// The peer resends every message it holds unacknowledged, and our ACK would otherwise come
// after our own resends; a session that faults before the peer reads that far (socket
// failures) leaves the peer holding them all again, and every next session resends the same
// ones, never reaching the new messages behind them.
func (c *Conn) ackLegacyOpen() {
	if c.inSeq > 0 && c.features&wire.FeatureReconnectSeq == 0 && c.sendsAcks() {
		c.writeAck()
	}
}

// sendsAcks reports whether the session acknowledges what it receives: lossy sessions never do.
func (c *Conn) sendsAcks() bool {
	if canaryLossyAck() {
		return true
	}
	return !c.policy.Lossy
}

// ackSeq is the sequence number an ACK frame carries: the last message received.
func (c *Conn) ackSeq() uint64 {
	if canaryOverAck() {
		return c.inSeq + 1
	}
	return c.inSeq
}

func (c *Conn) writeKeepalive() {
	if c.features&wire.FeatureMsgrKeepalive2 == 0 {
		c.out.reserve(1)[0] = byte(wire.TagKeepalive)
		return
	}
	b := c.out.reserve(1 + wire.TimespecLen)
	b[0] = byte(wire.TagKeepalive2)
	wire.TimespecOf(c.host.Wall()).Encode(b[1:])
}

// smallSection is the size up to which a section is copied into the arena rather than
// written from its own buffer (fewer iovecs for small messages).
const smallSection = 256

// writeMessage encodes m as a MSG frame: its seq is assigned now (Ceph: at write time). A
// lossless session keeps it until acknowledged (fillOutput adds the run it wrote to the sent
// list).
func (c *Conn) writeMessage(m *wire.Message) {
	h := &m.Header
	c.outSeq++
	h.Seq = c.outSeq
	h.Src = c.cfg.MyName
	h.FrontLen, h.MiddleLen, h.DataLen = uint32(len(m.Front)), uint32(len(m.Middle)), uint32(len(m.Data))
	if h.CompatVersion == 0 {
		h.CompatVersion = h.Version
	}
	chunked := c.chunksData(m)
	if !chunked && m.Footer.Flags&wire.FooterComplete == 0 {
		m.SealFooter(c.cfg.CRCHeader, c.cfg.CRCData)
	}
	old := wire.OldFooterFor(c.features)
	if nf, nm, nd := len(m.Front), len(m.Middle), len(m.Data); !chunked &&
		nf <= smallSection && nm <= smallSection && nd <= smallSection {
		// Every section is copied: one reserve for the tag, header, sections and footer.
		b := c.out.reserve(1 + wire.HeaderLen + nf + nm + nd + wire.FooterSize(!old))
		b[0] = byte(wire.TagMsg)
		h.Encode(b[1:], c.cfg.CRCHeader)
		p := b[1+wire.HeaderLen:]
		if nf+nm+nd > 0 {
			copy(p, m.Front)
			copy(p[nf:], m.Middle)
			copy(p[nf+nm:], m.Data)
		}
		c.sign(m)
		m.Footer.Encode(p[nf+nm+nd:], old)
	} else if nf <= smallSection && nm <= smallSection && !chunked {
		// The data is written from its own buffer, between the arena's tag, header, front
		// and middle (most messages have neither), and its footer. (The tag-and-header lines
		// repeat in the branch below on purpose: a shared helper is not inlined and cost 24
		// instructions per 4 KiB message on this, the common path.)
		b, foot := c.out.reserveAround(1+wire.HeaderLen+nf+nm, m.Data, wire.FooterSize(!old))
		b[0] = byte(wire.TagMsg)
		h.Encode(b[1:], c.cfg.CRCHeader)
		if nf+nm > 0 {
			p := b[1+wire.HeaderLen:]
			copy(p, m.Front)
			copy(p[nf:], m.Middle)
		}
		c.sign(m)
		m.Footer.Encode(foot, old)
	} else if nf <= smallSection && nm <= smallSection {
		// As above, with the data's crc computed as its chunks are handed out.
		b := c.out.reserve(1 + wire.HeaderLen + nf + nm)
		b[0] = byte(wire.TagMsg)
		h.Encode(b[1:], c.cfg.CRCHeader)
		if nf+nm > 0 {
			p := b[1+wire.HeaderLen:]
			copy(p, m.Front)
			copy(p[nf:], m.Middle)
		}
		c.writeDataChunks(m, old)
	} else {
		b := c.out.reserve(1 + wire.HeaderLen)
		b[0] = byte(wire.TagMsg)
		h.Encode(b[1:], c.cfg.CRCHeader)
		c.writeSection(m.Front)
		c.writeSection(m.Middle)
		if chunked {
			c.writeDataChunks(m, old)
		} else {
			c.writeSection(m.Data)
			c.sign(m)
			m.Footer.Encode(c.out.reserve(wire.FooterSize(!old)), old)
		}
	}
	c.written++ // read by the host with TakeWritten (was an Observer upcall per message)
	if c.policy.Lossy && c.drops != nil && !chunked {
		c.drops.Dropped(m) // a lossy session forgets what it wrote
	}
}

// chunksData reports whether m's data crc is computed chunk by chunk as Output hands the
// data out (Config.WriteChunk): a long data section whose crc is due and not yet known. A
// message whose footer is complete (resent after a reconnect, once its crcs were computed)
// keeps its crcs.
func (c *Conn) chunksData(m *wire.Message) bool {
	return c.cfg.WriteChunk > 0 && len(m.Data) > c.cfg.WriteChunk && c.cfg.CRCData &&
		m.Footer.Flags&wire.FooterComplete == 0
}

// writeDataChunks queues m's data section as chunks of WriteChunk bytes, and room for its
// footer, which sumDataChunks fills (and the session signs) once the last chunk is summed.
// Until then m's footer stays incomplete, so a message requeued by a fault before that point
// is summed again from its first byte when it is resent.
func (c *Conn) writeDataChunks(m *wire.Message, old bool) {
	at := len(c.out.iov)
	for off, k := 0, c.cfg.WriteChunk; off < len(m.Data); off += k {
		c.out.appendRef(m.Data[off:min(off+k, len(m.Data))])
	}
	foot := c.out.reserve(wire.FooterSize(!old))
	c.out.sums = append(c.out.sums, dataSum{m: m, at: at, footer: foot, old: old})
}

// sumDataChunks computes the data crc of the chunks Output is about to hand out: while less
// than a chunk is ready to be written ahead of the first chunk not yet summed, that chunk is
// summed and released, and a message whose last chunk was summed gets its footer (and
// signature). Each chunk is summed once, whole, before any of its bytes is handed out, so a
// short write does not change what was summed.
func (c *Conn) sumDataChunks() {
	o := &c.out
	for o.nsum < len(o.sums) {
		s := &o.sums[o.nsum]
		if o.ready(s.at) >= c.cfg.WriteChunk {
			return
		}
		p := s.m.Data[s.off:]
		p = p[:min(len(p), c.cfg.WriteChunk)]
		s.crc = wire.CRC32C(s.crc, p)
		s.off += len(p)
		s.at++
		if s.off < len(s.m.Data) {
			continue
		}
		m := s.m
		m.SealFooterSum(c.cfg.CRCHeader, true, s.crc)
		c.sign(m)
		m.Footer.Encode(s.footer, s.old)
		o.sums[o.nsum] = dataSum{}
		o.nsum++
		if c.policy.Lossy && c.drops != nil {
			// A lossy session forgets what it wrote, but not before its last chunk was summed
			// and its footer encoded: the host may reuse the message once told (Dropper).
			c.drops.Dropped(m)
		}
	}
	o.sums, o.nsum = o.sums[:0], 0
}

// resetOut empties the output. The messages of a lossy session whose data chunks were not
// all summed yet were kept from the Dropper until their footer was encoded (writeMessage,
// sumDataChunks); they will never be, and are dropped now.
func (c *Conn) resetOut() {
	if c.policy.Lossy && c.drops != nil {
		for _, s := range c.out.sums[c.out.nsum:] {
			c.drops.Dropped(s.m)
		}
	}
	c.out.reset()
}

func (c *Conn) writeSection(p []byte) {
	if len(p) <= smallSection {
		c.out.appendCopy(p)
		return
	}
	c.out.appendRef(p)
}

// handleAck trims the sent list up to seq (Ceph trims at most 128 per event; trimming all is
// equivalent and bounded by the list).
func (c *Conn) handleAck(seq uint64) {
	live := c.sent.live()
	n := 0
	for n < len(live) && live[n].Header.Seq <= seq {
		n++
	}
	if n == 0 {
		return
	}
	if c.acks != nil {
		c.acks.Acked(live[:n]) // one call per acknowledgement, not per message
	}
	c.sent.drop(n)
}

// requeueSent moves unacknowledged messages back in front of the queue (a fault: they will be
// resent on the next socket) and rewinds out_seq accordingly.
func (c *Conn) requeueSent() {
	if c.sent.len() == 0 {
		return
	}
	c.outSeq -= uint64(c.sent.len())
	if !canaryNoRequeue() {
		c.queue.requeue(c.sent.live())
	}
	c.sent.clear()
}

// discardRequeuedUpTo drops requeued messages the peer reports received (its in_seq, from the
// SEQ exchange) and returns the new out_seq (Ceph's discard_requeued_up_to).
func (c *Conn) discardRequeuedUpTo(acked uint64) uint64 {
	if c.queue.requeued.len() == 0 || canaryNoDiscard() {
		// Nothing is pending retransmission: numbering continues from what the peer has.
		return acked
	}
	dropped := c.queue.discardRequeuedUpTo(acked, c.acks)
	if dropped > 0 {
		c.reached(ProbeSeqDiscard)
	}
	return c.outSeq + uint64(dropped)
}

// discardOut drops every queued, requeued and sent message (telling the host's Dropper of
// each).
func (c *Conn) discardOut() {
	if c.drops != nil && !canaryNoDropReport() {
		c.queue.each(c.drops.Dropped)
		c.sent.each(c.drops.Dropped)
	}
	c.queue.clear()
	c.sent.clear()
	c.keepalive = false
	c.kaAckDue = false
}

// sessionReset forgets the session (Ceph's session_reset): queues are discarded, undispatched
// input too, dispatchers hear of a remote reset, and sequence numbers restart (out_seq from a
// random value when MSG_AUTH was negotiated).
func (c *Conn) sessionReset() {
	c.host.DiscardIncoming()
	c.discardOut()
	c.outSeq = 0
	if c.features&wire.FeatureMsgAuth != 0 {
		c.outSeq = uint64(c.host.Rand().Uint32() & 0x7fffffff)
	}
	c.inSeq, c.connectSeq, c.ackLeft = 0, 0, 0
	c.onceReady = false
	c.host.Event(EventRemoteReset)
}

// SessionReset is sessionReset for the messenger (an existing session being replaced after a
// peer reset, §3.2 rules 8d and 8e).
func (c *Conn) SessionReset() { c.sessionReset() }
