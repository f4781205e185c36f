package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/auth/cephx"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

type pingResult struct {
	Peer         string         `json:"peer"`
	Handshake    string         `json:"handshake"`
	ReplyTag     string         `json:"reply_tag"`
	Features     string         `json:"features"`
	KeepaliveRTT int64          `json:"keepalive_rtt_us"`
	AuthReply    *authReplyJSON `json:"auth_reply"`
	Tickets      []ticketJSON   `json:"tickets,omitempty"` // -auth cephx: the service tickets obtained
	FSID         string         `json:"fsid,omitempty"`    // -auth cephx: from the monitor's MMonMap
}

type authReplyJSON struct {
	Protocol uint32 `json:"protocol"`
	Result   int32  `json:"result"`
	GlobalID uint64 `json:"global_id"`
}

// pingClient is the dispatcher of a ping: it records the session opening, resets and the
// MAuthReply.
type pingClient struct {
	msgr.NopDispatcher
	mu        sync.Mutex
	connected bool
	reset     bool
	reply     *wire.MAuthReply
	replyErr  error
}

func (p *pingClient) HandleConnect(*msgr.Connection) { p.set(func() { p.connected = true }) }
func (p *pingClient) HandleReset(*msgr.Connection) bool {
	p.set(func() { p.reset = true })
	return true
}
func (p *pingClient) HandleRemoteReset(*msgr.Connection) { p.set(func() { p.reset = true }) }

func (p *pingClient) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	if m.Header.Type != wire.MsgAuthReply {
		return false
	}
	r, err := wire.DecodeMAuthReply(m.Front)
	p.set(func() { p.reply, p.replyErr = &r, err })
	return true
}

func (p *pingClient) set(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
}

func (p *pingClient) snapshot() (connected, reset bool, reply *wire.MAuthReply, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.connected, p.reset, p.reply, p.replyErr
}

func pingCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ping", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print a JSON summary as the last line")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	name := fs.String("name", "client.admin", "auth entity name to present (type.id)")
	authMode := fs.String("auth", "none", "authentication: none or cephx")
	keyring := fs.String("keyring", "", "-auth cephx: the keyring holding -name's key")
	if ok, code := parseFlags(fs, args, "msgr-node ping [-json] [-timeout D] [-name client.admin] [-auth cephx -keyring FILE] v1:IP:PORT", stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "msgr-node ping: want exactly one address, e.g. v1:127.0.0.1:6789")
		return 2
	}
	target, err := wire.ParseEntityAddr(fs.Arg(0))
	if err != nil || target.Type != wire.AddrLegacy {
		fmt.Fprintf(stderr, "msgr-node ping: bad address %q: want v1:IP:PORT[/NONCE]\n", fs.Arg(0))
		return 2
	}
	authName, err := parseAuthName(*name)
	if err != nil {
		fmt.Fprintf(stderr, "msgr-node ping: %v\n", err)
		return 2
	}
	var res pingResult
	switch *authMode {
	case "none":
		res, err = ping(target, authName, *timeout)
	case "cephx":
		key, kerr := keyFor(*keyring, authName)
		if kerr != nil {
			fmt.Fprintf(stderr, "msgr-node ping: %v\n", kerr)
			return 2
		}
		res, err = pingCephx(target, authName, key, *timeout)
	default:
		fmt.Fprintf(stderr, "msgr-node ping: -auth %q: want none or cephx\n", *authMode)
		return 2
	}
	if *asJSON {
		b, _ := json.Marshal(res)
		defer fmt.Fprintln(stdout, string(b))
	}
	if err != nil {
		fmt.Fprintf(stderr, "msgr-node ping %v: %v\n", target, err)
		return 1
	}
	if !*asJSON && *authMode == "cephx" {
		fmt.Fprintf(stdout, "%s: handshake ok (%s, features %s), cephx: global_id %d, %d tickets, fsid %s\n",
			res.Peer, res.ReplyTag, res.Features, res.AuthReply.GlobalID, len(res.Tickets), res.FSID)
		return 0
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "%s: handshake ok (%s, features %s), keepalive rtt %dµs, auth reply protocol %d result %d global_id %d\n",
			res.Peer, res.ReplyTag, res.Features, res.KeepaliveRTT, res.AuthReply.Protocol, res.AuthReply.Result, res.AuthReply.GlobalID)
	}
	return 0
}

// keyFor reads name's key from a keyring file.
func keyFor(path string, name wire.AuthEntityName) (cephx.Key, error) {
	if path == "" {
		return cephx.Key{}, errors.New("-auth cephx needs -keyring FILE")
	}
	kr, err := cephx.ReadKeyring(path)
	if err != nil {
		return cephx.Key{}, err
	}
	return kr.Key(name)
}

// parseAuthName parses "client.admin" into an auth entity name.
func parseAuthName(s string) (wire.AuthEntityName, error) {
	typ, id, ok := strings.Cut(s, ".")
	t, known := wire.ParseEntityType(typ)
	if !ok || !known || id == "" {
		return wire.AuthEntityName{}, fmt.Errorf("bad -name %q: want type.id, e.g. client.admin", s)
	}
	return wire.AuthEntityName{Type: uint32(t), ID: id}, nil
}

// ping runs the three steps once: handshake, KEEPALIVE2 round trip, MAuth → MAuthReply.
func ping(target wire.EntityAddr, name wire.AuthEntityName, timeout time.Duration) (pingResult, error) {
	cl, err := newMonClient(epoll.New(epoll.Options{}), name)
	if err != nil {
		return pingResult{Peer: target.String(), Handshake: "failed"}, err
	}
	defer cl.close()
	return cl.session(target, timeout)
}

