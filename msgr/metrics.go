package msgr

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// FaultReason classifies why a connection faulted, for counters and log lines.
type FaultReason uint8

// Fault reasons, from the errors a connection faults with (see ClassifyFault).
const (
	FaultOther            FaultReason = iota // anything not listed below
	FaultBadBanner                           // the first 9 bytes were not "ceph v027" (wire.ErrBadBanner)
	FaultBadAddr                             // an entity_addr_t did not decode (wire.ErrBadAddr)
	FaultBadTag                              // an unknown tag (wire.ErrBadTag)
	FaultBadCRC                              // a header, front, middle or data crc mismatch (wire.ErrBadCRC)
	FaultTooLarge                            // a length over the Limits (wire.ErrTooLarge)
	FaultMalformed                           // a structure that decoded to nonsense (wire.ErrMalformed, wire.ErrShort)
	FaultIncomplete                          // a footer without COMPLETE (wire.ErrIncomplete)
	FaultSeqRegression                       // a message seq went backwards on one socket (proto.ErrSeqRegression)
	FaultProtocol                            // another protocol violation (proto.ErrProtocol, proto.ErrPeerAddrMismatch)
	FaultRejected                            // the peer or our policy refused the session (proto.ErrRejected)
	FaultHandshakeTimeout                    // the handshake deadline passed (proto.ErrHandshakeTimeout)
	FaultIdleTimeout                         // nothing read or written for IdleTimeout (proto.ErrIdleTimeout)
	FaultTransport                           // the socket failed: reset, EOF, refused (proto.ErrTransport)
	FaultAuth                                // the acceptor's authorizer reply or challenge did not verify (proto.ErrAuth)
	FaultBadSignature                        // a received message's signature did not match (proto.ErrBadSignature)
	NumFaultReasons                          // the number of reasons
)

var faultReasonNames = [NumFaultReasons]string{
	"other", "bad_banner", "bad_addr", "bad_tag", "bad_crc", "too_large", "malformed", "incomplete",
	"seq_regression", "protocol", "rejected", "handshake_timeout", "idle_timeout", "transport",
	"auth", "bad_signature",
}

// String is the reason's counter label, e.g. "bad_crc".
func (r FaultReason) String() string {
	if r < NumFaultReasons {
		return faultReasonNames[r]
	}
	return fmt.Sprintf("fault_reason_%d", uint8(r))
}

// PeerMisbehaved reports whether the reason means the peer sent something no correct msgr1
// peer sends (as opposed to a timeout, a refusal or a network failure): a failed
// authentication or a bad signature is a peer that is not who it claims, or bytes changed on
// the way.
func (r FaultReason) PeerMisbehaved() bool {
	return r >= FaultBadBanner && r <= FaultProtocol || r == FaultAuth || r == FaultBadSignature
}

// faultSentinels maps errors to reasons, most specific first: the first match wins.
var faultSentinels = []struct {
	err    error
	reason FaultReason
}{
	{wire.ErrBadBanner, FaultBadBanner},
	{wire.ErrBadAddr, FaultBadAddr},
	{wire.ErrBadTag, FaultBadTag},
	{wire.ErrBadCRC, FaultBadCRC},
	{wire.ErrTooLarge, FaultTooLarge},
	{wire.ErrIncomplete, FaultIncomplete},
	{wire.ErrMalformed, FaultMalformed},
	{wire.ErrShort, FaultMalformed},
	{proto.ErrSeqRegression, FaultSeqRegression},
	{proto.ErrPeerAddrMismatch, FaultProtocol},
	{proto.ErrProtocol, FaultProtocol},
	{proto.ErrRejected, FaultRejected},
	{proto.ErrHandshakeTimeout, FaultHandshakeTimeout},
	{proto.ErrIdleTimeout, FaultIdleTimeout},
	{proto.ErrTransport, FaultTransport},
	{proto.ErrAuth, FaultAuth},
	{proto.ErrBadSignature, FaultBadSignature},
}

// ClassifyFault returns the reason for a connection fault error.
func ClassifyFault(err error) FaultReason {
	// The first sentinel that errors.Is finds in err's tree, found in one walk of the tree
	// (errors.Is per sentinel walked it up to 17 times, for every fault).
	w := faultWalk{best: len(faultSentinels)}
	w.walk(err)
	if w.best < len(faultSentinels) {
		return faultSentinels[w.best].reason
	}
	return FaultOther
}

// faultWalk finds, in an error tree, the earliest of faultSentinels that errors.Is would
// match: a node equal to it, or whose Is method reports it.
type faultWalk struct{ best int }

