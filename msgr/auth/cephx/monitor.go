package cephx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Monitor is a monitor's cephx auth service (Ceph's AuthMonitor with CephxServiceHandler and
// KeyServer) for the entities of a keyring: it assigns global ids, challenges, checks the
// client's proof, hands out the auth ticket and session key, then service tickets for mon,
// osd, mgr and mds sealed with rotating secrets it draws itself, and rotating secrets to
// daemons. Ticket lifetimes are Pacific's defaults (auth ticket 72 h, service tickets 1 h).
// Its Requirements (SetRequirements; DefaultRequirements until then) decide whether a
// connection's features allow cephx at all, as a Ceph monitor's cephx_*_require_* options do
// (Requirements.CheckMAuth). Everything random comes from the io.Reader it is given; times are
// passed in. Safe for concurrent use; a MonSession is one client's exchange.
type Monitor struct {
	keyring *Keyring
	rand    io.Reader

	mu         sync.Mutex
	globalID   uint64
	secrets    map[uint32]*RotatingSecrets // by service: mon, osd, mgr, mds, auth
	serviceTTL time.Duration               // service tickets' validity (ServiceTicketTTL)
	req        Requirements                // what a connection must support to use cephx
}

// Ticket lifetimes (auth_mon_ticket_ttl, auth_service_ticket_ttl).
const (
	AuthTicketTTL    = 72 * time.Hour
	ServiceTicketTTL = time.Hour
)

// services a monitor hands out tickets for, the auth service included.
var services = []uint32{uint32(wire.EntityMon), uint32(wire.EntityOSD), uint32(wire.EntityMgr),
	uint32(wire.EntityMDS), uint32(wire.EntityAuth)}

// NewMonitor returns an auth service for the keyring's entities; its first global id is
// firstGlobalID, and each service gets three rotating secrets (ids 1, 2, 3: previous,
// current, next) created now.
func NewMonitor(kr *Keyring, rand io.Reader, firstGlobalID uint64, now time.Time) (*Monitor, error) {
	m := &Monitor{keyring: kr, rand: rand, globalID: firstGlobalID - 1, secrets: map[uint32]*RotatingSecrets{},
		serviceTTL: ServiceTicketTTL, req: DefaultRequirements()}
	for _, s := range services {
		r := &RotatingSecrets{MaxVer: 3}
		for id := uint64(1); id <= 3; id++ {
			k, err := NewAESKey(rand, UtimeOf(now))
			if err != nil {
				return nil, err
			}
			exp := UtimeOf(now.Add(time.Duration(id) * ServiceTicketTTL))
			r.Secrets = append(r.Secrets, RotatingSecret{ID: id, Key: k, Expiration: exp})
		}
		m.secrets[s] = r
	}
	return m, nil
}

// SetServiceTicketTTL sets the validity of the service tickets handed out from now on (Ceph's
// auth_service_ticket_ttl; the simulator uses milliseconds) and of the secrets Rotate adds.
func (m *Monitor) SetServiceTicketTTL(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.serviceTTL = d
}

// SetRequirements sets what a client's connection must support for the monitor to offer it
// cephx (the monitor's own cephx_*_require_* options, those its messenger has:
// Messenger.Requirements); DefaultRequirements until then.
func (m *Monitor) SetRequirements(r Requirements) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.req = r
}

func (m *Monitor) requirements() Requirements {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.req
}

// Rotate rotates every service's secrets once, as Ceph's KeyServer does when the current
// one expires: the oldest is dropped and a new one (the next id) is added, so the current
// becomes the previous and the next the current. A ticket sealed with the dropped secret no
// longer opens: its holder must renew it.
func (m *Monitor) Rotate(now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range services {
		r := m.secrets[s]
		k, err := NewAESKey(m.rand, UtimeOf(now))
		if err != nil {
			return err
		}
		r.MaxVer++
		r.Secrets = append(r.Secrets[1:], RotatingSecret{ID: r.MaxVer, Key: k,
			Expiration: UtimeOf(now.Add(time.Duration(len(r.Secrets)) * m.serviceTTL))})
	}
	return nil
}

