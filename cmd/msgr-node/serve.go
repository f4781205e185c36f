package main

import (
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/auth/cephx"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// eventLog writes one JSON object per line; safe for concurrent use.
type eventLog struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (l *eventLog) write(v any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.enc.Encode(v)
}

type acceptEvent struct {
	Event string `json:"event"`
	Peer  string `json:"peer"`
	Type  string `json:"peer_type,omitempty"`
}

type messageEvent struct {
	Event     string `json:"event"`
	Type      uint16 `json:"type"`
	Seq       uint64 `json:"seq"`
	Src       string `json:"src"`
	FrontLen  int    `json:"front_len"`
	MiddleLen int    `json:"middle_len"`
	DataLen   int    `json:"data_len"`
	CRCOK     bool   `json:"crc_ok"`
	// SignatureOK is set for every message of a signed session: true for a dispatched one
	// (each was checked); a bad signature faults the session before dispatch and is logged
	// with the fault, as false.
	SignatureOK *bool `json:"signature_ok,omitempty"`
}

type faultEvent struct {
	Event  string `json:"event"`
	Peer   string `json:"peer"`
	State  string `json:"state"`
	Reason string `json:"reason"`
	Class  string `json:"class"` // msgr.FaultReason, e.g. "bad_crc"
	// SignatureOK is false for a message refused for its signature (class bad_signature).
	SignatureOK *bool `json:"signature_ok,omitempty"`
}

// authEvent is the outcome of one MAuth under -auth cephx.
type authEvent struct {
	Event    string `json:"event"`
	Peer     string `json:"peer"`
	Entity   string `json:"entity"`
	GlobalID uint64 `json:"global_id"`
	Request  string `json:"request"`
	Result   int32  `json:"result"`
	Reason   string `json:"reason,omitempty"`
}

// monServer is a monitor-like dispatcher: MAuth gets an MAuthReply with a fresh global id,
// MPing an MPing; everything is logged.
type monServer struct {
	msgr.NopDispatcher
	log      *eventLog
	mu       sync.Mutex
	globalID uint64
	cephx    *cephx.Monitor // -auth cephx: the auth service (nil: auth none)
}

func (s *monServer) HandleAccept(c *msgr.Connection) {
	s.log.write(acceptEvent{Event: "accept", Peer: c.PeerAddr().String(), Type: c.PeerType().String()})
}

func (s *monServer) HandleReset(c *msgr.Connection) bool {
	s.log.write(acceptEvent{Event: "reset", Peer: c.PeerAddr().String()})
	return true
}

func (s *monServer) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	// Every delivered message passed the header, front, middle and data crc checks.
	ev := messageEvent{Event: "message", Type: m.Header.Type, Seq: m.Header.Seq, Src: m.Header.Src.String(),
		FrontLen: len(m.Front), MiddleLen: len(m.Middle), DataLen: len(m.Data), CRCOK: true}
	if c.Signed() {
		ok := true // a message with a bad signature is never dispatched
		ev.SignatureOK = &ok
	}
	s.log.write(ev)
	switch m.Header.Type {
	case wire.MsgAuth:
		if s.cephx != nil {
			s.answerCephx(c, m)
			return true
		}
		s.answerAuth(c, m)
	case wire.MsgPing:
		pong := wire.NewMessage(wire.MsgPing, wire.AppendCephString(nil, `{"health":{"status":"HEALTH_OK"},"mon_status":{"name":"msgr-node"}}`))
		_ = c.SendMessage(pong)
	}
	return true
}

func (s *monServer) answerAuth(c *msgr.Connection, m *msgr.Message) {
	reply := wire.MAuthReply{Protocol: wire.AuthNone}
	req, err := wire.DecodeMAuth(m.Front)
	if err != nil {
		reply.Result = -int32(syscall.EINVAL)
	} else if !offersNone(req) {
		reply.Result = -int32(syscall.EACCES)
	} else {
		s.mu.Lock()
		s.globalID++
		reply.GlobalID = s.globalID
		s.mu.Unlock()
	}
	_ = c.SendMessage(wire.NewMessage(wire.MsgAuthReply, reply.AppendFront(nil)))
}

