package cephx

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Errors of the client session.
var (
	// ErrDenied: the monitor refused (a negative MAuthReply result: wrong key, unknown
	// entity, no caps) or answered with a ticket reply the client's key does not open.
	ErrDenied = errors.New("cephx: authentication denied")
	// ErrProtocol: the monitor's reply does not fit the exchange (wrong protocol, unexpected
	// request type, a reply after the end).
	ErrProtocol = errors.New("cephx: protocol error")
)

// Services a client usually wants tickets for (MonClient's want_keys for a client).
const DefaultWant = uint32(wire.EntityMon) | uint32(wire.EntityOSD) | uint32(wire.EntityMgr)

// ClientConfig configures a client session.
type ClientConfig struct {
	Name wire.AuthEntityName // who we are, e.g. {EntityClient, "admin"}
	Key  Key                 // our secret, from the keyring
	// Want is the services to get tickets for (a mask of entity types); the auth service is
	// always included, so EntityAuth alone asks for no other service; 0 means DefaultWant.
	Want uint32
	// Separate gets the service tickets with a CEPHX_GET_PRINCIPAL_SESSION_KEY request after
	// the session key, as Ceph's client does on msgr1: its CEPHX_GET_AUTH_SESSION_KEY still
	// names them (other_keys) and a Nautilus or later monitor sends them along, but it
	// ignores those. Without Separate the client keeps them and saves a round trip.
	Separate bool
	// Rand draws the client challenge and authorizer nonces.
	Rand io.Reader
}

// Ticket is a ticket the client holds for a service.
type ClientTicket struct {
	Service    uint32
	SessionKey Key
	Blob       TicketBlob
	Expires    time.Time // when the ticket stops working
	RenewAfter time.Time // when to ask for a new one (a quarter of the validity before Expires)
}

type clientState uint8

const (
	stateStart clientState = iota
	stateNegotiating
	stateAuthenticating
	stateTickets
	stateRotating
	stateDone
)

// Client is a cephx client session with a monitor over MAuth/MAuthReply messages (Ceph's
// CephxClientHandler driven by MonConnection). It is a pure state machine: Start gives the
// first MAuth, each MAuthReply fed to Handle gives the next MAuth or reports that the session
// is authenticated; it does no I/O and reads no clock (callers pass the time). Not safe for
// concurrent use.
//
//	c := cephx.NewClient(cfg)
//	send(c.Start())
//	for { next, err := c.Handle(reply, now); if err != nil || next == nil { break }; send(next) }
//	c.GlobalID(), c.SessionKey(), c.Ticket(wire.EntityOSD)
type Client struct {
	cfg             ClientConfig
	state           clientState
	globalID        uint64
	serverChallenge uint64
	tickets         map[uint32]*ClientTicket
	rotating        RotatingSecrets
}

// NewClient returns a client session that has sent nothing yet.
func NewClient(cfg ClientConfig) *Client {
	if cfg.Want == 0 {
		cfg.Want = DefaultWant
	}
	cfg.Want |= uint32(wire.EntityAuth)
	return &Client{cfg: cfg, tickets: make(map[uint32]*ClientTicket)}
}

// Start returns the first MAuth: protocol 0 (negotiate), offering cephx.
func (c *Client) Start() *wire.MAuth {
	c.state = stateNegotiating
	return &wire.MAuth{SessionMon: -1, Protocol: wire.AuthUnknown,
		AuthPayload: InitialRequest(c.cfg.Name, c.globalID, wire.AuthCephx)}
}

// Done reports whether the session is authenticated with every ticket it wanted.
func (c *Client) Done() bool { return c.state == stateDone }

// GlobalID is the global id the monitor assigned (0 before the first reply).
func (c *Client) GlobalID() uint64 { return c.globalID }

// SessionKey is the auth session key, shared with the monitors.
func (c *Client) SessionKey() (Key, bool) {
	t, ok := c.tickets[uint32(wire.EntityAuth)]
	if !ok {
		return Key{}, false
	}
	return t.SessionKey, true
}

// Ticket returns the ticket held for a service.
func (c *Client) Ticket(service wire.EntityType) (ClientTicket, bool) {
	t, ok := c.tickets[uint32(service)]
	if !ok {
		return ClientTicket{}, false
	}
	return *t, true
}

// Tickets returns every ticket held, by service number.
func (c *Client) Tickets() []ClientTicket {
	out := make([]ClientTicket, 0, len(c.tickets))
	for _, t := range c.tickets { //lint:ordered sorted below
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b ClientTicket) int { return cmp.Compare(a.Service, b.Service) })
	return out
}

// Rotating returns the rotating secrets received with RequestRotating.
func (c *Client) Rotating() RotatingSecrets { return c.rotating }