// ServiceKeys are the keys a daemon of the service type opens tickets with (what it would get
// with CEPHX_GET_ROTATING_KEY).
func (m *Monitor) ServiceKeys(service wire.EntityType) *ServiceKeys {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.secrets[uint32(service)]
	if !ok {
		return &ServiceKeys{Service: uint32(service)}
	}
	return &ServiceKeys{Service: uint32(service), Rotating: cloneRotating(r)}
}

func cloneRotating(r *RotatingSecrets) RotatingSecrets {
	return RotatingSecrets{Secrets: slices.Clone(r.Secrets), MaxVer: r.MaxVer}
}

func (m *Monitor) nextGlobalID() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.globalID++
	return m.globalID
}

// Secret implements KeyStore with the monitor's rotating secrets.
func (m *Monitor) Secret(service uint32, secretID uint64) (Key, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.secrets[service]
	if !ok {
		return Key{}, false
	}
	return r.Lookup(secretID)
}

func (m *Monitor) current(service uint32) (RotatingSecret, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.secrets[service]
	if !ok {
		return RotatingSecret{}, false
	}
	return r.Current()
}

// ErrRefused: the auth service refused a request (the reply carries the errno).
var ErrRefused = errors.New("cephx monitor: refused")

// MonSession is one client's cephx exchange with the Monitor (a monitor's per-connection
// auth session). Not safe for concurrent use.
type MonSession struct {
	m               *Monitor
	features        uint64 // the connection's negotiated features
	name            wire.AuthEntityName
	globalID        uint64
	serverChallenge uint64
	challenged      bool
	authenticated   bool
	sessionKey      Key // the auth ticket's
}

// NewSession starts the exchange of a client whose connection has every feature
// (wire.FeaturesAll), as an in-process client has: the Requirements always hold.
func (m *Monitor) NewSession() *MonSession { return m.NewConnSession(wire.FeaturesAll) }

// NewConnSession starts the exchange of one client connection whose negotiated features
// (msgr.Connection.Features) are features: the monitor's Requirements are checked against
// them when the client negotiates.
func (m *Monitor) NewConnSession(features uint64) *MonSession {
	return &MonSession{m: m, features: features}
}

// Name and GlobalID are who the session authenticated (once Authenticated).
func (s *MonSession) Name() wire.AuthEntityName { return s.name }

// GlobalID is the global id assigned to the session.
func (s *MonSession) GlobalID() uint64 { return s.globalID }

// Authenticated reports whether the client proved its key.
func (s *MonSession) Authenticated() bool { return s.authenticated }

// Handle answers one MAuth. The reply is never nil; a refusal (result < 0) comes with an
// error wrapping ErrRefused that says why.
func (s *MonSession) Handle(a *wire.MAuth, now time.Time) (*wire.MAuthReply, error) {
	if a.Protocol == wire.AuthUnknown {
		if s.challenged { // Ceph's session has its auth handler: the payload is no cephx request
			return s.refuseNegotiation(a, s.globalID, -22, errors.New("a second negotiation on the session"))
		}
		return s.negotiate(a)
	}
	if a.Protocol != wire.AuthCephx || !s.challenged {
		return s.refuse(-22, "MAuth protocol %d before negotiating cephx", a.Protocol)
	}
	req, err := DecodeRequest(a.AuthPayload)
	if err != nil {
		return s.refuse(-22, "undecodable cephx request: %v", err)
	}
	switch req.Type {
	case GetAuthSessionKey:
		return s.authenticate(&req.Authenticate, now)
	case GetPrincipalSessionKey:
		return s.principal(&req, now)
	case GetRotatingKey:
		return s.rotating()
	}
	return s.refuse(-22, "request type %#x", req.Type)
}

// refuseNegotiation refuses the first MAuth as a Ceph monitor does before it has an auth
// handler for the session: the reply carries the request's protocol and the global id the
// client sent.
func (s *MonSession) refuseNegotiation(a *wire.MAuth, globalID uint64, errno int32, why error) (*wire.MAuthReply, error) {
	r := &wire.MAuthReply{Protocol: a.Protocol, Result: errno, GlobalID: globalID}
	return r, fmt.Errorf("%w: %w: %s (%d)", ErrRefused, why, errnoName(errno), errno)
}