// answerCephx answers an MAuth with the connection's cephx session of the auth service.
func (s *monServer) answerCephx(c *msgr.Connection, m *msgr.Message) {
	sess, _ := c.Priv().(*cephx.MonSession)
	if sess == nil {
		sess = s.cephx.NewConnSession(c.Features()) // the Requirements apply to its features
		c.SetPriv(sess)
	}
	ev := authEvent{Event: "auth", Peer: c.PeerAddr().String()}
	var reply *wire.MAuthReply
	req, err := wire.DecodeMAuth(m.Front)
	if err != nil {
		reply = &wire.MAuthReply{Protocol: wire.AuthCephx, Result: -int32(syscall.EINVAL)}
	} else {
		ev.Request = cephxRequestName(&req)
		reply, err = sess.Handle(&req, time.Now())
	}
	if err != nil {
		ev.Reason = err.Error()
	}
	ev.Entity, ev.GlobalID, ev.Result = sess.Name().String(), reply.GlobalID, reply.Result
	s.log.write(ev)
	_ = c.SendMessage(wire.NewMessage(wire.MsgAuthReply, reply.AppendFront(nil)))
}

// cephxRequestName names an MAuth for the log.
func cephxRequestName(a *wire.MAuth) string {
	if a.Protocol == wire.AuthUnknown {
		return "negotiate"
	}
	if len(a.AuthPayload) < 2 {
		return "short"
	}
	switch uint16(a.AuthPayload[0]) | uint16(a.AuthPayload[1])<<8 {
	case cephx.GetAuthSessionKey:
		return "get_auth_session_key"
	case cephx.GetPrincipalSessionKey:
		return "get_principal_session_key"
	case cephx.GetRotatingKey:
		return "get_rotating_key"
	}
	return "unknown"
}

// offersNone reports whether an MAuth asks for (or offers) auth none.
func offersNone(m wire.MAuth) bool {
	if m.Protocol == wire.AuthNone {
		return true
	}
	req, err := wire.DecodeAuthNoneRequest(m.AuthPayload)
	if err != nil {
		return false
	}
	for _, method := range req.Methods {
		if method == wire.AuthNone {
			return true
		}
	}
	return false
}

// serveOptions is what serve's flags say.
type serveOptions struct {
	addr     netip.AddrPort
	name     wire.EntityName
	metrics  string // -metrics ADDR ("" off)
	logLevel slog.Level
	limits   limitFlags
	inject   injectFlags
	keyring  *cephx.Keyring // -auth cephx (nil: auth none)
}

const serveSynopsis = "msgr-node serve -addr IP:PORT [-name mon.0] [-auth cephx -keyring FILE] [-log FILE] [-metrics ADDR] [limits] [injection]"

// serveCmd runs the server until SIGINT/SIGTERM, or until stop is closed (tests).
func serveCmd(args []string, stdout, stderr io.Writer, stop <-chan struct{}) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "", "address to listen on, IP:PORT (required)")
	name := fs.String("name", "mon.0", "our entity name")
	logFile := fs.String("log", "", "write the JSON event log to FILE (default: stdout)")
	metrics := fs.String("metrics", "", "serve metrics over HTTP on ADDR (IP:PORT): /metrics (Prometheus text), /debug/vars (expvar JSON)")
	level := fs.String("log-level", "warn", "messenger log (JSON lines on stderr): debug, info, warn or error")
	authMode := fs.String("auth", "none", "authentication: none, or cephx (the monitor's auth service for -keyring's entities)")
	keyring := fs.String("keyring", "", "-auth cephx: the keyring of the entities that may authenticate")
	var o serveOptions
	o.limits.register(fs)
	o.inject.register(fs)
	if ok, code := parseFlags(fs, args, serveSynopsis, stdout, stderr); !ok {
		return code
	}
	ap, err := netip.ParseAddrPort(*addr)
	if err != nil || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "msgr-node serve: -addr IP:PORT is required (and nothing else)")
		return 2
	}
	o.addr, o.metrics = ap, *metrics
	if o.name, err = parseEntityName(*name); err == nil {
		err = o.logLevel.UnmarshalText([]byte(*level))
	}
	if err == nil {
		err = o.inject.check()
	}
	if err == nil {
		o.keyring, err = serveKeyring(*authMode, *keyring)
	}
	if err != nil {
		fmt.Fprintf(stderr, "msgr-node serve: %v\n", err)
		return 2
	}
	out := stdout
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			fmt.Fprintf(stderr, "msgr-node serve: %v\n", err)
			return 1
		}
		defer f.Close()
		out = f
	}
	return serve(o, &eventLog{enc: json.NewEncoder(out)}, stderr, stop)
}