func (w *faultWalk) walk(err error) {
	for err != nil && w.best > 0 {
		for i, s := range faultSentinels[:w.best] {
			if err == s.err { // the sentinels are pointers: == cannot panic
				w.best = i
				break
			}
			if x, ok := err.(interface{ Is(error) bool }); ok && x.Is(s.err) {
				w.best = i
				break
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				w.walk(e)
			}
			return
		default:
			return
		}
	}
}

// counters are a messenger's metrics, updated atomically from any center.
type counters struct {
	accepted       atomic.Uint64
	refused        atomic.Uint64
	acceptFailures atomic.Uint64
	authRejected   atomic.Uint64
	faults         [NumFaultReasons]atomic.Uint64
	events         [proto.EventRefused + 1]atomic.Uint64
	throttleWaits  atomic.Uint64
	delayed        atomic.Uint64
	inline         atomic.Uint64
	traffic        []trafficShard // one per center, by center id
}

// trafficShard holds the counters bumped for every message and every socket read or write.
// Each center has its own, on its own cache line, so workers do not contend for one.
type trafficShard struct {
	messagesIn  atomic.Uint64
	messagesOut atomic.Uint64
	bytesIn     atomic.Uint64
	bytesOut    atomic.Uint64
	_           [32]byte
}

// traffic is the shard of the connection's center.
func (c *Connection) traffic() *trafficShard { return &c.m.counters.traffic[c.center.ID()] }

// sumTraffic adds up the shards.
func (k *counters) sumTraffic(s *Metrics) {
	for i := range k.traffic {
		t := &k.traffic[i]
		s.MessagesIn += t.messagesIn.Load()
		s.MessagesOut += t.messagesOut.Load()
		s.BytesIn += t.bytesIn.Load()
		s.BytesOut += t.bytesOut.Load()
	}
}

// Metrics is a snapshot of a messenger's counters. Counters only grow; Connections is the
// current number of live connections.
type Metrics struct {
	Name string `json:"name"` // the messenger's entity name, e.g. "osd.3"

	Connections         int64  `json:"connections"`          // live connections, incoming and outgoing
	ConnectionsAccepted uint64 `json:"connections_accepted"` // sockets accepted
	ConnectionsRefused  uint64 `json:"connections_refused"`  // accepted sockets closed at once: MaxConnections reached
	AcceptFailures      uint64 `json:"accept_failures"`      // accept(2) errors other than EAGAIN (EMFILE, …)

	SessionsConnected uint64 `json:"sessions_connected"` // outgoing sessions (re)established (connect events)
	SessionsAccepted  uint64 `json:"sessions_accepted"`  // incoming sessions established (accept events)
	Resets            uint64 `json:"resets"`             // sessions dropped (reset events)
	RemoteResets      uint64 `json:"remote_resets"`      // sessions the peer reset (remote reset events)
	ConnectsRefused   uint64 `json:"connects_refused"`   // outgoing TCP connects refused
	AuthRejected      uint64 `json:"auth_rejected"`      // connect messages answered BADAUTHORIZER (logged with the reason)

	Faults map[string]uint64 `json:"faults"` // connection faults by reason (FaultReason.String)

	MessagesIn    uint64 `json:"messages_in"`    // messages received in order (before any dispatch delay)
	MessagesOut   uint64 `json:"messages_out"`   // messages written to a socket (resends count again)
	BytesIn       uint64 `json:"bytes_in"`       // bytes read from sockets
	BytesOut      uint64 `json:"bytes_out"`      // bytes written to sockets
	ThrottleWaits uint64 `json:"throttle_waits"` // received messages that waited for a full throttle
	Delayed       uint64 `json:"delayed"`        // received messages held back by InjectDelay
	// MessagesInline counts the messages SendMessage wrote from its caller's goroutine
	// (Config.SendInline; Ceph's msgr_send_messages_inline).
	MessagesInline uint64 `json:"messages_inline"`
}

// Fault returns the number of faults with reason r.
func (s Metrics) Fault(r FaultReason) uint64 { return s.Faults[r.String()] }

// Metrics returns a snapshot of the messenger's counters.
func (m *Messenger) Metrics() Metrics {
	k := &m.counters
	s := Metrics{
		Name:                m.cfg.Name.String(),
		Connections:         int64(m.liveCount()),
		ConnectionsAccepted: k.accepted.Load(),
		ConnectionsRefused:  k.refused.Load(),
		AcceptFailures:      k.acceptFailures.Load(),
		SessionsConnected:   k.events[proto.EventConnect].Load(),
		SessionsAccepted:    k.events[proto.EventAccept].Load(),
		Resets:              k.events[proto.EventReset].Load(),
		RemoteResets:        k.events[proto.EventRemoteReset].Load(),
		ConnectsRefused:     k.events[proto.EventRefused].Load(),
		AuthRejected:        k.authRejected.Load(),
		Faults:              make(map[string]uint64, NumFaultReasons),
		ThrottleWaits:       k.throttleWaits.Load(),
		Delayed:             k.delayed.Load(),
		MessagesInline:      k.inline.Load(),
	}
	k.sumTraffic(&s)
	for r := FaultReason(0); r < NumFaultReasons; r++ {
		s.Faults[r.String()] = k.faults[r].Load()
	}
	return s
}

