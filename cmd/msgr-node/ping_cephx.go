package main

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/auth/cephx"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// ping -auth cephx: the handshake (no authorizer toward a monitor, as Ceph's clients), then
// the cephx MAuth exchange (negotiation, CEPHX_GET_AUTH_SESSION_KEY, service tickets), then
// the MMonMap a monitor sends a newly authenticated client, whose fsid is printed. Nothing on
// this session is signed: on msgr1 Ceph signs only sessions opened with an authorizer
// (docs/cephx.md, fact 1).

type ticketJSON struct {
	Service  string `json:"service"`
	SecretID uint64 `json:"secret_id"`
	Expires  string `json:"expires"`
}

// cephxPing is the dispatcher of a cephx ping.
type cephxPing struct {
	msgr.NopDispatcher
	replies chan *wire.MAuthReply
	monmap  chan []byte
	connect chan struct{}
	reset   chan struct{}
}

func newCephxPing() *cephxPing {
	return &cephxPing{replies: make(chan *wire.MAuthReply, 8), monmap: make(chan []byte, 1),
		connect: make(chan struct{}, 1), reset: make(chan struct{}, 1)}
}

func (p *cephxPing) Dispatch(_ *msgr.Connection, m *msgr.Message) bool {
	switch m.Header.Type {
	case wire.MsgAuthReply:
		r, err := wire.DecodeMAuthReply(m.Front)
		if err != nil {
			r = wire.MAuthReply{Result: -5, ResultMsg: "undecodable MAuthReply: " + err.Error()}
		}
		p.replies <- &r
	case wire.MsgMonMap:
		select {
		case p.monmap <- m.Front:
		default:
		}
	}
	return true
}

func (p *cephxPing) HandleConnect(*msgr.Connection) { notify(p.connect) }
func (p *cephxPing) HandleReset(*msgr.Connection) bool {
	notify(p.reset)
	return true
}
func (p *cephxPing) HandleRemoteReset(*msgr.Connection) { notify(p.reset) }

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// pingCephx authenticates name with key at a monitor, lists the tickets and waits for the
// monmap.
func pingCephx(target wire.EntityAddr, name wire.AuthEntityName, key cephx.Key, timeout time.Duration) (pingResult, error) {
	l, err := loginCephx(target, name, key, timeout)
	if l == nil {
		return pingResult{Peer: target.String(), Handshake: "failed"}, err
	}
	defer l.close()
	if err != nil {
		return *l.s.res, err
	}
	for _, t := range l.cl.Tickets() {
		l.s.res.Tickets = append(l.s.res.Tickets, ticketJSON{Service: wire.EntityType(t.Service).String(),
			SecretID: t.Blob.SecretID, Expires: t.Expires.UTC().Format(time.RFC3339)})
	}
	err = l.s.fsid()
	return *l.s.res, err
}

// cephxLogin is a client messenger with a monitor session authenticated by cephx.
type cephxLogin struct {
	m  *msgr.Messenger
	rt *event.GoRuntime
	s  *cephxSession
	cl *cephx.Client
}

func (l *cephxLogin) close() {
	l.m.Shutdown()
	l.m.Wait()
	l.rt.Wait()
}

// loginCephx opens a session with a monitor and authenticates name with key; the result is in
// l.s.res. A non-nil login must be closed, also with an error.
func loginCephx(target wire.EntityAddr, name wire.AuthEntityName, key cephx.Key, timeout time.Duration) (*cephxLogin, error) {
	return loginCephxFeatures(target, name, key, timeout, wire.FeaturesAll)
}