// serveKeyring reads the keyring for -auth cephx.
func serveKeyring(mode, path string) (*cephx.Keyring, error) {
	switch {
	case mode == "none" && path == "":
		return nil, nil
	case mode == "none":
		return nil, errors.New("-keyring needs -auth cephx")
	case mode != "cephx":
		return nil, fmt.Errorf("-auth %q: want none or cephx", mode)
	case path == "":
		return nil, errors.New("-auth cephx needs -keyring FILE")
	}
	return cephx.ReadKeyring(path)
}

func parseEntityName(s string) (wire.EntityName, error) {
	var typ string
	var num int64
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			typ = s[:i]
			if _, err := fmt.Sscan(s[i+1:], &num); err != nil {
				return wire.EntityName{}, fmt.Errorf("bad -name %q: want type.number, e.g. mon.0", s)
			}
			break
		}
	}
	t, ok := wire.ParseEntityType(typ)
	if !ok {
		return wire.EntityName{}, fmt.Errorf("bad -name %q: want type.number, e.g. mon.0", s)
	}
	return wire.NewName(t, num), nil
}

func serve(o serveOptions, log *eventLog, stderr io.Writer, stop <-chan struct{}) int {
	stack, err := realStack()
	if err != nil {
		fmt.Fprintf(stderr, "msgr-node serve: %v\n", err)
		return 1
	}
	rt := &event.GoRuntime{}
	cfg := msgr.Config{
		Name: o.name, ExplicitNonce: true, Stack: o.inject.wrap(stack), Runtime: rt, Workers: 2,
		DefaultSendPriority: wire.PrioHigh, ClusterProtocol: wire.ProtoMonPeer,
		Logger: slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: o.logLevel})),
		Tracer: func(ev msgr.TraceEvent) {
			if ev.Kind == msgr.TraceFault {
				f := faultEvent{Event: "fault", Peer: ev.Conn.PeerAddr().String(), State: ev.From.String(),
					Reason: ev.Err.Error(), Class: msgr.ClassifyFault(ev.Err).String()}
				if msgr.ClassifyFault(ev.Err) == msgr.FaultBadSignature {
					bad := false
					f.SignatureOK = &bad
				}
				log.write(f)
			}
		},
	}
	o.limits.apply(&cfg)
	cfg.InjectDelay = o.inject.dispatchDelay()
	if o.keyring != nil {
		cfg.Auth = cephx.NewMessenger(o.name.Type)
	}
	m, err := msgr.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "msgr-node serve: %v\n", err)
		return 1
	}
	m.SetDefaultPolicy(proto.StatelessServer(0))
	m.SetPolicy(wire.EntityMon, proto.LosslessPeerReuse(0))
	if err := m.Bind(o.addr); err != nil {
		fmt.Fprintf(stderr, "msgr-node serve: %v\n", err)
		return 1
	}
	if err := m.Start(); err != nil {
		fmt.Fprintf(stderr, "msgr-node serve: %v\n", err)
		return 1
	}
	var ms *metricsServer
	if o.metrics != "" {
		if ms, err = startMetrics(o.metrics, m); err != nil {
			fmt.Fprintf(stderr, "msgr-node serve: -metrics: %v\n", err)
			m.Shutdown()
			m.Wait()
			rt.Wait()
			return 1
		}
		log.write(map[string]string{"event": "metrics", "addr": ms.addr()})
	}
	srv := &monServer{log: log, globalID: 4099}
	if o.keyring != nil {
		if srv.cephx, err = newCephxService(o.keyring, cfg.Auth.(*cephx.Messenger)); err != nil {
			fmt.Fprintf(stderr, "msgr-node serve: %v\n", err)
			m.Shutdown()
			m.Wait()
			rt.Wait()
			return 1
		}
	}
	m.AddDispatcherTail(srv)
	log.write(map[string]string{"event": "listening", "addr": m.MyAddr().String()})
	waitForStop(stop)
	ms.stop()
	m.Shutdown()
	m.Wait()
	rt.Wait()
	log.write(map[string]string{"event": "stopped"})
	return 0
}

// newCephxService starts the auth service; the messenger's cephx verifies the authorizers
// of peers holding tickets for our service type (mon↔mon sessions: signed), and its
// Requirements are the auth service's too (MAuth over a connection lacking them: EOPNOTSUPP).
func newCephxService(kr *cephx.Keyring, auth *cephx.Messenger) (*cephx.Monitor, error) {
	mon, err := cephx.NewMonitor(kr, crand.Reader, 4100, time.Now())
	if err != nil {
		return nil, err
	}
	auth.SetServiceKeys(mon)
	mon.SetRequirements(auth.Requirements())
	return mon, nil
}

func waitForStop(stop <-chan struct{}) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	select {
	case <-sig:
	case <-stop:
	}
}
