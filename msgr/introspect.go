package msgr

import (
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
func (m *Messenger) Registry() []Registration { return m.AppendRegistry(nil) }

// AppendRegistry appends the session registry, sorted by address, to dst: Registry without
// allocating when dst has room (the simulator audits after every step).
func (m *Messenger) AppendRegistry(dst []Registration) []Registration {
	m.mu.Lock()
	start := len(dst)
	//lint:ordered sorted below
	for a, c := range m.conns {
		dst = append(dst, Registration{Addr: a, Conn: c})
	}
	m.mu.Unlock()
	slices.SortFunc(dst[start:], func(a, b Registration) int { return wire.Compare(a.Addr, b.Addr) })
	return dst
}

// RegisteredAs is the peer address under which the connection was registered (a connector
// from connect_to, or an acceptor that opened a registered session), and whether there is one.
// Anonymous connections and acceptors of unregistered lossy clients have none.
func (c *Connection) RegisteredAs() (wire.EntityAddr, bool) {
	if c.local {
		return wire.EntityAddr{}, false
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	return c.regAddr, c.regAddr != (wire.EntityAddr{})
}

// Generation is a counter that changes whenever what AppendRegistry, AppendConnections and
// Connection.IsClosed report may have changed: a connection registered or unregistered for an
// address, created or retired, or closed for good. An observer that re-reads them only when
// Generation moved (the simulator's auditor, after every step) sees every change.
func (m *Messenger) Generation() uint64 { return m.gen.Load() }

// ThrottleGeneration is a counter that changes whenever the list AppendThrottles returns
// may have changed (a policy's throttles replaced by SetPolicy or SetPolicyThrottlers). It
// does not cover the throttles' counts: an observer that re-lists the throttles only when
// it moved (the simulator's auditor) still reads each one's Current itself.
func (m *Messenger) ThrottleGeneration() uint64 { return m.tgen.Load() }

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
func (m *Messenger) Throttles() []NamedThrottle { return m.AppendThrottles(nil) }

// AppendThrottles appends what Throttles lists to dst, without allocating when dst has room.
func (m *Messenger) AppendThrottles(dst []NamedThrottle) []NamedThrottle {
	if m.dthrot != nil {
		dst = append(dst, NamedThrottle{"dispatch", m.dthrot})
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.throttleTypes {
		th := m.throttles[t]
		if mt, ok := th.Messages.(*Throttle); ok && mt != nil {
			dst = append(dst, NamedThrottle{throttleName(t, "messages"), mt})
		}
		if bt, ok := th.Bytes.(*Throttle); ok && bt != nil {
			dst = append(dst, NamedThrottle{throttleName(t, "bytes"), bt})
		}
	}
	return dst
}

// throttleNames holds "<type>/messages" and "<type>/bytes" for Ceph's entity types.
var throttleNames = func() map[wire.EntityType][2]string {
	n := make(map[wire.EntityType][2]string)
	for _, t := range []wire.EntityType{wire.EntityMon, wire.EntityMDS, wire.EntityOSD, wire.EntityClient, wire.EntityMgr} {
		n[t] = [2]string{t.String() + "/messages", t.String() + "/bytes"}
	}
	return n
}()

func throttleName(t wire.EntityType, kind string) string {
	if n, ok := throttleNames[t]; ok {
		if kind == "messages" {
			return n[0]
		}
		return n[1]
	}
	return t.String() + "/" + kind
}

// DispatchQueueLen is the number of messages and events waiting in the dispatch queue
// (Ceph's get_dispatch_queue_len).
func (m *Messenger) DispatchQueueLen() int {
	m.dq.mu.Lock()
	defer m.dq.mu.Unlock()
	return m.dq.n
}
