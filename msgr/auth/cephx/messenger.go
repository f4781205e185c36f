package cephx

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Messenger is cephx for a messenger (it implements msgr.Auth): the authorizers a client or
// daemon presents to other services, from the tickets its monitor session obtained
// (SetTickets), and the verification of the authorizers presented to it, with the service
// keys it holds (SetServiceKeys). Sessions opened with an authorizer are signed with the
// ticket's session key when MSG_AUTH was negotiated, as Ceph's are. Toward monitors a
// non-monitor sends no authorizer (it authenticates by MAuth messages once the session is
// open, see Client), and a monitor-type service accepts connections without one. Safe for
// concurrent use.
type Messenger struct {
	myType wire.EntityType

	mu       sync.Mutex
	globalID uint64
	tickets  map[uint32]ClientTicket
	keys     KeyStore
	req      Requirements
}

// Requirements are the features cephx requires of the peers that present cephx authorizers
// to us, Ceph's options of the same names; DefaultRequirements are Ceph 16's defaults. MSG_AUTH
// means signed messages; CEPHX_V2 the challenge round and the v2 signature. As in Ceph's
// ProtocolV1, OSDs, MDSs and MGRs are "cluster" peers and everything else (clients, monitors)
// "service" peers, and the requirement holds only for a connect message with a cephx
// authorizer: the peer is answered FEATURES, before its authorizer is looked at. A monitor
// applies them to a client's first MAuth too (Monitor.SetRequirements), by a rule of its own
// (CheckMAuth).
type Requirements struct {
	RequireSignatures        bool // cephx_require_signatures: MSG_AUTH of every peer
	ClusterRequireSignatures bool // cephx_cluster_require_signatures: MSG_AUTH of cluster peers
	ServiceRequireSignatures bool // cephx_service_require_signatures: MSG_AUTH of service peers
	RequireVersion           int  // cephx_require_version: >= 2 requires CEPHX_V2 of every peer
	ClusterRequireVersion    int  // cephx_cluster_require_version: >= 2, of cluster peers
	ServiceRequireVersion    int  // cephx_service_require_version: >= 2, of service peers
}

// DefaultRequirements are Ceph 16.2's defaults (`ceph-conf -D`): no signatures required,
// version 2 everywhere, so that a cephx peer without CEPHX_V2 is refused and one without
// MSG_AUTH gets an unsigned session.
func DefaultRequirements() Requirements {
	return Requirements{RequireVersion: 2, ClusterRequireVersion: 2, ServiceRequireVersion: 2}
}

// Features returns the features required of a peer of that type presenting a cephx
// authorizer.
func (r Requirements) Features(peer wire.EntityType) uint64 {
	sigs, version := r.ServiceRequireSignatures, r.ServiceRequireVersion
	switch peer {
	case wire.EntityOSD, wire.EntityMDS, wire.EntityMgr:
		sigs, version = r.ClusterRequireSignatures, r.ClusterRequireVersion
	}
	var f uint64
	if r.RequireSignatures || sigs {
		f |= wire.FeatureMsgAuth
	}
	if r.RequireVersion >= 2 || version >= 2 {
		f |= wire.FeatureCephxV2
	}
	return f
}

// ErrRequirement: a monitor refuses cephx to a client whose connection lacks what its
// Requirements ask (Monitor, MonSession.Handle: EOPNOTSUPP when cephx is negotiated).
var ErrRequirement = errors.New("cephx: the connection lacks a required feature")

