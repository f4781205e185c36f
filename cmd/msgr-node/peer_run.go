package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio/inject"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// peerEvent is one line of the peer's JSON log. Which fields are set depends on Event:
//
//	start         Name, Addr, Nonce, FirstID, Rate, Size, SocketFailures
//	send          Peer, Conn, ID, Kind, Type, CRC (of the front), Stamp (MMonPing)
//	send_failed   Peer, ID, Reason (the connection was closed: the message was never queued)
//	dispatch      Peer, Conn, Seq, Type, Kind, CRC, FrontLen, DataLen, Stamp (MMonPing)
//	reply         Dir (sent: we accepted; received: we connected), Sock, Tag, GlobalSeq, ConnectSeq, Local, Remote
//	connect, accept, reset, remote_reset, refused    Peer, Conn (connect: Tag, the last reply)
//	fault         Peer, Conn, State, Class, Reason
//	decision      Peer, Conn, Rule (an accept decision, msgr1-protocol.md §3.2)
//	drain         Queued (unacknowledged at the end), Drained
//	stop          Reason (stopped: at once, as a crash would)
//	end           Sent, Dispatched, Acked (messages the peers acknowledged), Metrics
type peerEvent struct {
	TS    int64  `json:"ts"` // unix microseconds
	Event string `json:"event"`

	Peer string `json:"peer,omitempty"`
	Conn uint64 `json:"conn,omitempty"`

	ID       uint64 `json:"id,omitempty"`
	Kind     string `json:"kind,omitempty"`
	Type     uint16 `json:"type,omitempty"`
	Seq      uint64 `json:"seq,omitempty"`
	CRC      uint32 `json:"crc,omitempty"`
	Stamp    string `json:"stamp,omitempty"`
	FrontLen int    `json:"front_len,omitempty"`
	DataLen  int    `json:"data_len,omitempty"`

	Dir        string `json:"dir,omitempty"`
	Sock       uint64 `json:"sock,omitempty"`
	Tag        string `json:"tag,omitempty"`
	GlobalSeq  uint32 `json:"global_seq,omitempty"`
	ConnectSeq uint32 `json:"connect_seq,omitempty"`
	Local      string `json:"local,omitempty"`
	Remote     string `json:"remote,omitempty"`

	State  string `json:"state,omitempty"`
	Class  string `json:"class,omitempty"`
	Reason string `json:"reason,omitempty"`
	Rule   string `json:"rule,omitempty"`

	Name           string        `json:"name,omitempty"`
	Addr           string        `json:"addr,omitempty"`
	Nonce          *uint32       `json:"nonce,omitempty"`
	FirstID        uint64        `json:"first_id,omitempty"`
	Rate           float64       `json:"rate,omitempty"`
	Size           int           `json:"size,omitempty"`
	SocketFailures uint64        `json:"socket_failures,omitempty"`
	Queued         int           `json:"queued,omitempty"`
	Drained        bool          `json:"drained,omitempty"`
	Sent           uint64        `json:"sent,omitempty"`
	Dispatched     uint64        `json:"dispatched,omitempty"`
	Acked          uint64        `json:"acked,omitempty"`
	Metrics        *msgr.Metrics `json:"metrics,omitempty"`
}

// peerNode is a running Go monitor peer.
type peerNode struct {
	o   peerOptions
	log *eventLog
	m   *msgr.Messenger
	rt  *event.GoRuntime
	inj *inject.Stack // nil without socket failures

	nextID       uint64
	lastStamp    time.Time
	sent         atomic.Uint64
	dispatched   atomic.Uint64
	acked        atomic.Uint64
	lastDispatch atomic.Int64 // unix nanoseconds
}

func (p *peerNode) write(ev peerEvent) {
	ev.TS = time.Now().UnixMicro()
	p.log.write(ev)
}

func runPeer(o peerOptions, log *eventLog, stderr io.Writer, stop <-chan struct{}) int {
	p := &peerNode{o: o, log: log, nextID: o.firstID}
	if err := p.start(stderr); err != nil {
		fmt.Fprintf(stderr, "msgr-node peer: %v\n", err)
		return 1
	}
	nonce := p.m.MyAddr().Nonce
	p.write(peerEvent{Event: "start", Name: o.name.String(), Addr: p.m.MyAddr().String(), Nonce: &nonce,
		FirstID: o.firstID, Rate: o.rate, Size: o.size, SocketFailures: o.inject.socketFailures})
	if p.loop(stop) {
		p.drainAll()
	}
	p.m.Shutdown()
	p.m.Wait()
	p.rt.Wait()
	met := p.m.Metrics()
	p.write(peerEvent{Event: "end", Sent: p.sent.Load(), Dispatched: p.dispatched.Load(), Acked: p.acked.Load(), Metrics: &met})
	return 0
}

