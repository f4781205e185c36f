package msgr

import (
	"cmp"
	"slices"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Introspection for checkers and tests: read-only views of a messenger's registry, throttles
// and dispatch queue, so that invariants about them can be verified from outside.

// Registration is one entry of the session registry: the connection registered for a peer
// address.
type Registration struct {
	Addr wire.EntityAddr
	Conn *Connection
}

// Registry lists the session registry, sorted by address.
func (m *Messenger) Registry() []Registration {
	m.mu.Lock()
	out := make([]Registration, 0, len(m.conns))
	//lint:ordered sorted below
	for a, c := range m.conns {
		out = append(out, Registration{Addr: a, Conn: c})
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Registration) int { return cmp.Compare(a.Addr.String(), b.Addr.String()) })
	return out
}

// RegisteredAs is the peer address under which the connection was registered (a connector
// from connect_to, or an acceptor that opened a registered session), and whether there is one.
// Anonymous connections and acceptors of unregistered lossy clients have none.
func (c *Connection) RegisteredAs() (wire.EntityAddr, bool) {
	if c.local {
		return wire.EntityAddr{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.regAddr, c.regAddr != (wire.EntityAddr{})
}

// IsClosed reports whether the connection is closed for good (marked down, replaced, or a
// lossy session that faulted).
func (c *Connection) IsClosed() bool { return c.closed.Load() }

// NamedThrottle is one of a messenger's throttles, with a name for reports.
type NamedThrottle struct {
	Name     string // "dispatch", or "<peer type>/messages", "<peer type>/bytes"
	Throttle *Throttle
}

// Throttles lists the messenger's throttles: the dispatch throttle, then each peer type's
// policy throttles, in a fixed order. Unlimited ones are left out.
func (m *Messenger) Throttles() []NamedThrottle {
	var out []NamedThrottle
	if m.dthrot != nil {
		out = append(out, NamedThrottle{"dispatch", m.dthrot})
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	types := make([]wire.EntityType, 0, len(m.throttles))
	for t := range m.throttles {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		th := m.throttles[t]
		if mt, ok := th.Messages.(*Throttle); ok && mt != nil {
			out = append(out, NamedThrottle{t.String() + "/messages", mt})
		}
		if bt, ok := th.Bytes.(*Throttle); ok && bt != nil {
			out = append(out, NamedThrottle{t.String() + "/bytes", bt})
		}
	}
	return out
}

// DispatchQueueLen is the number of messages and events waiting in the dispatch queue
// (Ceph's get_dispatch_queue_len).
func (m *Messenger) DispatchQueueLen() int {
	m.dq.mu.Lock()
	defer m.dq.mu.Unlock()
	return m.dq.n
}
