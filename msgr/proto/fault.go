package proto

import (
	"fmt"
	"time"
)

// fault is Ceph's ProtocolV1::fault, in its order of decisions (msgr1-protocol.md §6.3).
func (c *Conn) fault(err error) {
	if c.state == StateClosed || c.state == StateNone {
		return
	}
	c.host.Faulted(c.state, err)
	if c.policy.Lossy && c.state != StateStartConnect && c.state != StateConnecting {
		c.stopWithReset()
		return
	}
	c.requeueSent()
	c.resetFromPeer = false
	forget := c.seqUnsynced
	// beforeOpen: it forgets a session it adopted and never opened (Q17). A peer's reconnect
	// and our connect can replace each other at both ends, each adoption closing the socket
	// the other adopted; reconnecting at once, as Ceph does, the pair would do it again
	// forever (without Ceph's connect_seq + 1, which makes the next round a
	// RETRY_SESSION): this reconnect backs off, as one before an open does.
	beforeOpen := forget && !c.onceReady
	if forget {
		// Opened for a peer's reconnect with no session of ours, and cut before the peer's
		// in_seq arrived: our numbering (from 1) never met the peer's in_seq. Ceph keeps the
		// session and reconnects with connect_seq+1; a legacy reopen then keeps the peer's
		// in_seq (quirk Q14), and our messages are dropped as old. Here the session is
		// forgotten: the reconnect says connect_seq 0, as the new instance this is, and the
		// peer resets its in_seq for a restarted peer (rule 8e) (quirk Q16).
		c.seqUnsynced, c.onceReady, c.connectSeq = false, false, 0
	}
	if !c.onceReady && c.queue.len() == 0 && c.state.accepting() && !c.replacing {
		c.stopWithReset() // a half-open accepted connection: nothing to keep
		return
	}
	c.replacing = false
	c.dropTransport()
	if c.policy.Standby && c.queue.len() == 0 && !c.keepalive && c.state != StateWait {
		c.setState(StateStandby)
		return
	}
	if c.state.connecting() || c.state == StateWait {
		if canaryConnectSeq() && c.state == StateConnectingSendConnectMsg {
			c.connectSeq++
		}
		c.scheduleReconnect()
		return
	}
	if c.policy.Server {
		c.setState(StateStandby) // the peer reconnects to us
		return
	}
	if beforeOpen {
		c.connector = true
		c.scheduleReconnect()
		return
	}
	if !forget {
		c.connectSeq++
	}
	c.backoff = 0
	c.connector = true
	c.globalSeq = c.host.GlobalSeq(0)
	c.startConnect()
}

// dropTransport closes the socket and forgets everything tied to it.
func (c *Conn) dropTransport() {
	c.host.CloseTransport()
	c.resetOut()
	c.releaseRx()
	c.in.r, c.in.w = 0, 0
	c.need = need{}
	c.clearTimers()
	c.session, c.clientAuth, c.pendingSession = nil, nil, nil
}

// scheduleReconnect backs off before the next connect attempt: ms_max_backoff after a WAIT,
// else ms_initial_backoff doubling up to ms_max_backoff. connect_seq is not incremented for
// a failure before the session opened (the PR #25343 fix).
func (c *Conn) scheduleReconnect() {
	c.waitBackoff = c.state == StateWait
	switch {
	case c.waitBackoff:
		c.backoff = c.cfg.MaxBackoff
	case c.backoff == 0:
		c.backoff = c.cfg.InitialBackoff
	default:
		c.backoff = min(2*c.backoff, c.cfg.MaxBackoff)
		if c.backoff == c.cfg.MaxBackoff {
			c.reached(ProbeBackoffCap)
		}
	}
	c.globalSeq = c.host.GlobalSeq(0)
	c.setState(StateStartConnect)
	c.reconnectAt = c.host.Now() + c.backoff
}

// reconnectFromStandby wakes a standby session that has something to send.
func (c *Conn) reconnectFromStandby() {
	c.connector = true
	c.globalSeq = c.host.GlobalSeq(0)
	c.startConnect()
}

func (c *Conn) stopWithReset() {
	c.Stop()
	c.host.Event(EventReset)
}

func (c *Conn) clearTimers() {
	c.reconnectAt, c.readyDeadline, c.idleDeadline, c.throttleAt = 0, 0, 0, 0
	c.waitBackoff = false
}

// NextDeadline is when Tick must next be called, if at all. (The driver asks after every
// step; an array of the four timers and a loop over it cost several times this.)
func (c *Conn) NextDeadline() (time.Duration, bool) {
	at := earliest(earliest(c.reconnectAt, c.readyDeadline), earliest(c.idleDeadlineAt(), c.throttleAt))
	return at, at != 0
}

// earliest is the earlier of two timer times, 0 meaning not armed.
func earliest(a, b time.Duration) time.Duration {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

func (c *Conn) idleDeadlineAt() time.Duration {
	if c.idleDeadline == 0 {
		return 0
	}
	if canaryIdleEarly() {
		return c.idleDeadline
	}
	return max(c.idleDeadline, c.lastActive+c.cfg.IdleTimeout)
}

// Tick runs the timers that are due: reconnect after backoff, the not-ready and idle
// timeouts, and the throttle retry.
func (c *Conn) Tick() {
	now := c.host.Now()
	if c.throttleAt != 0 && now >= c.throttleAt {
		c.throttleAt = 0
		// Ceph's throttle retry runs process() from its wakeup handler, and process() sets
		// last_active first: a session stalled on a receive throttle is active, and one
		// that resumes parsing what it had buffered must not idle out IdleTimeout after its
		// last socket read (simulator seed 28: a session delivered a message 87 ms before
		// its 100 ms idle timeout fired; check invariant idle-timeout).
		c.lastActive = now
		if c.throttle() {
			_ = c.nextSection(false) // sets the need: process reads on
		}
		c.process()
	}
	if c.reconnectAt != 0 && now >= c.reconnectAt {
		c.reconnectAt = 0
		if c.waitBackoff {
			c.waitBackoff = false
			c.reached(ProbeRaceWaitReconnect)
		}
		c.startConnect()
	}
	if c.readyDeadline != 0 && now >= c.readyDeadline {
		c.readyDeadline = 0
		c.reached(ProbeHandshakeTimeout)
		c.fault(fmt.Errorf("%w: not ready within %v (state %v)", ErrHandshakeTimeout, c.cfg.ReadyTimeout, c.state))
		return
	}
	if at := c.idleDeadlineAt(); at != 0 && now >= at {
		c.idleDeadline = 0
		c.reached(ProbeIdleTimeout)
		c.fault(fmt.Errorf("%w for %v", ErrIdleTimeout, c.cfg.IdleTimeout))
	}
}