// start builds the messenger as ceph-mon builds its own: nonce 0, default send priority HIGH,
// lossless_peer_reuse toward monitors, stateless_server toward anything else.
func (p *peerNode) start(stderr io.Writer) error {
	stack, err := realStack()
	if err != nil {
		return err
	}
	if p.o.inject.socketFailures > 0 {
		p.inj = inject.New(stack, inject.Options{SocketFailures: p.o.inject.socketFailures, Seed: p.o.inject.seed})
		stack = p.inj
	}
	stack = &replyTap{Stack: stack, report: p.reply}
	p.rt = &event.GoRuntime{}
	m, err := msgr.New(msgr.Config{
		Name: wire.NewName(wire.EntityMon, p.o.rank), ID: p.o.name.ID, ExplicitNonce: true,
		Stack: stack, Runtime: p.rt, Workers: 2, DefaultSendPriority: wire.PrioHigh, MaxBackoff: p.o.backoff,
		Logger: slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Tracer: p.trace,
	})
	if err != nil {
		return err
	}
	p.m = m
	m.SetDefaultPolicy(proto.StatelessServer(0))
	m.SetPolicy(wire.EntityMon, proto.LosslessPeerReuse(wire.FeatureMaskServerLuminous))
	if err := m.Bind(p.o.addr); err != nil {
		return err
	}
	if err := m.Start(); err != nil {
		return err
	}
	m.AddDispatcherTail(&peerDispatcher{p: p})
	return nil
}

// loop sends until the duration passes (true: drain next) or until stopped (false).
func (p *peerNode) loop(stop <-chan struct{}) bool {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	var end <-chan time.Time
	if p.o.duration > 0 {
		t := time.NewTimer(p.o.duration)
		defer t.Stop()
		end = t.C
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / p.o.rate))
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			for _, peer := range p.o.peers {
				p.send(peer)
			}
		case <-end:
			return true
		case <-sig:
			p.write(peerEvent{Event: "stop", Reason: "signal"})
			return false
		case <-stop:
			p.write(peerEvent{Event: "stop", Reason: "stopped"})
			return false
		}
	}
}

// send queues the next message for peer: an MMonPing one time in pingMix, else an MMonProbe.
func (p *peerNode) send(peer monPeer) {
	id := p.nextID
	p.nextID++
	ev := peerEvent{Event: "send", Peer: peer.name, ID: id}
	var msg *wire.Message
	if p.o.pingMix > 0 && id%uint64(p.o.pingMix) == 0 {
		p.lastStamp = nextStamp(p.lastStamp)
		msg = newPingMessage(int32(p.o.rank), p.lastStamp)
		ev.Kind, ev.Stamp = "ping", stampString(p.lastStamp)
	} else {
		msg = newProbeMessage(p.o.fsid, p.o.name.ID, id)
		ev.Kind = "probe"
	}
	if p.o.size > 0 {
		msg.Data = make([]byte, p.o.size)
	}
	ev.Type, ev.CRC = msg.Header.Type, crc32c(msg.Front)
	c, err := p.m.ConnectTo(wire.EntityMon, peer.addr)
	if err == nil {
		ev.Conn = c.ID()
		p.write(ev) // before SendMessage: the peer may answer before we would log after it
		err = c.SendMessage(msg)
		if err == nil {
			p.sent.Add(1)
			return
		}
	}
	p.write(peerEvent{Event: "send_failed", Peer: peer.name, ID: id, Reason: err.Error()})
}

