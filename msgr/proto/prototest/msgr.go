package prototest

import (
	"fmt"
	"net/netip"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Msgr is a messenger as its connections see it: an identity and configuration, policies,
// throttles, a global_seq counter, an auth verdict and a one-slot registry (its connections
// talk to one peer address).
type Msgr struct {
	Index int // 1 for the world's first messenger, …
	Addr  wire.EntityAddr
	Cfg   proto.Config
	// Policy is the policy toward every peer type, unless Policies has one for the type.
	Policy   proto.Policy
	Policies map[wire.EntityType]proto.Policy
	Th       [3]Throttle // messages, bytes, dispatch (Max 0: unlimited)
	GSeq     uint32      // the global_seq counter
	// Auth is the verdict on a connect's authorizer (proto.DecideInput.AuthResult: 1 accept,
	// -1 reject, 0 challenge), unless Verify is set: then Verify decides.
	Auth   int
	Verify func(protocol uint32, authorizer []byte) int
	// Authorize makes connectors send an auth-none authorizer (else none); with
	// NoAuthorizerToMon, none toward a monitor unless the messenger is one (msgr.AuthNone's
	// rule: clients authenticate to monitors with MAuth, not in the handshake).
	Authorize         bool
	NoAuthorizerToMon bool
	// Registry is the session registered for the peer's address (nil: none).
	Registry *Node
	Rand     *detrand.Rand
	// Hold makes deliveries keep their throttle units in Held until released (Release,
	// ReleaseHeld), as a dispatcher still working on them.
	Hold      bool
	Held      []Held
	Delivered []*wire.Message  // by any of its connections, in order
	Decisions []proto.Decision // every accept decision, in order
}

// Held is a delivery that keeps its throttle units.
type Held struct {
	Node *Node
	Seq  uint64
	Res  proto.Reservation
}

// NewMsgr creates a messenger named name at addr with one policy toward every peer and
// unlimited throttles. Its random source is seeded with its index.
func (w *World) NewMsgr(name wire.EntityName, addr wire.EntityAddr, cluster uint32, p proto.Policy) *Msgr {
	m := &Msgr{Index: len(w.Msgrs) + 1, Addr: addr, Policy: p, Auth: 1, Authorize: true}
	m.Cfg = proto.Config{MyName: name, ClusterProtocol: cluster, CRCHeader: true, CRCData: true}
	m.Rand = detrand.NewSeeded(uint64(m.Index))
	for i, th := range [...]string{"messages", "bytes", "dispatch"} {
		m.Th[i] = Throttle{w: w, Name: th}
	}
	w.Msgrs = append(w.Msgrs, m)
	return m
}

// DefaultAddr is messenger i's address in the transcripts: 10.0.0.i:6800 with nonce i.
func DefaultAddr(i int) wire.EntityAddr {
	return wire.LegacyAddr(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 6800), uint32(i))
}

// PolicyFor is the messenger's policy toward a peer type.
func (m *Msgr) PolicyFor(t wire.EntityType) proto.Policy {
	if p, ok := m.Policies[t]; ok {
		return p
	}
	return m.Policy
}

// Throttles are the messenger's throttles, as connections take them.
func (m *Msgr) Throttles() proto.Throttles {
	return proto.Throttles{Messages: &m.Th[0], Bytes: &m.Th[1], Dispatch: &m.Th[2]}
}

// ReleaseHeld finishes the dispatch of every held delivery.
func (m *Msgr) ReleaseHeld() {
	for _, h := range m.Held {
		h.Res.Release()
	}
	m.Held = m.Held[:0]
}

// authResult is the verdict on a connect's authorizer.
func (m *Msgr) authResult(req *proto.ConnectRequest) int {
	if m.Verify != nil {
		return m.Verify(req.Connect.AuthorizerProtocol, req.Authorizer)
	}
	return m.Auth
}

// VerifyAuthNone is msgr.AuthNone's verdict: an empty authorizer (with protocol unknown or
// none) or a well-formed auth-none one is accepted, anything else rejected.
func VerifyAuthNone(protocol uint32, blob []byte) int {
	switch {
	case len(blob) == 0 && (protocol == wire.AuthUnknown || protocol == wire.AuthNone):
		return 1
	case protocol == wire.AuthNone:
		if _, err := wire.DecodeAuthNoneAuthorizer(blob); err == nil {
			return 1
		}
	}
	return -1
}

// Throttle is Ceph's non-blocking throttle (see msgr.Throttle), counting in the open: a
// Put below zero is a problem of the world.
type Throttle struct {
	w    *World
	Name string
	Max  int64 // 0: unlimited
	Cur  int64
}

// TryGet takes n units if it can (Ceph's rule: a request over the maximum is admitted when
// nothing is held).
func (t *Throttle) TryGet(n int64) bool {
	if t.Max != 0 && ((n <= t.Max && t.Cur+n > t.Max) || (n >= t.Max && t.Cur > t.Max)) {
		return false
	}
	t.Cur += n
	return true
}

// Put returns n units.
func (t *Throttle) Put(n int64) {
	t.Cur -= n
	if t.Cur < 0 {
		t.w.Problemf("throttle %s released below zero (%d)", t.Name, t.Cur)
	}
}

func (t *Throttle) String() string {
	if t.Max == 0 {
		return fmt.Sprintf("%s=%d", t.Name, t.Cur)
	}
	return fmt.Sprintf("%s=%d/%d", t.Name, t.Cur, t.Max)
}