// monClient is a client messenger that talks to monitors (lossy_client policy).
type monClient struct {
	m    *msgr.Messenger
	rt   *event.GoRuntime
	name wire.AuthEntityName
	d    atomic.Pointer[pingClient] // the current session's dispatcher
}

func newMonClient(stack netio.Stack, name wire.AuthEntityName) (*monClient, error) {
	rt := &event.GoRuntime{}
	m, err := msgr.New(msgr.Config{
		Name: wire.NewName(wire.EntityClient, -1), Stack: stack, Runtime: rt,
		Workers: 1, Auth: &msgr.AuthNone{Name: name, MyType: wire.EntityClient},
	})
	if err != nil {
		return nil, err
	}
	m.SetPolicy(wire.EntityMon, proto.LossyClient(0))
	if err := m.Start(); err != nil {
		return nil, err
	}
	cl := &monClient{m: m, rt: rt, name: name}
	m.AddDispatcherTail(dispatchTo{cl})
	return cl, nil
}

// dispatchTo forwards to the client's current session dispatcher.
type dispatchTo struct{ cl *monClient }

func (f dispatchTo) CanFastDispatchAny() bool                       { return false }
func (f dispatchTo) CanFastDispatch(*msgr.Message) bool             { return false }
func (f dispatchTo) FastDispatch(*msgr.Connection, *msgr.Message)   {}
func (f dispatchTo) FastPreprocess(*msgr.Connection, *msgr.Message) {}
func (f dispatchTo) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	return f.cl.d.Load().Dispatch(c, m)
}
func (f dispatchTo) HandleConnect(c *msgr.Connection)     { f.cl.d.Load().HandleConnect(c) }
func (f dispatchTo) HandleFastConnect(*msgr.Connection)   {}
func (f dispatchTo) HandleAccept(*msgr.Connection)        {}
func (f dispatchTo) HandleFastAccept(*msgr.Connection)    {}
func (f dispatchTo) HandleReset(c *msgr.Connection) bool  { return f.cl.d.Load().HandleReset(c) }
func (f dispatchTo) HandleRemoteReset(c *msgr.Connection) { f.cl.d.Load().HandleRemoteReset(c) }
func (f dispatchTo) HandleRefused(*msgr.Connection) bool  { return false }

func (cl *monClient) close() {
	cl.m.Shutdown()
	cl.m.Wait()
	cl.rt.Wait()
}

// session opens a session to target and runs the three steps on it.
func (cl *monClient) session(target wire.EntityAddr, timeout time.Duration) (pingResult, error) {
	res := pingResult{Peer: target.String(), Handshake: "failed"}
	d := &pingClient{}
	cl.d.Store(d)
	c, err := cl.m.ConnectTo(wire.EntityMon, target)
	if err != nil {
		return res, err
	}
	// As a real client does: a keepalive and MAuth, queued before the session opens.
	c.SendKeepalive()
	if err := c.SendMessage(mauth(cl.name)); err != nil {
		return res, err
	}
	return waitPing(c, d, res, time.Now().Add(timeout))
}

// waitPing waits for the three steps. The keepalive round trip is timed on a second
// keepalive sent once the session is open, so the handshake does not count.
func waitPing(c *msgr.Connection, d *pingClient, res pingResult, deadline time.Time) (pingResult, error) {
	var rtt time.Duration
	var kaSent time.Time
	for time.Now().Before(deadline) {
		connected, reset, reply, rerr := d.snapshot()
		if connected && res.Handshake != "ok" {
			res.Handshake = "ok"
			res.ReplyTag = c.LastReplyTag().String()
			res.Features = fmt.Sprintf("%#x", c.Features())
		}
		if ack := c.LastKeepaliveAck(); rtt == 0 && !ack.IsZero() {
			switch {
			case kaSent.IsZero():
				kaSent = time.Now()
				c.SendKeepalive()
			case !ack.Before(kaSent.Truncate(time.Microsecond)):
				rtt = max(time.Since(kaSent), time.Microsecond)
				res.KeepaliveRTT = rtt.Microseconds()
			}
		}
		if rerr != nil {
			return res, fmt.Errorf("bad MAuthReply: %w", rerr)
		}
		if reply != nil {
			res.AuthReply = &authReplyJSON{Protocol: reply.Protocol, Result: reply.Result, GlobalID: reply.GlobalID}
		}
		if reset && res.AuthReply == nil {
			return res, errors.New("the peer reset the session")
		}
		if res.Handshake == "ok" && rtt != 0 && res.AuthReply != nil {
			return res, nil
		}
		time.Sleep(20 * time.Microsecond)
	}
	return res, fmt.Errorf("timed out (handshake %s, keepalive ack %v, auth reply %v)",
		res.Handshake, rtt != 0, res.AuthReply != nil)
}

// mauth builds the MAuth a msgr1 client sends a monitor first: protocol 0 (negotiate), auth
// none offered, no global id yet (msgr1-protocol.md §5.4).
func mauth(name wire.AuthEntityName) *msgr.Message {
	req := wire.AuthNoneRequest{Methods: []uint32{wire.AuthNone}, Name: name}
	front := (&wire.MAuth{SessionMon: -1, Protocol: wire.AuthUnknown, AuthPayload: req.AppendEncoded(nil)}).AppendFront(nil)
	m := wire.NewMessage(wire.MsgAuth, front)
	m.Header.Priority = wire.PrioDefault
	return m
}