// CheckMAuth says whether a monitor with these Requirements offers cephx to an entity of that
// type negotiating over a connection with those features (the first MAuth). This is Ceph
// 16.2.15's AuthMonitor, measured against a real ceph-mon, and it differs from Features, the
// check of connect messages, in two ways: monitors count as cluster entities here (with OSDs,
// MDSs and MGRs; clients and anything else are service entities), and the version is looked
// at only when the connection has MSG_AUTH: a connection lacking MSG_AUTH is refused only
// when signatures are required, and one lacking both CEPHX_V2 and MSG_AUTH passes the
// default requirements.
func (r Requirements) CheckMAuth(entity wire.EntityType, features uint64) error {
	sigs, version, kind := r.ServiceRequireSignatures, r.ServiceRequireVersion, "service"
	switch entity {
	case wire.EntityMon, wire.EntityOSD, wire.EntityMDS, wire.EntityMgr:
		sigs, version, kind = r.ClusterRequireSignatures, r.ClusterRequireVersion, "cluster"
	}
	switch {
	case features&wire.FeatureMsgAuth == 0:
		if r.RequireSignatures || sigs {
			return fmt.Errorf("%w: no MSG_AUTH and %s signatures are required", ErrRequirement, kind)
		}
	case features&wire.FeatureCephxV2 == 0:
		if r.RequireVersion >= 2 || version >= 2 {
			return fmt.Errorf("%w: no CEPHX_V2 and %s version 2 is required", ErrRequirement, kind)
		}
	}
	return nil
}

// Errors of the messenger's cephx.
var (
	// ErrNoTicket: we hold no ticket for the service we connect to.
	ErrNoTicket = errors.New("cephx: no ticket for the service")
	// ErrNoReply: the acceptor opened the session without proving who it is.
	ErrNoReply = errors.New("cephx: the acceptor sent no authorizer reply")
)

// NewMessenger returns cephx for a messenger of the given entity type, holding no ticket and
// no service key yet.
func NewMessenger(myType wire.EntityType) *Messenger {
	return &Messenger{myType: myType, tickets: map[uint32]ClientTicket{}, req: DefaultRequirements()}
}

// SetRequirements sets the features required of the peers presenting cephx authorizers
// (DefaultRequirements until then).
func (m *Messenger) SetRequirements(r Requirements) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.req = r
}

// Requirements returns the Requirements in force (SetRequirements), e.g. for the monitor
// service of the same daemon (Monitor.SetRequirements).
func (m *Messenger) Requirements() Requirements {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.req
}

// RequiredFeatures implements msgr.AuthFeatureRequirer: the Requirements' features for a
// connect message with a cephx authorizer, nothing for any other.
func (m *Messenger) RequiredFeatures(peer wire.EntityType, protocol uint32) uint64 {
	if protocol != wire.AuthCephx {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.req.Features(peer)
}

// SetTickets takes our global id and service tickets, e.g. an authenticated monitor
// session's (c.GlobalID(), c.Tickets()...); call it again when they are renewed. A ticket
// replaces the one held for its service.
func (m *Messenger) SetTickets(globalID uint64, tickets ...ClientTicket) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.globalID = globalID
	for _, t := range tickets {
		m.tickets[t.Service] = t
	}
}

// NeedRenewal returns the services whose tickets held (SetTickets) are due for renewal at
// now: their RenewAfter has passed (expired ones included). Renew them with the monitor
// session's Client (Client.Renew) and give them here again with SetTickets.
func (m *Messenger) NeedRenewal(now time.Time) uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var need uint32
	for svc, t := range m.tickets { //lint:ordered a bitwise or: the order does not matter
		if !t.RenewAfter.IsZero() && !now.Before(t.RenewAfter) {
			need |= svc
		}
	}
	return need
}

// SetServiceKeys sets the keys the tickets presented to us are opened with (a daemon's
// rotating secrets, see ServiceKeys).
func (m *Messenger) SetServiceKeys(keys KeyStore) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = keys
}

// Secret implements KeyStore with the keys set last.
func (m *Messenger) Secret(service uint32, secretID uint64) (Key, bool) {
	m.mu.Lock()
	keys := m.keys
	m.mu.Unlock()
	if keys == nil {
		return Key{}, false
	}
	return keys.Secret(service, secretID)
}

