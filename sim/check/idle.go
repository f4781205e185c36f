package check

import (
	"time"

	"github.com/msgrsim/msgrsim/msgr"
)

// InvIdleTimeout: a connection faults for idleness (ms_connection_idle_timeout, the core's
// ErrIdleTimeout) only once nothing was read or written on it for its messenger's
// IdleTimeout. The checker sees a subset of the reads (every message delivered, every
// acknowledgement heard: ReadOn), so the last one it saw is no later than the connection's
// own last activity, and an idle fault sooner than IdleTimeout after it is premature whatever
// else the connection did. Mutation sample 3 found the gap: an idle deadline that activity no
// longer pushed back (fault.go's idleDeadlineAt) faulted busy sessions, which reconnect and
// lose nothing a check looked at. The check then found a real deviation from Ceph at once
// (default seeds 28 and 78): a session that resumed from a receive-throttle stall idled out
// IdleTimeout after its last socket read, although Ceph's throttle retry refreshes
// last_active.
const InvIdleTimeout = "idle-timeout"

func init() {
	InvariantDoc[InvIdleTimeout] = "a connection faults for idleness only after its messenger's IdleTimeout (ms_connection_idle_timeout) with nothing read or written on it: no sooner than that after a message it delivered or an acknowledgement it heard"
	AllInvariants = append(AllInvariants, InvIdleTimeout)
}

// ReadOn records that connection c read something at virtual time now (ns): a message it
// delivered, or an acknowledgement (TraceDeliver, TraceAcked).
func (k *Checker) ReadOn(c *msgr.Connection, now int64) {
	if k.lastRead == nil {
		k.lastRead = make(map[*msgr.Connection]int64)
	}
	k.lastRead[c] = now
}

// IdleFault checks an idle-timeout fault of connection c at virtual time now (ns), idle
// being its messenger's IdleTimeout.
func (k *Checker) IdleFault(c *msgr.Connection, idle time.Duration, now int64) {
	if k.rec != nil && k.rec.cov != nil {
		k.rec.cov.Evaluated(InvIdleTimeout, 1)
	}
	last, ok := k.lastRead[c]
	if ok && now-last < int64(idle) {
		k.violate(InvIdleTimeout, now, "connection %d faulted for idleness (IdleTimeout %v) %v after it last read something",
			c.ID(), idle, time.Duration(now-last))
	}
}
