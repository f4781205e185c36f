package proto

import (
	"fmt"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The connector side of the handshake (msgr1-protocol.md §1.2, §3.1).

func (c *Conn) startConnect() {
	c.setState(StateStartConnect)
	c.readyDeadline = c.host.Now() + c.cfg.ReadyTimeout
	c.clientAuth, c.pendingSession = nil, nil
	c.host.StartConnect()
}

// handleServerBanner checks the acceptor's banner as soon as its 9 bytes are in.
func (c *Conn) handleServerBanner(data []byte) error {
	if string(data) != wire.Banner {
		return fmt.Errorf("server greeting: %w: %q", wire.ErrBadBanner, data)
	}
	c.expect(2*wire.AddrLen, (*Conn).handleServerAddrs)
	return nil
}

// handleServerAddrs checks the address the acceptor claims, learns our own address from what
// it saw, and sends ours and the connect message.
func (c *Conn) handleServerAddrs(data []byte) error {
	paddr, err := wire.DecodeLegacyAddr(data)
	if err != nil {
		return fmt.Errorf("server greeting: its address: %w", err)
	}
	seen, err := wire.DecodeLegacyAddr(data[wire.AddrLen:])
	if err != nil {
		return fmt.Errorf("server greeting: our address: %w", err)
	}
	if !c.acceptableServerAddr(paddr) {
		return fmt.Errorf("%w: expected %v, peer says %v", ErrPeerAddrMismatch, c.peerAddr, paddr)
	}
	me := c.host.LearnAddr(seen)
	me.EncodeLegacy(c.out.reserve(wire.AddrLen))
	c.sendConnect()
	return nil
}

// acceptableServerAddr: the acceptor must announce exactly the address we dialled, or the
// same port and nonce with a blank IP.
func (c *Conn) acceptableServerAddr(paddr wire.EntityAddr) bool {
	want := c.peerAddr
	want.Type = paddr.Type
	if paddr == want {
		return true
	}
	return paddr.IsBlankIP() && paddr.Port() == want.Port() && paddr.Nonce == want.Nonce
}

// sendConnect writes a connect message for the current global_seq and connect_seq.
func (c *Conn) sendConnect() {
	cm := wire.Connect{
		Features:        c.policy.FeaturesSupported,
		HostType:        c.cfg.MyName.Type,
		GlobalSeq:       c.globalSeq,
		ConnectSeq:      c.connectSeq,
		ProtocolVersion: ProtocolVersion(c.cfg.MyName.Type, c.peerType, c.cfg.ClusterProtocol, true),
	}
	if c.policy.Lossy {
		cm.Flags = wire.ConnectLossy
	}
	if c.clientAuth == nil {
		c.newClientAuth()
	}
	proto, blob := c.clientAuth.Authorizer()
	cm.AuthorizerProtocol, cm.AuthorizerLen = proto, uint32(len(blob))
	cm.Encode(c.out.reserve(wire.ConnectLen))
	c.out.appendCopy(blob)
	c.setState(StateConnectingSendConnectMsg)
	c.connectUnheard = true
	c.expect(wire.ConnectReplyLen, (*Conn).handleConnectReply)
}

func (c *Conn) handleConnectReply(data []byte) error {
	r, err := wire.DecodeConnectReply(data, c.cfg.Limits)
	if err != nil {
		return fmt.Errorf("connect reply: %w", err)
	}
	c.reply = r
	c.authorizer = nil
	if r.AuthorizerLen > 0 {
		c.expectInto(make([]byte, r.AuthorizerLen), (*Conn).handleReplyAuthorizer)
		return nil
	}
	return c.handleReplyTag()
}

func (c *Conn) handleReplyAuthorizer(data []byte) error {
	c.authorizer = data
	return c.handleReplyTag()
}

// handleReplyTag acts on the reply tag in Ceph's order of checks (§3.1).
func (c *Conn) handleReplyTag() error {
	r := &c.reply
	c.reached(replyProbe(r.Tag))
	if r.Tag != wire.TagReady && r.Tag != wire.TagSeq {
		// The peer did not open the session from this connect. An opening reply leaves the
		// flag until the session opens here (clientReady): SEQ's tag read and the socket cut
		// before its in_seq means the peer surely opened the session from our connect, and
		// its reconnect is that session's (Q17: replaced, not reset).
		c.connectUnheard = false
	}
	switch r.Tag {
	case wire.TagFeatures:
		return fmt.Errorf("%w: peer requires features %#x we lack", ErrRejected, r.Features&^c.policy.FeaturesSupported)
	case wire.TagBadProtoVer:
		return fmt.Errorf("%w: protocol version mismatch (peer expects %d)", ErrRejected, r.ProtocolVersion)
	case wire.TagBadAuthorizer:
		return fmt.Errorf("%w: bad authorizer", ErrRejected)
	case wire.TagChallengeAuthorizer:
		return c.handleChallenge()
	}
	// Every other reply that carries an authorizer is checked (Ceph's handle_auth_done runs
	// for RETRY_* and WAIT too), and the reply that opens the session always is: an acceptor
	// that cannot prove who it is gets no session.
	c.challenges = 0
	if len(c.authorizer) > 0 || r.Tag == wire.TagReady || r.Tag == wire.TagSeq {
		if err := c.verifyReplyAuthorizer(); err != nil {
			return err
		}
	}
	return c.handleReplyNext()
}

// handleReplyNext retries, waits or opens the session as the reply tag says.
func (c *Conn) handleReplyNext() error {
	r := &c.reply
	switch r.Tag {
	case wire.TagResetSession:
		c.sessionReset()
		c.sendConnect()
		return nil
	case wire.TagRetryGlobal:
		c.globalSeq = c.host.GlobalSeq(r.GlobalSeq)
		c.sendConnect()
		return nil
	case wire.TagRetrySession:
		if r.ConnectSeq <= c.connectSeq {
			return fmt.Errorf("%w: RETRY_SESSION with connect_seq %d not above ours %d", ErrProtocol, r.ConnectSeq, c.connectSeq)
		}
		c.connectSeq = r.ConnectSeq
		c.sendConnect()
		return nil
	case wire.TagWait:
		c.setState(StateWait)
		return fmt.Errorf("%w: peer answered WAIT (connection race)", ErrRejected)
	}
	if missing := c.policy.FeaturesRequired &^ r.Features; missing != 0 {
		return fmt.Errorf("%w: peer lacks required features %#x", ErrRejected, missing)
	}
	if r.Tag == wire.TagSeq {
		c.expect(wire.SeqLen, (*Conn).handleServerSeq)
		return nil
	}
	return c.clientReady()
}

// handleServerSeq: the acceptor told us how far it received; drop what it has and tell it how
// far we received.
func (c *Conn) handleServerSeq(data []byte) error {
	acked, _ := wire.DecodeSeq(data)
	c.outSeq = c.discardRequeuedUpTo(acked)
	wire.PutSeq(c.out.reserve(wire.SeqLen), c.inSeq)
	return c.clientReady()
}

// clientReady opens the session on the connector side; the acceptor decided lossiness.
func (c *Conn) clientReady() error {
	r := &c.reply
	c.peerGlobalSeq = r.GlobalSeq
	c.policy.Lossy = r.Flags&wire.ConnectLossy != 0
	c.connectSeq++
	if c.connectSeq != r.ConnectSeq {
		return fmt.Errorf("%w: reply connect_seq %d, expected %d", ErrProtocol, r.ConnectSeq, c.connectSeq)
	}
	c.backoff = 0
	c.connectUnheard = false
	c.features = r.Features & c.policy.FeaturesSupported
	c.authorizer = nil
	c.session, c.pendingSession = c.pendingSession, nil
	c.ready()
	c.host.Event(EventConnect)
	return nil
}

// ready is the common end of both handshakes: the session is open.
func (c *Conn) ready() {
	if c.reach != nil && c.queue.requeued.len() > 0 {
		c.reached(ProbeResend)
	}
	c.onceReady = true
	c.socketSeq = 0
	c.readyDeadline = 0
	c.idleDeadline = c.host.Now() + c.cfg.IdleTimeout
	c.setState(StateOpened)
	c.ackLegacyOpen()
	c.expect(1, (*Conn).handleTag)
}
