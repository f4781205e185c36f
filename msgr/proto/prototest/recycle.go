package prototest

import (
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Recycler is a Node that lends its connection memory (proto.Buffers) and recycles every
// delivered message at once, as a dispatcher that calls Messenger.Release does: with it, a
// session in steady state allocates nothing. It records no deliveries, only counts them.
type Recycler struct {
	*Node
	Count    int // messages delivered
	free     []*wire.Message
	sections [][]byte // section buffers of delivered messages, length 0
	buffers  [][]byte
}

// NewRecycler wraps n; create the connection with the Recycler as its Host (n.C is not set).
func NewRecycler(n *Node) *Recycler { return &Recycler{Node: n} }

// Deliver counts m, releases its throttle units and keeps it and its section buffers for
// reuse.
func (r *Recycler) Deliver(m *wire.Message, res *proto.Reservation) {
	r.Count++
	res.Release()
	for _, b := range [...][]byte{m.Front, m.Middle, m.Data} {
		if cap(b) > 0 {
			r.sections = append(r.sections, b[:0])
		}
	}
	*m = wire.Message{}
	r.free = append(r.free, m)
}

// NewMessage returns a recycled message, or a new one.
func (r *Recycler) NewMessage() *wire.Message {
	if k := len(r.free) - 1; k >= 0 {
		m := r.free[k]
		r.free = r.free[:k]
		return m
	}
	return &wire.Message{}
}

// SectionBuffer returns a recycled section buffer of at least n bytes, or a new one.
func (r *Recycler) SectionBuffer(n int) []byte {
	for i := len(r.sections) - 1; i >= 0; i-- {
		if b := r.sections[i]; cap(b) >= n {
			r.sections = append(r.sections[:i], r.sections[i+1:]...)
			return b[:n]
		}
	}
	return make([]byte, n)
}

// GetBuffer returns a buffer given back earlier with length n, or a new one.
func (r *Recycler) GetBuffer(n int) []byte {
	for i, b := range r.buffers {
		if len(b) == n {
			r.buffers = append(r.buffers[:i], r.buffers[i+1:]...)
			return b
		}
	}
	return make([]byte, n)
}

// PutBuffer takes back a buffer.
func (r *Recycler) PutBuffer(b []byte) { r.buffers = append(r.buffers, b) }
