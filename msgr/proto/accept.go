package proto

import (
	"fmt"
	"net/netip"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The acceptor side of the handshake (msgr1-protocol.md §1.2, §3.2, §3.5).

func (c *Conn) startAccept() {
	c.setState(StateStartAccept)
	c.readyDeadline = c.host.Now() + c.cfg.ReadyTimeout
	b := c.out.reserve(wire.ServerGreetingLen)
	copy(b, wire.Banner)
	c.host.MyAddr().EncodeLegacy(b[wire.BannerLen:])
	c.sockPeer.EncodeLegacy(b[wire.BannerLen+wire.AddrLen:])
	c.setState(StateAccepting)
	c.expect(wire.BannerLen, (*Conn).handleClientBanner)
}

// handleClientBanner checks the banner as soon as its 9 bytes are in: a peer that is not msgr1
// is dropped at once (Ceph waits for 145 bytes first).
func (c *Conn) handleClientBanner(data []byte) error {
	if string(data) != wire.Banner {
		return fmt.Errorf("client greeting: %w: %q", wire.ErrBadBanner, data)
	}
	c.expect(wire.AddrLen, (*Conn).handleClientAddr)
	return nil
}

// handleClientAddr records the address the connector announces, filling a blank IP from the
// socket.
func (c *Conn) handleClientAddr(data []byte) error {
	a, err := wire.DecodeLegacyAddr(data)
	if err != nil {
		return fmt.Errorf("client greeting: its address: %w", err)
	}
	if a.IsBlankIP() {
		a.Addr = netip.AddrPortFrom(c.sockPeer.Addr.Addr(), a.Port())
		a.FlowInfo, a.ScopeID = c.sockPeer.FlowInfo, c.sockPeer.ScopeID
	}
	a.Type = wire.AddrLegacy
	c.peerAddr = a
	c.waitConnect()
	return nil
}

func (c *Conn) waitConnect() {
	c.setState(StateAccepting)
	c.expect(wire.ConnectLen, (*Conn).handleConnect)
}

func (c *Conn) handleConnect(data []byte) error {
	cm, err := wire.DecodeConnect(data, c.cfg.Limits)
	if err != nil {
		return fmt.Errorf("connect message: %w", err)
	}
	c.connectMsg = cm
	c.setState(StateAcceptingWaitConnectMsgAuth)
	if cm.AuthorizerLen > 0 {
		c.expectInto(make([]byte, cm.AuthorizerLen), (*Conn).handleConnectAuthorizer)
		return nil
	}
	c.authorizer = nil
	return c.decideConnect()
}

func (c *Conn) handleConnectAuthorizer(data []byte) error {
	c.authorizer = data
	return c.decideConnect()
}

// decideConnect asks the messenger what to answer and carries out the verdict.
func (c *Conn) decideConnect() error {
	cm := &c.connectMsg
	c.peerType = cm.HostType
	p, t := c.host.PolicyFor(cm.HostType)
	c.policy = p
	c.setThrottles(t)
	d := c.host.AcceptConnect(&ConnectRequest{
		Connect: *cm, Authorizer: c.authorizer, PeerAddr: c.peerAddr, Policy: c.policy, Replacing: c.replacing,
	})
	switch d.Verdict {
	case VerdictReply:
		c.sendReply(d)
		c.waitConnect()
		return nil
	case VerdictOpen:
		c.resetFromPeer = c.resetFromPeer || d.ResetFromPeer
		return c.open(&d)
	case VerdictReplace:
		c.handedOver()
		return nil
	}
	return fmt.Errorf("%w: connect refused (%s)", ErrRejected, d.Rule)
}

// sendReply writes a non-open reply (Ceph's send_connect_message_reply).
func (c *Conn) sendReply(d Decision) {
	cm := &c.connectMsg
	r := wire.ConnectReply{
		Tag:             d.Tag,
		Features:        (cm.Features & c.policy.FeaturesSupported) | c.policy.FeaturesRequired,
		GlobalSeq:       d.GlobalSeq,
		ConnectSeq:      d.ConnectSeq,
		ProtocolVersion: c.expectedProtocol(),
		AuthorizerLen:   uint32(len(d.AuthReply)),
	}
	r.Encode(c.out.reserve(wire.ConnectReplyLen))
	c.out.appendCopy(d.AuthReply)
}

func (c *Conn) expectedProtocol() uint32 {
	return ProtocolVersion(c.cfg.MyName.Type, c.peerType, c.cfg.ClusterProtocol, false)
}

// open starts a session on this connection and answers READY, or SEQ when the peer supports
// RECONNECT_SEQ and did not restart (then both sides exchange how far they received).
func (c *Conn) open(d *Decision) error {
	cm := &c.connectMsg
	c.connectSeq = cm.ConnectSeq + 1
	c.peerGlobalSeq = cm.GlobalSeq
	tag := wire.TagReady
	switch {
	case cm.Features&wire.FeatureReconnectSeq != 0 && !c.resetFromPeer:
		tag = wire.TagSeq
	case c.resetFromPeer:
		// The peer restarted: it expects seq 1 next. Ceph keeps out_seq when messages were
		// requeued (quirk Q10), so a restarted peer sees a gap; here they are renumbered.
		c.outSeq, c.inSeq, c.resetFromPeer = 0, 0, false
	default:
		// A legacy reconnect (the peer lacks RECONNECT_SEQ): no SEQ exchange. Ceph sets
		// out_seq = discard_requeued_up_to(out_seq, 0), which is 0 when nothing is requeued,
		// and in_seq = 0; the connector keeps both of its own, so it drops our next messages
		// as old (lost with no reset) and we dispatch its resent ones a second time. Here both
		// are kept (quirk Q14): the session continues, the resends we already have are
		// dropped as old.
	}
	r := wire.ConnectReply{
		Tag:             tag,
		Features:        c.policy.FeaturesSupported,
		GlobalSeq:       c.host.GlobalSeq(0),
		ConnectSeq:      c.connectSeq,
		ProtocolVersion: c.expectedProtocol(),
		AuthorizerLen:   uint32(len(d.AuthReply)),
	}
	if c.policy.Lossy {
		r.Flags = wire.ConnectLossy
	}
	c.features = r.Features & cm.Features
	if c.replacing {
		c.reached(ProbeReplaceRetryOpen)
	}
	c.session = d.Session
	c.replacing = false
	r.Encode(c.out.reserve(wire.ConnectReplyLen))
	c.out.appendCopy(d.AuthReply)
	c.host.Event(EventAccept)
	// A first open for a peer's reconnect (its connect_seq > 0: it has a session, this
	// connection never had one) numbers its messages from the peer's in_seq, which the SEQ
	// exchange brings: until then the session exists on one side only (quirk Q16).
	c.seqUnsynced = tag == wire.TagSeq && !c.onceReady && cm.ConnectSeq > 0
	c.onceReady = true
	c.setState(StateAcceptingHandledConnectMsg)
	if tag == wire.TagSeq {
		wire.PutSeq(c.out.reserve(wire.SeqLen), c.inSeq)
		c.expect(wire.SeqLen, (*Conn).handleClientSeq)
		return nil
	}
	c.ready()
	return nil
}

func (c *Conn) handleClientSeq(data []byte) error {
	acked, _ := wire.DecodeSeq(data)
	c.outSeq = c.discardRequeuedUpTo(acked)
	c.seqUnsynced = false
	c.ready()
	return nil
}

// handedOver: an existing lossless session took this socket over; this connection is done
// without closing the socket (the host moved it).
func (c *Conn) handedOver() {
	c.need = need{}
	c.resetOut()
	c.clearTimers()
	c.setState(StateClosed)
}

// Adopt makes this (existing, lossless) session take over a socket that another connection
// accepted, whose connect message said cm (Ceph's replace: the existing object survives).
// Unacknowledged messages are requeued, the old socket's state is dropped, and the session
// answers RETRY_GLOBAL on the new socket so the peer retries with a higher global_seq, which
// then opens the session here. leftover is input the other connection had received but not
// consumed.
func (c *Conn) Adopt(cm wire.Connect, resetFromPeer bool, leftover []byte) {
	c.reachedAdopt(resetFromPeer)
	c.requeueSent()
	c.releaseRx()
	c.resetOut()
	c.in.r, c.in.w = 0, 0
	c.need = need{}
	c.clearTimers()
	c.connectMsg = cm
	c.session = nil
	c.resetFromPeer = c.resetFromPeer || resetFromPeer
	if resetFromPeer {
		// The peer restarted: what it sends next is numbered from 1. Its old instance's
		// in_seq is forgotten now, not at the open: a fault before the open clears
		// resetFromPeer (as Ceph's fault clears is_reset_from_peer), and the reconnect after
		// it would keep the old in_seq and drop the new instance's messages as old, yet
		// acknowledge them (quirk Q15).
		c.inSeq = 0
	}
	// A session that never opened, taking over a peer's reconnect (connect_seq > 0), has
	// none of the peer's session state until the SEQ exchange brings the peer's in_seq: a
	// fault before that forgets it (quirks Q16, Q17). So does one that takes over a new
	// session's connect (connect_seq 0: a connection race lost) and faults before the open:
	// nothing opened at either end, and Ceph's connect_seq + 1 would make its next connect a
	// reconnect to the peer's never-opened session, which is reset (Q17 with resetcheck or
	// from a legacy peer, Q14) and drops the peer's queue for nothing.
	c.seqUnsynced = c.seqUnsynced || !c.onceReady
	c.replacing = true
	c.connector = false
	c.setState(StateNone)
	c.readyDeadline = c.host.Now() + c.cfg.ReadyTimeout
	c.sendReply(Decision{Tag: wire.TagRetryGlobal, GlobalSeq: c.peerGlobalSeq})
	c.waitConnect()
	c.Feed(leftover)
}

// MarkReplacing flags the session as being replaced (Ceph's replacing = true, can_write =
// REPLACING): until Adopt runs, it neither reads nor writes.
func (c *Conn) MarkReplacing() {
	if c.waitBackoff {
		c.reached(ProbeRaceWaitReplaced) // the race's loser, waiting, taken over by the winner
	}
	c.replacing = true
	c.need = need{}
	c.resetOut()
	c.clearTimers()
	c.setState(StateNone)
}
