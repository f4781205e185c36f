package msgr

// newLocalConnection is the loopback connection (Ceph's local_connection): messages sent on it
// are delivered to this messenger's own dispatchers without touching the network.
func newLocalConnection(m *Messenger) *Connection {
	c := &Connection{m: m, local: true, center: m.dq.center}
	c.peerType.Store(uint32(m.cfg.Name.Type))
	return c
}