// drainAll stops injecting, then waits until every peer acknowledged what we sent and every
// session has been open for a second with nothing arriving (so a peer has nothing left queued
// for us: an open session writes at once), at most the drain time.
func (p *peerNode) drainAll() {
	if p.inj != nil {
		p.inj.SetSocketFailures(0)
	}
	deadline := time.Now().Add(p.o.drain)
	queued, openSince := p.queued(), time.Time{}
	for time.Now().Before(deadline) {
		queued = p.queued()
		switch {
		case !p.allOpen():
			openSince = time.Time{}
		case openSince.IsZero():
			openSince = time.Now()
		}
		quietSince := maxTime(openSince, time.Unix(0, p.lastDispatch.Load()))
		if queued == 0 && !openSince.IsZero() && time.Since(quietSince) > time.Second {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.write(peerEvent{Event: "drain", Queued: queued, Drained: queued == 0})
}

// allOpen reports whether the session with every peer is open.
func (p *peerNode) allOpen() bool {
	for _, peer := range p.o.peers {
		if c, err := p.m.ConnectTo(wire.EntityMon, peer.addr); err != nil || !c.IsConnected() {
			return false
		}
	}
	return true
}

func (p *peerNode) queued() int {
	n := 0
	for _, peer := range p.o.peers {
		if c, err := p.m.ConnectTo(wire.EntityMon, peer.addr); err == nil {
			n += c.Queued()
		}
	}
	return n
}

func (p *peerNode) peerName(c *msgr.Connection) string {
	a := c.PeerAddr()
	for _, peer := range p.o.peers {
		if peer.addr.Addr == a.Addr {
			return peer.name
		}
	}
	return a.String()
}

// trace logs faults and accept decisions, and counts acknowledged messages (msgr.Config.Tracer
// says what a tracer may do).
func (p *peerNode) trace(ev msgr.TraceEvent) {
	switch ev.Kind {
	case msgr.TraceFault:
		p.write(peerEvent{Event: "fault", Peer: p.peerName(ev.Conn), Conn: ev.Conn.ID(), State: ev.From.String(),
			Class: msgr.ClassifyFault(ev.Err).String(), Reason: ev.Err.Error()})
	case msgr.TraceDecision:
		p.write(peerEvent{Event: "decision", Peer: p.peerName(ev.Conn), Conn: ev.Conn.ID(), Rule: ev.Rule})
	case msgr.TraceAcked:
		p.acked.Add(1)
	}
}

// reply logs a connect reply the tap saw.
func (p *peerNode) reply(r tappedReply) {
	dir := "received"
	if r.Sent {
		dir = "sent"
	}
	p.write(peerEvent{Event: "reply", Dir: dir, Sock: r.Sock, Tag: r.Reply.Tag.String(), GlobalSeq: r.Reply.GlobalSeq,
		ConnectSeq: r.Reply.ConnectSeq, Local: r.Local.String(), Remote: r.Remote.String()})
}

// peerDispatcher logs everything the peer receives; it answers nothing.
type peerDispatcher struct {
	msgr.NopDispatcher
	p *peerNode
}

func (d *peerDispatcher) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	p := d.p
	ev := peerEvent{Event: "dispatch", Peer: p.peerName(c), Conn: c.ID(), Seq: m.Header.Seq, Type: m.Header.Type,
		CRC: crc32c(m.Front), FrontLen: len(m.Front), DataLen: len(m.Data)}
	ev.Kind, ev.Stamp = describeMonMessage(m)
	p.dispatched.Add(1)
	p.lastDispatch.Store(time.Now().UnixNano())
	p.write(ev)
	return true
}

func (d *peerDispatcher) HandleConnect(c *msgr.Connection) {
	d.p.write(peerEvent{Event: "connect", Peer: d.p.peerName(c), Conn: c.ID(), Tag: c.LastReplyTag().String()})
}

func (d *peerDispatcher) HandleAccept(c *msgr.Connection) {
	d.p.write(peerEvent{Event: "accept", Peer: d.p.peerName(c), Conn: c.ID()})
}

func (d *peerDispatcher) HandleReset(c *msgr.Connection) bool {
	d.p.write(peerEvent{Event: "reset", Peer: d.p.peerName(c), Conn: c.ID()})
	return true
}

func (d *peerDispatcher) HandleRemoteReset(c *msgr.Connection) {
	d.p.write(peerEvent{Event: "remote_reset", Peer: d.p.peerName(c), Conn: c.ID()})
}

func (d *peerDispatcher) HandleRefused(c *msgr.Connection) bool {
	d.p.write(peerEvent{Event: "refused", Peer: d.p.peerName(c), Conn: c.ID()})
	return true
}

// describeMonMessage names a received monitor message: probe, probe_reply, ping, ping_reply
// (with its stamp), or the type number.
func describeMonMessage(m *msgr.Message) (kind, stamp string) {
	switch m.Header.Type {
	case msgMonProbe:
		if pr, err := decodeMonProbe(m.Front); err == nil && pr.Op == probeOpReply {
			return "probe_reply", ""
		} else if err == nil && pr.Op == probeOpProbe {
			return "probe", ""
		}
		return "probe?", ""
	case msgMonPing:
		if pg, err := decodeMonPing(m.Front); err == nil {
			kind = "ping"
			if pg.Op == pingOpReply {
				kind = "ping_reply"
			}
			return kind, stampString(pg.Stamp.Time())
		}
		return "ping?", ""
	}
	return fmt.Sprintf("type%d", m.Header.Type), ""
}

// crc32c is Ceph's crc32c of a section with seed 0, as the footer carries it (and the mon's
// debug_ms log prints it).
func crc32c(b []byte) uint32 { return wire.CRC32C(0, b) }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// nextStamp is now, truncated to the microsecond Ceph prints, and after last.
func nextStamp(last time.Time) time.Time {
	t := time.Now().Truncate(time.Microsecond)
	if !t.After(last) {
		t = last.Add(time.Microsecond)
	}
	return t
}

// stampString renders a utime_t as Ceph's log prints it, to the microsecond, in UTC.
func stampString(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000+0000") }