// Client starts the authorizer exchange of one connection attempt to a peer type.
func (m *Messenger) Client(peer wire.EntityType, rand io.Reader) proto.ClientAuth {
	if peer == wire.EntityMon && m.myType != wire.EntityMon {
		return monClient{}
	}
	m.mu.Lock()
	t, ok := m.tickets[uint32(peer)]
	gid := m.globalID
	m.mu.Unlock()
	if !ok {
		return &clientAuth{err: fmt.Errorf("%w %s", ErrNoTicket, serviceName(uint32(peer)))}
	}
	a, err := NewAuthorizer(gid, uint32(peer), t.Blob, t.SessionKey, rand)
	return &clientAuth{a: a, err: err}
}

// Server starts the verification of the authorizers presented on one accepted socket.
func (m *Messenger) Server(rand io.Reader) proto.ServerAuth {
	return &serverAuth{m: m, rand: rand}
}

// monClient: no authorizer toward a monitor; nothing to check, nothing signed.
type monClient struct{}

func (monClient) Authorizer() (uint32, []byte) { return wire.AuthUnknown, nil }
func (monClient) Challenge([]byte) error {
	return fmt.Errorf("%w: a monitor challenged a connection without authorizer", ErrBadAuthorizer)
}
func (monClient) Done([]byte) (proto.Session, error) { return nil, nil }

// clientAuth is one authorizer exchange with a service.
type clientAuth struct {
	a   *ClientAuthorizer
	err error // no authorizer could be built: the exchange fails
}

func (c *clientAuth) Authorizer() (uint32, []byte) {
	if c.err != nil {
		return wire.AuthCephx, nil
	}
	return wire.AuthCephx, c.a.Bytes()
}

func (c *clientAuth) Challenge(challenge []byte) error {
	if c.err != nil {
		return c.err
	}
	return c.a.AddChallenge(challenge)
}

func (c *clientAuth) Done(reply []byte) (proto.Session, error) {
	if c.err != nil {
		return nil, c.err
	}
	if len(reply) == 0 {
		return nil, fmt.Errorf("%w (%s)", ErrNoReply, serviceName(c.a.Service))
	}
	if _, err := c.a.VerifyReply(reply); err != nil {
		return nil, err
	}
	return Session{Key: c.a.SessionKey}, nil
}

// serverAuth verifies the authorizers of one socket.
type serverAuth struct {
	m    *Messenger
	rand io.Reader
	v    *ConnVerifier // made at the first authorizer, when the peer's features are known
}

// Verify answers one authorizer: an empty one is accepted by a monitor (the client
// authenticates by MAuth next) and rejected by anything else; a cephx one goes through the
// socket's ConnVerifier, with the CEPHX_V2 challenge when the peer has CEPHX_V2.
func (s *serverAuth) Verify(_ wire.EntityType, protocol uint32, authorizer []byte, features uint64) proto.AuthVerdict {
	if len(authorizer) == 0 && s.m.myType == wire.EntityMon {
		return proto.AuthVerdict{Result: 1}
	}
	if protocol != wire.AuthCephx {
		return proto.AuthVerdict{Result: -1,
			Reason: fmt.Errorf("%w: authorizer protocol %d, cephx required", ErrBadAuthorizer, protocol)}
	}
	if s.v == nil {
		s.v = NewConnVerifier(s.m, s.rand, features&wire.FeatureCephxV2 != 0)
	}
	verdict, reply, peer, err := s.v.Verify(authorizer)
	switch verdict {
	case Accept:
		return proto.AuthVerdict{Result: 1, Reply: reply, Session: Session{Key: peer.SessionKey}}
	case Challenge:
		return proto.AuthVerdict{Result: 0, Reply: reply}
	}
	return proto.AuthVerdict{Result: -1, Reason: err}
}

// Session signs and checks a session's messages with the session key of its ticket (Ceph's
// CephxSessionHandler). Without MSG_AUTH negotiated there is no signature field: nothing is
// signed or checked.
type Session struct{ Key Key }

// Sign implements proto.Session.
func (s Session) Sign(m *wire.Message, features uint64) error {
	if features&wire.FeatureMsgAuth == 0 {
		return nil
	}
	return Sign(s.Key, m, features)
}

// Check implements proto.Session.
func (s Session) Check(m *wire.Message, features uint64) error {
	return CheckSignature(s.Key, m, features)
}