func (s *MonSession) refuse(errno int32, format string, args ...any) (*wire.MAuthReply, error) {
	r := &wire.MAuthReply{Protocol: wire.AuthCephx, Result: errno, GlobalID: s.globalID}
	return r, fmt.Errorf("%w: %s: %s (%d)", ErrRefused, fmt.Sprintf(format, args...), errnoName(errno), errno)
}

// negotiate answers the first MAuth: cephx if offered and the connection meets the
// Requirements, a global id, the server challenge. A refusal here is Ceph's: the request's
// protocol (unknown) and the global id the client sent, no payload, no global id assigned.
func (s *MonSession) negotiate(a *wire.MAuth) (*wire.MAuthReply, error) {
	req, err := wire.DecodeAuthNoneRequest(a.AuthPayload)
	if err != nil {
		return s.refuseNegotiation(a, 0, -22, fmt.Errorf("undecodable auth request: %w", err))
	}
	s.name = req.Name
	if !slices.Contains(req.Methods, wire.AuthCephx) {
		return s.refuseNegotiation(a, req.GlobalID, -95, fmt.Errorf("%s offers methods %v, not cephx", req.Name, req.Methods))
	}
	if err := s.m.requirements().CheckMAuth(wire.EntityType(req.Name.Type), s.features); err != nil {
		return s.refuseNegotiation(a, req.GlobalID, -95, fmt.Errorf("%s: %w", req.Name, err))
	}
	if s.globalID == 0 {
		s.globalID = s.m.nextGlobalID()
	}
	var b [8]byte
	if _, err := io.ReadFull(s.m.rand, b[:]); err != nil {
		return s.refuse(-5, "draw a server challenge: %v", err)
	}
	s.serverChallenge = binary.LittleEndian.Uint64(b[:])
	s.challenged = true
	return &wire.MAuthReply{Protocol: wire.AuthCephx, GlobalID: s.globalID,
		ResultBl: AppendServerChallenge(nil, s.serverChallenge)}, nil
}

// authenticate checks the proof of CEPHX_GET_AUTH_SESSION_KEY and grants the auth ticket,
// with the other services' tickets when asked.
func (s *MonSession) authenticate(a *Authenticate, now time.Time) (*wire.MAuthReply, error) {
	key, err := s.m.keyring.Key(s.name)
	if err != nil {
		return s.refuse(-13, "%s: %v", s.name, err)
	}
	proof, err := ClientProof(key, s.serverChallenge, a.ClientChallenge)
	if err != nil || proof != a.Key {
		return s.refuse(-13, "%s: the proof does not match its key", s.name)
	}
	s.sessionKey, err = NewAESKey(s.m.rand, UtimeOf(now))
	if err != nil {
		return s.refuse(-5, "draw a session key: %v", err)
	}
	authGrant, err := s.grant(uint32(wire.EntityAuth), s.sessionKey, AuthTicketTTL, now)
	if err != nil {
		return s.refuse(-5, "%v", err)
	}
	bl := AppendResponseHeader(nil, ResponseHeader{Type: GetAuthSessionKey})
	if bl, err = AppendTicketReply(bl, key, []Grant{authGrant}, nil); err != nil {
		return s.refuse(-5, "%v", err)
	}
	if a.Version >= 2 && a.OtherKeys != 0 {
		extra, err := s.grants(a.OtherKeys&^uint32(wire.EntityAuth), now)
		if err != nil {
			return s.refuse(-5, "%v", err)
		}
		e := encoder{b: bl}
		e.bytes(nil) // connection secret: none on msgr1
		tickets, err := AppendTicketReply(nil, s.sessionKey, extra, nil)
		if err != nil {
			return s.refuse(-5, "%v", err)
		}
		e.bytes(tickets)
		bl = e.b
	}
	s.authenticated = true
	return &wire.MAuthReply{Protocol: wire.AuthCephx, GlobalID: s.globalID, ResultBl: bl}, nil
}