func (m *Messenger) liveCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.all)
}

// countFault logs a connection fault, at Warn when the peer misbehaved and at Info otherwise,
// then counts it (so that whoever sees the count can find the line).
func (m *Messenger) countFault(c *Connection, s proto.State, err error) {
	r := ClassifyFault(err)
	lvl := slog.LevelInfo
	if r.PeerMisbehaved() {
		lvl = slog.LevelWarn
	}
	if m.log.Enabled(context.Background(), lvl) { // the arguments are formatted: not for a discarding logger
		m.log.Log(context.Background(), lvl, "connection fault", "conn", c.id, "peer", c.PeerAddr().String(),
			"state", s.String(), "reason", r.String(), "err", err)
	}
	m.counters.faults[r].Add(1)
}

// metric is one metric family of the Prometheus text format.
type metric struct {
	name, help, kind string
	value            func(*Metrics) uint64
}

var metricFamilies = []metric{
	{"msgr_connections", "Live connections, incoming and outgoing.", "gauge", func(s *Metrics) uint64 { return uint64(s.Connections) }},
	{"msgr_connections_accepted_total", "Sockets accepted.", "counter", func(s *Metrics) uint64 { return s.ConnectionsAccepted }},
	{"msgr_connections_refused_total", "Accepted sockets closed at once because MaxConnections was reached.", "counter", func(s *Metrics) uint64 { return s.ConnectionsRefused }},
	{"msgr_accept_failures_total", "accept(2) errors other than EAGAIN.", "counter", func(s *Metrics) uint64 { return s.AcceptFailures }},
	{"msgr_sessions_connected_total", "Outgoing sessions (re)established.", "counter", func(s *Metrics) uint64 { return s.SessionsConnected }},
	{"msgr_sessions_accepted_total", "Incoming sessions established.", "counter", func(s *Metrics) uint64 { return s.SessionsAccepted }},
	{"msgr_resets_total", "Sessions dropped (reset events).", "counter", func(s *Metrics) uint64 { return s.Resets }},
	{"msgr_remote_resets_total", "Sessions reset by the peer.", "counter", func(s *Metrics) uint64 { return s.RemoteResets }},
	{"msgr_connects_refused_total", "Outgoing TCP connects refused.", "counter", func(s *Metrics) uint64 { return s.ConnectsRefused }},
	{"msgr_auth_rejected_total", "Connect messages answered BADAUTHORIZER.", "counter", func(s *Metrics) uint64 { return s.AuthRejected }},
	{"msgr_messages_in_total", "Messages received in order.", "counter", func(s *Metrics) uint64 { return s.MessagesIn }},
	{"msgr_messages_out_total", "Messages written to a socket.", "counter", func(s *Metrics) uint64 { return s.MessagesOut }},
	{"msgr_bytes_in_total", "Bytes read from sockets.", "counter", func(s *Metrics) uint64 { return s.BytesIn }},
	{"msgr_bytes_out_total", "Bytes written to sockets.", "counter", func(s *Metrics) uint64 { return s.BytesOut }},
	{"msgr_throttle_waits_total", "Received messages that waited for a full throttle.", "counter", func(s *Metrics) uint64 { return s.ThrottleWaits }},
	{"msgr_delayed_messages_total", "Received messages held back by dispatch delay injection.", "counter", func(s *Metrics) uint64 { return s.Delayed }},
	{"msgr_send_messages_inline_total", "Messages written from the sender's goroutine (SendInline).", "counter", func(s *Metrics) uint64 { return s.MessagesInline }},
}

// WritePrometheus writes the snapshots in the Prometheus text exposition format, one sample
// per messenger (label msgr) in each family; faults are labelled by reason as well.
func WritePrometheus(w io.Writer, snaps ...Metrics) error {
	pw := &errWriter{w: w}
	for _, f := range metricFamilies {
		pw.printf("# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.kind)
		for i := range snaps {
			pw.printf("%s{msgr=%q} %d\n", f.name, snaps[i].Name, f.value(&snaps[i]))
		}
	}
	pw.printf("# HELP msgr_faults_total Connection faults by reason.\n# TYPE msgr_faults_total counter\n")
	for i := range snaps {
		for r := FaultReason(0); r < NumFaultReasons; r++ {
			pw.printf("msgr_faults_total{msgr=%q,reason=%q} %d\n", snaps[i].Name, r.String(), snaps[i].Fault(r))
		}
	}
	return pw.err
}

// errWriter keeps the first write error and skips the writes after it.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
