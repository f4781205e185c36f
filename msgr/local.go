package msgr

import "github.com/msgrsim/msgrsim/msgr/event"

// newLocalConnection is the loopback connection (Ceph's local_connection): messages sent on it
// are delivered to this messenger's own dispatchers without touching the network.
func newLocalConnection(m *Messenger) *Connection {
	c := newConnection(m, 0, m.dq.center)
	c.local = true
	c.peerType.Store(uint32(m.cfg.Name.Type))
	return c
}

// newConnection returns a connection of m, owned by center, with its locks ranked.
func newConnection(m *Messenger, id uint64, center *event.Center) *Connection {
	c := newConnectionMem() // zero, or recycled (Recycler): cleared
	c.m, c.id, c.center = m, id, center
	if m.cfg.Recycler != nil {
		m.made = append(m.made, c)
	}
	c.mu.rank, c.pmu.rank = rankConn, rankPending
	c.upcalls, c.spareUpcalls = c.upcallArr[0][:0], c.upcallArr[1][:0]
	c.pend, c.sparePend = c.pendArr[0][:0], c.pendArr[1][:0]
	return c
}