// principal grants service tickets to the holder of an auth ticket
// (CEPHX_GET_PRINCIPAL_SESSION_KEY): the authorizer is opened with the auth service's
// secrets, and the tickets are encrypted with the session key it carries.
func (s *MonSession) principal(req *Request, now time.Time) (*wire.MAuthReply, error) {
	info, _, err := openAuthorizer(&req.Authorizer, s.m)
	if err != nil {
		return s.refuse(-1, "ticket request: %v", err)
	}
	if info.Ticket.GlobalID != s.globalID || info.Ticket.Name != s.name {
		return s.refuse(-1, "ticket request from %s/%d with the ticket of %s/%d", s.name, s.globalID,
			info.Ticket.Name, info.Ticket.GlobalID)
	}
	grants, err := s.grants(req.Keys&^uint32(wire.EntityAuth), now)
	if err != nil {
		return s.refuse(-5, "%v", err)
	}
	bl := AppendResponseHeader(nil, ResponseHeader{Type: GetPrincipalSessionKey})
	if bl, err = AppendTicketReply(bl, info.SessionKey, grants, nil); err != nil {
		return s.refuse(-5, "%v", err)
	}
	return &wire.MAuthReply{Protocol: wire.AuthCephx, GlobalID: s.globalID, ResultBl: bl}, nil
}

// rotating gives an authenticated daemon the rotating secrets of its service type.
func (s *MonSession) rotating() (*wire.MAuthReply, error) {
	if !s.authenticated {
		return s.refuse(-1, "rotating secrets before authenticating")
	}
	key, err := s.m.keyring.Key(s.name)
	if err != nil {
		return s.refuse(-13, "%v", err)
	}
	keys := s.m.ServiceKeys(wire.EntityType(s.name.Type))
	bl := AppendResponseHeader(nil, ResponseHeader{Type: GetRotatingKey})
	if bl, err = AppendSealed(bl, key, keys.Rotating.AppendEncoded(nil)); err != nil {
		return s.refuse(-5, "%v", err)
	}
	return &wire.MAuthReply{Protocol: wire.AuthCephx, GlobalID: s.globalID, ResultBl: bl}, nil
}

// grants makes a ticket for every service in the mask, each with a fresh session key.
func (s *MonSession) grants(mask uint32, now time.Time) ([]Grant, error) {
	var out []Grant
	for _, svc := range services {
		if mask&svc == 0 {
			continue
		}
		sk, err := NewAESKey(s.m.rand, UtimeOf(now))
		if err != nil {
			return nil, err
		}
		s.m.mu.Lock()
		ttl := s.m.serviceTTL
		s.m.mu.Unlock()
		g, err := s.grant(svc, sk, ttl, now)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// grant seals a ticket for one service with its current secret.
func (s *MonSession) grant(service uint32, sessionKey Key, ttl time.Duration, now time.Time) (Grant, error) {
	cur, ok := s.m.current(service)
	if !ok {
		return Grant{}, fmt.Errorf("cephx monitor: no secret for %s", serviceName(service))
	}
	info := ServiceTicketInfo{
		Ticket: Ticket{Name: s.name, GlobalID: s.globalID, Created: UtimeOf(now), Expires: UtimeOf(now.Add(ttl)),
			Caps: CapsInfo{Caps: s.caps(service)}},
		SessionKey: sessionKey,
	}
	blob, err := SealTicket(&info, cur.Key, cur.ID)
	if err != nil {
		return Grant{}, err
	}
	return Grant{Service: service, SessionKey: sessionKey, Validity: UtimeOf(time.Unix(0, 0).Add(ttl)), Blob: blob}, nil
}

// caps are the entity's caps for a service as Ceph puts them in a ticket: the cap string
// encoded (le32 length, bytes); empty when the keyring gives none.
func (s *MonSession) caps(service uint32) []byte {
	e, ok := s.m.keyring.Lookup(s.name)
	if !ok {
		return nil
	}
	c, ok := e.Caps[serviceName(service)]
	if !ok {
		return nil
	}
	enc := encoder{}
	enc.str(c)
	return enc.b
}
