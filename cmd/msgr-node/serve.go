package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/msgrsim/msgrsim/msgr"
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
}

type faultEvent struct {
	Event  string `json:"event"`
	Peer   string `json:"peer"`
	State  string `json:"state"`
	Reason string `json:"reason"`
	Class  string `json:"class"` // msgr.FaultReason, e.g. "bad_crc"
}

// monServer is a monitor-like dispatcher: MAuth gets an MAuthReply with a fresh global id,
// MPing an MPing; everything is logged.
type monServer struct {
	msgr.NopDispatcher
	log      *eventLog
	mu       sync.Mutex
	globalID uint64
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
	s.log.write(messageEvent{Event: "message", Type: m.Header.Type, Seq: m.Header.Seq, Src: m.Header.Src.String(),
		FrontLen: len(m.Front), MiddleLen: len(m.Middle), DataLen: len(m.Data), CRCOK: true})
	switch m.Header.Type {
	case wire.MsgAuth:
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
}

const serveSynopsis = "msgr-node serve -addr IP:PORT [-name mon.0] [-log FILE] [-metrics ADDR] [limits] [injection]"

// serveCmd runs the server until SIGINT/SIGTERM, or until stop is closed (tests).
func serveCmd(args []string, stdout, stderr io.Writer, stop <-chan struct{}) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "", "address to listen on, IP:PORT (required)")
	name := fs.String("name", "mon.0", "our entity name")
	logFile := fs.String("log", "", "write the JSON event log to FILE (default: stdout)")
	metrics := fs.String("metrics", "", "serve metrics over HTTP on ADDR (IP:PORT): /metrics (Prometheus text), /debug/vars (expvar JSON)")
	level := fs.String("log-level", "warn", "messenger log (JSON lines on stderr): debug, info, warn or error")
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
				log.write(faultEvent{Event: "fault", Peer: ev.Conn.PeerAddr().String(), State: ev.From.String(),
					Reason: ev.Err.Error(), Class: msgr.ClassifyFault(ev.Err).String()})
			}
		},
	}
	o.limits.apply(&cfg)
	cfg.InjectDelay = o.inject.dispatchDelay()
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
	m.AddDispatcherTail(&monServer{log: log, globalID: 4099})
	log.write(map[string]string{"event": "listening", "addr": m.MyAddr().String()})
	waitForStop(stop)
	ms.stop()
	m.Shutdown()
	m.Wait()
	rt.Wait()
	log.write(map[string]string{"event": "stopped"})
	return 0
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