// Authorizer builds an authorizer for a service the client holds a ticket for.
func (c *Client) Authorizer(service wire.EntityType) (*ClientAuthorizer, error) {
	t, ok := c.tickets[uint32(service)]
	if !ok {
		return nil, fmt.Errorf("cephx: no ticket for %s", service)
	}
	return NewAuthorizer(c.globalID, uint32(service), t.Blob, t.SessionKey, c.cfg.Rand)
}

// Handle feeds the monitor's reply to the last MAuth. It returns the next MAuth to send, or
// nil when the exchange is over (Done reports success). An error ends the session: ErrDenied
// when the monitor refused, ErrProtocol or a decode error when its reply makes no sense.
func (c *Client) Handle(r *wire.MAuthReply, now time.Time) (*wire.MAuth, error) {
	switch c.state {
	case stateNegotiating:
		return c.handleChallenge(r)
	case stateAuthenticating, stateTickets, stateRotating:
		return c.handleResponse(r, now)
	}
	return nil, fmt.Errorf("%w: MAuthReply in state %d", ErrProtocol, c.state)
}

func (c *Client) handleChallenge(r *wire.MAuthReply) (*wire.MAuth, error) {
	if r.Result < 0 {
		return nil, c.denied(r)
	}
	if r.Protocol != wire.AuthCephx {
		return nil, fmt.Errorf("%w: the monitor chose auth protocol %d, not cephx", ErrProtocol, r.Protocol)
	}
	if r.GlobalID == 0 {
		return nil, fmt.Errorf("%w: the monitor assigned global id 0", ErrProtocol)
	}
	ch, err := DecodeServerChallenge(r.ResultBl)
	if err != nil {
		return nil, err
	}
	c.globalID, c.serverChallenge = r.GlobalID, ch
	return c.authenticate()
}

// authenticate builds CEPHX_GET_AUTH_SESSION_KEY (CephxClientHandler::build_request).
func (c *Client) authenticate() (*wire.MAuth, error) {
	var b [8]byte
	if _, err := io.ReadFull(c.cfg.Rand, b[:]); err != nil {
		return nil, fmt.Errorf("cephx: draw a client challenge: %w", err)
	}
	a := Authenticate{Version: 3, ClientChallenge: binary.LittleEndian.Uint64(b[:])}
	var err error
	if a.Key, err = ClientProof(c.cfg.Key, c.serverChallenge, a.ClientChallenge); err != nil {
		return nil, err
	}
	a.OtherKeys = c.cfg.Want // as Ceph's client: every service it needs, auth included
	if t, ok := c.tickets[uint32(wire.EntityAuth)]; ok {
		a.OldTicket = t.Blob // a renewal: the ticket it replaces (Ceph's old_ticket)
	}
	c.state = stateAuthenticating
	return c.mauth(&Request{Type: GetAuthSessionKey, Authenticate: a}), nil
}

func (c *Client) mauth(r *Request) *wire.MAuth {
	return &wire.MAuth{SessionMon: -1, Protocol: wire.AuthCephx, AuthPayload: r.AppendEncoded(nil)}
}

func (c *Client) handleResponse(r *wire.MAuthReply, now time.Time) (*wire.MAuth, error) {
	if r.Result < 0 {
		return nil, c.denied(r)
	}
	if len(r.ResultBl) >= 2 {
		if got, want := binary.LittleEndian.Uint16(r.ResultBl), c.expecting(); got != want {
			return nil, fmt.Errorf("%w: got a reply to %s, expected %s", ErrProtocol, requestName(got), requestName(want))
		}
	}
	keys := ResponseKeys{Secret: c.cfg.Key, Previous: c.previous}
	keys.Session, _ = c.SessionKey()
	resp, err := DecodeResponse(r.ResultBl, keys)
	if err != nil {
		if errors.Is(err, ErrDecrypt) {
			return nil, fmt.Errorf("%w: %w", ErrDenied, err)
		}
		return nil, err
	}
	if resp.Header.Status < 0 {
		return nil, fmt.Errorf("%w: %s failed with status %d", ErrDenied, requestName(resp.Header.Type), resp.Header.Status)
	}
	return c.absorb(&resp, now)
}

func (c *Client) expecting() uint16 {
	switch c.state {
	case stateAuthenticating:
		return GetAuthSessionKey
	case stateTickets:
		return GetPrincipalSessionKey
	}
	return GetRotatingKey
}

func (c *Client) absorb(resp *Response, now time.Time) (*wire.MAuth, error) {
	if c.state == stateRotating {
		c.rotating = resp.Rotating
		c.state = stateDone
		return nil, nil
	}
	c.store(resp.Tickets, now)
	if !c.cfg.Separate {
		c.store(resp.Extra, now)
	}
	if c.state == stateAuthenticating {
		if _, ok := c.tickets[uint32(wire.EntityAuth)]; !ok {
			return nil, fmt.Errorf("%w: the session key reply has no auth ticket", ErrProtocol)
		}
	}
	missing := c.NeedRenewal(now)
	if missing == 0 {
		c.state = stateDone
		return nil, nil
	}
	if c.state == stateTickets {
		return nil, fmt.Errorf("%w: no ticket for services %#x", ErrDenied, missing)
	}
	return c.requestTickets(missing)
}

