package msgr

import (
	"slices"
	"time"

	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// InjectDelay is Ceph's ms_inject_delay_type / _max / _probability: messages received from
// peers of the listed types are held back, each with the given probability, for a uniform
// time in [0, Max] before they are dispatched. Delivery stays FIFO per connection: a message
// is never dispatched before one received earlier on the same connection. Held messages are
// flushed (dispatched at once) when the session resets or the connection closes.
type InjectDelay struct {
	Types       []wire.EntityType
	Probability netio.Ratio // e.g. netio.Ratio{Num: 1, Den: 10}
	Max         time.Duration
}

func (d *InjectDelay) applies(t wire.EntityType) bool {
	return d != nil && d.Max > 0 && d.Probability.Num > 0 && slices.Contains(d.Types, t)
}

// delayed is a received message held back by delay injection.
type delayed struct {
	msg *Message
	res proto.Reservation
	at  time.Duration
}

// deliverMaybeDelayed delivers msg now, or holds it back (on the owning center) when delay
// injection applies to this connection's peer.
//
// res is the upcall's: passed by address down to the fast dispatcher's release, as it is six
// words copied at each of three calls per message otherwise.
func (c *Connection) deliverMaybeDelayed(msg *Message, res *proto.Reservation) {
	inj := c.m.cfg.InjectDelay
	if len(c.held) == 0 && (inj == nil || !inj.applies(c.PeerType()) || !c.center.Rand().Chance(inj.Probability)) {
		c.m.deliver(c, msg, res)
		return
	}
	at := c.center.Now()
	if inj.applies(c.PeerType()) {
		at += time.Duration(c.center.Rand().Uint64N(uint64(inj.Max) + 1))
	}
	if n := len(c.held); n > 0 {
		at = max(at, c.held[n-1].at)
	}
	c.m.trace(TraceEvent{Kind: TraceHeld, Conn: c, Msg: msg})
	c.m.counters.delayed.Add(1)
	if len(c.held) == 0 {
		c.held = c.heldBuf[:0] // the array of earlier held messages, emptied
	}
	c.held = append(c.held, delayed{msg: msg, res: *res, at: at})
	if cap(c.held) > cap(c.heldBuf) {
		c.heldBuf = c.held[:0] // a new, larger array
	}
	c.nheld.Add(1)
	if c.heldTimer == 0 {
		c.heldTimer = c.center.CreateTimeEventAt(c.held[0].at, c.releaseHeldFn())
	}
}

// releaseHeldFn is c.releaseHeld, bound once (a method value per timer would allocate).
func (c *Connection) releaseHeldFn() func() {
	if c.releaseFn == nil {
		c.releaseFn = c.releaseHeld
	}
	return c.releaseFn
}

// releaseHeld dispatches the held messages that are due, in order.
func (c *Connection) releaseHeld() {
	c.heldTimer = 0
	now := c.center.Now()
	for len(c.held) > 0 && c.held[0].at <= now {
		h := c.held[0]
		c.held[0] = delayed{}
		c.held = c.held[1:]
		c.nheld.Add(-1)
		c.m.deliver(c, h.msg, &h.res)
	}
	if len(c.held) > 0 {
		c.heldTimer = c.center.CreateTimeEventAt(c.held[0].at, c.releaseHeldFn())
	}
}

// flushHeld dispatches every held message now (session reset, close).
func (c *Connection) flushHeld() {
	if c.heldTimer != 0 {
		c.center.DeleteTimeEvent(c.heldTimer)
		c.heldTimer = 0
	}
	held := c.held
	c.held, c.heldBuf = nil, nil // held is dispatched below: not reused
	c.nheld.Add(-int64(len(held)))
	for _, h := range held {
		c.m.deliver(c, h.msg, &h.res)
	}
}