// loginCephxFeatures is loginCephx over a session that offers only the given features.
func loginCephxFeatures(target wire.EntityAddr, name wire.AuthEntityName, key cephx.Key, timeout time.Duration,
	features uint64) (*cephxLogin, error) {
	stack, err := realStack()
	if err != nil {
		return nil, err
	}
	rt := &event.GoRuntime{}
	auth := cephx.NewMessenger(wire.EntityClient)
	m, err := msgr.New(msgr.Config{
		Name: wire.NewName(wire.EntityClient, -1), Stack: stack, Runtime: rt, Workers: 1, Auth: auth,
	})
	if err != nil {
		return nil, err
	}
	policy := proto.LossyClient(0)
	policy.FeaturesSupported = features
	m.SetPolicy(wire.EntityMon, policy)
	if err := m.Start(); err != nil {
		return nil, err
	}
	l := &cephxLogin{m: m, rt: rt}
	d := newCephxPing()
	m.AddDispatcherTail(d)
	res := &pingResult{Peer: target.String(), Handshake: "failed"}
	l.s = &cephxSession{d: d, deadline: time.Now().Add(timeout), res: res}
	if l.s.c, err = m.ConnectTo(wire.EntityMon, target); err != nil {
		return l, err
	}
	l.cl = cephx.NewClient(cephx.ClientConfig{Name: name, Key: key, Rand: crand.Reader})
	if err := l.s.authenticate(l.cl); err != nil {
		return l, err
	}
	auth.SetTickets(l.cl.GlobalID(), l.cl.Tickets()...)
	return l, nil
}

type cephxSession struct {
	c        *msgr.Connection
	d        *cephxPing
	deadline time.Time
	res      *pingResult
}

func (s *cephxSession) send(a *wire.MAuth) error {
	msg := wire.NewMessage(wire.MsgAuth, a.AppendFront(nil))
	msg.Header.Priority = wire.PrioDefault
	return s.c.SendMessage(msg)
}

// authenticate runs the MAuth exchange to its end.
func (s *cephxSession) authenticate(cl *cephx.Client) error {
	if err := s.send(cl.Start()); err != nil {
		return err
	}
	for {
		r, err := s.next()
		if err != nil {
			return err
		}
		s.res.AuthReply = &authReplyJSON{Protocol: r.Protocol, Result: r.Result, GlobalID: r.GlobalID}
		next, err := cl.Handle(r, time.Now())
		if errors.Is(err, cephx.ErrDenied) {
			return err // "cephx: authentication denied: the monitor answered EACCES (-13) …"
		}
		if err != nil {
			return fmt.Errorf("authentication: %w", err)
		}
		if next == nil {
			return nil
		}
		if err := s.send(next); err != nil {
			return err
		}
	}
}

// next waits for the next MAuthReply, noting the handshake on the way.
func (s *cephxSession) next() (*wire.MAuthReply, error) {
	for {
		select {
		case r := <-s.d.replies:
			s.opened()
			return r, nil
		case <-s.d.connect:
			s.opened()
		case <-s.d.reset:
			return nil, errors.New("the peer reset the session")
		case <-time.After(time.Until(s.deadline)):
			return nil, fmt.Errorf("timed out (handshake %s, auth reply %v)", s.res.Handshake, s.res.AuthReply != nil)
		}
	}
}

func (s *cephxSession) opened() {
	if s.res.Handshake != "ok" {
		s.res.Handshake = "ok"
		s.res.ReplyTag = s.c.LastReplyTag().String()
		s.res.Features = fmt.Sprintf("%#x", s.c.Features())
	}
}

// fsid waits for the monitor's MMonMap and reads the fsid from it: the front is the encoded
// monmap as a bufferlist (le32 length), which starts with ENCODE_START (u8 version, u8
// compat, le32 length) and then the 16-byte fsid.
func (s *cephxSession) fsid() error {
	select {
	case front := <-s.d.monmap:
		if len(front) < 4+6+16 {
			return fmt.Errorf("MMonMap front of %d bytes: too short for a monmap", len(front))
		}
		s.res.FSID = formatUUID(front[10:26])
		return nil
	case <-s.d.reset:
		return errors.New("the peer reset the session before sending its monmap")
	case <-time.After(time.Until(s.deadline)):
		return errors.New("timed out waiting for the monitor's MMonMap")
	}
}

func formatUUID(b []byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