// requestTickets builds CEPHX_GET_PRINCIPAL_SESSION_KEY: an authorizer for the auth service
// and the services wanted.
func (c *Client) requestTickets(keys uint32) (*wire.MAuth, error) {
	az, err := c.Authorizer(wire.EntityAuth)
	if err != nil {
		return nil, err
	}
	a, err := DecodeAuthorizer(az.Bytes())
	if err != nil {
		return nil, err
	}
	c.state = stateTickets
	return c.mauth(&Request{Type: GetPrincipalSessionKey, Authorizer: a, Keys: keys}), nil
}

// RequestRotating returns an MAuth asking for the rotating secrets of the client's own service
// type (what a daemon does once authenticated); feed the reply to Handle.
func (c *Client) RequestRotating() (*wire.MAuth, error) {
	if c.state != stateDone {
		return nil, fmt.Errorf("%w: rotating secrets before the session is authenticated", ErrProtocol)
	}
	c.state = stateRotating
	return c.mauth(&Request{Type: GetRotatingKey}), nil
}

func (c *Client) store(grants []Grant, now time.Time) {
	for _, g := range grants {
		t := &ClientTicket{Service: g.Service, SessionKey: g.SessionKey, Blob: g.Blob}
		if !g.Validity.IsZero() {
			v := g.Validity.Duration()
			t.Expires = now.Add(v)
			t.RenewAfter = t.Expires.Add(-time.Duration(g.Validity.Sec) * time.Second / 4)
		}
		c.tickets[g.Service] = t
	}
}

// NeedRenewal returns the wanted services (the auth service included) the client holds no
// ticket for, or whose ticket is due for renewal at now: RenewAfter, a quarter of the
// validity before it expires, has passed (Ceph's CephXTicketHandler::need_key). Renew asks
// for them.
func (c *Client) NeedRenewal(now time.Time) uint32 {
	var m uint32
	for s := uint32(1); s <= c.cfg.Want && s != 0; s <<= 1 {
		if c.cfg.Want&s == 0 {
			continue
		}
		if t := c.tickets[s]; t == nil || !t.RenewAfter.IsZero() && !now.Before(t.RenewAfter) {
			m |= s
		}
	}
	return m
}

// Renew returns the MAuth that renews the tickets NeedRenewal(now) reports, or nil when none
// is due; feed the monitor's reply to Handle as during authentication (Done again once the
// tickets are in; GlobalID stays). As Ceph's client does (CephxClientHandler::build_request):
// when the auth ticket is due, CEPHX_GET_AUTH_SESSION_KEY again, proved with the session's
// server challenge and carrying the old auth ticket (then, with Separate, the service tickets
// by CEPHX_GET_PRINCIPAL_SESSION_KEY); otherwise CEPHX_GET_PRINCIPAL_SESSION_KEY for the
// services due, with an authorizer of the current auth ticket. Tickets held stay usable until
// the reply replaces them.
func (c *Client) Renew(now time.Time) (*wire.MAuth, error) {
	if c.state != stateDone {
		return nil, fmt.Errorf("%w: renewal before the session is authenticated", ErrProtocol)
	}
	need := c.NeedRenewal(now)
	switch {
	case need == 0:
		return nil, nil
	case need&uint32(wire.EntityAuth) != 0:
		return c.authenticate()
	}
	return c.requestTickets(need)
}

// previous returns the session key of the ticket held for a service: what the monitor
// encrypts a renewed ticket blob with.
func (c *Client) previous(service uint32) (Key, bool) {
	t, ok := c.tickets[service]
	if !ok {
		return Key{}, false
	}
	return t.SessionKey, true
}

func (c *Client) denied(r *wire.MAuthReply) error {
	msg := ""
	if r.ResultMsg != "" {
		msg = ": " + r.ResultMsg
	}
	return fmt.Errorf("%w: the monitor answered %s (%d) to %s%s", ErrDenied, errnoName(r.Result), r.Result,
		c.cfg.Name, msg)
}

// errnoName names the errors a monitor answers MAuth with.
func errnoName(r int32) string {
	switch r {
	case -1:
		return "EPERM"
	case -2:
		return "ENOENT"
	case -5:
		return "EIO"
	case -13:
		return "EACCES"
	case -22:
		return "EINVAL"
	case -95:
		return "EOPNOTSUPP"
	case -11:
		return "EAGAIN"
	}
	return "error"
}
