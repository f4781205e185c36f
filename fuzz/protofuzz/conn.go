package protofuzz

import (
	"net/netip"
	"time"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The fuzz targets of one connection (FuzzAcceptor, FuzzConnector in msgr/proto/fuzz_test.go;
// FuzzAcceptorGo, FuzzConnectorGo in gofuzz.go). A fuzz input is
//
//	byte 0   the valid prefix the peer sends first (low 3 bits) and, for an acceptor, the
//	         session already registered for the peer's address (the rest)
//	byte 1   configuration bits (see parseConfig)
//	byte 2   k, the length of the schedule
//	k bytes  the schedule: what the driver does, one byte per action (see driver.op)
//	rest     the peer's bytes, after the prefix
//
// When the schedule is spent the driver goes on by itself: it feeds the peer's bytes in the
// last chunk size, answers dials, and runs timers, until the bytes are used up or nothing can
// happen. Then the clock runs past every timeout with no more input.
//
// Checked, after every action: no panic; every fault wraps one of the known causes; CLOSED is
// final; delivered messages come in increasing seq, as announced, within the limits and
// verified; no buffer is larger than the configured limits allow; no output is pending
// without a socket; every state but CLOSED and STANDBY has a timer armed (the timers end every
// stall); a non-server STANDBY holds nothing to send; CLOSED holds no message; a tick moves
// every due deadline into the future. At the end: after running the clock past the ready,
// idle and backoff timeouts the connection is closed, in standby, or waiting to reconnect,
// and every throttle unit it took has been returned.

// limits are the limits the fuzzed connections run with: small enough that a peer's length
// field can ask for more than they allow.
var limits = wire.Limits{MaxFrontLen: 64 << 10, MaxMiddleLen: 64 << 10, MaxDataLen: 256 << 10,
	MaxMessageLen: 256 << 10, MaxAuthorizerLen: wire.DefaultMaxAuthorizerLen}

const (
	idleTimeout = 60 * time.Second
	numPrefixes = 6
	maxTicks    = 10000 // timer firings per clock advance before it counts as a storm
)

// existings are the sessions an acceptor's registry may hold for the peer's address.
var existings = []proto.Existing{
	{},
	{Present: true, State: proto.StateOpened, ConnectSeq: 1, PeerGlobalSeq: 5},
	{Present: true, State: proto.StateStandby, ConnectSeq: 2, PeerGlobalSeq: 3},
	{Present: true, State: proto.StateConnectingSendConnectMsg},
	{Present: true, State: proto.StateClosed, ConnectSeq: 3, PeerGlobalSeq: 3},
	{Present: true, State: proto.StateNone, Replacing: true, ConnectSeq: 1, PeerGlobalSeq: 9},
	{Present: true, State: proto.StateOpened, ConnectSeq: 1, PeerGlobalSeq: 5, Lossy: true},
}

// config is the world of one fuzzed connection.
type config struct {
	acceptor       bool
	prefix         int
	existing       proto.Existing
	crcOff         bool // the connection does not compute or check crcs
	osds           bool // OSDs (cluster protocol 10), else a monitor and a client
	policy         int  // index into the policy tables of policyFor
	smallThrottles bool // tight throttles, dispatch finishing only when time passes
	stallWrites    bool // output is written only by schedule actions
	peerHigh       bool // acceptor: the peer's address is above ours (it wins no race)
	streamTarget   bool // connector: dial the address the peer's greeting announces
	oldFooter      bool // the prefix's peer lacks MSG_AUTH (13-byte footers)

	name, peerName  wire.EntityName
	cluster         uint32 // our cluster protocol
	myAddr          wire.EntityAddr
	peerAddr        wire.EntityAddr // the address the peer announces or that we dial
	observedAddr    wire.EntityAddr // what the acceptor saw as the connector's socket
	peerFeatures    uint64
	peerClusterProt uint32
}

// parseConfig reads the first two bytes of an input. Bits of b1: 0 crcs off, 1 OSDs, 2-3
// policy, 4 small throttles, 5 stalled writes, 6 peer high (acceptor) or stream target
// (connector), 7 old footers.
func parseConfig(acceptor bool, b0, b1 byte) *config {
	cfg := &config{acceptor: acceptor, prefix: int(b0&7) % numPrefixes,
		crcOff: b1&1 != 0, osds: b1&2 != 0, policy: int(b1>>2) & 3, smallThrottles: b1&16 != 0,
		stallWrites: b1&32 != 0, oldFooter: b1&128 != 0}
	if acceptor {
		cfg.existing = existings[int(b0>>3)%len(existings)]
		cfg.peerHigh = b1&64 != 0
	} else {
		cfg.streamTarget = b1&64 != 0
	}
	cfg.setIdentities()
	return cfg
}

func addr(ip string, port uint16, nonce uint32) wire.EntityAddr {
	return wire.LegacyAddr(netip.AddrPortFrom(netip.MustParseAddr(ip), port), nonce)
}

// setIdentities: a monitor (127.0.0.1:6789, nonce 0) and a client (blank address, nonce
// 4242), as in the captured streams; or osd.1 (10.0.0.1) and osd.2 (10.0.0.2), the acceptor's
// peer optionally at 10.0.0.3.
func (cfg *config) setIdentities() {
	cfg.peerFeatures = wire.FeaturesAll
	if cfg.oldFooter {
		cfg.peerFeatures &^= wire.FeatureMsgAuth
	}
	mon, client := wire.NewName(wire.EntityMon, 0), wire.NewName(wire.EntityClient, 4100)
	monAddr, clientAddr := addr("127.0.0.1", 6789, 0), addr("0.0.0.0", 0, 4242)
	cfg.observedAddr = addr("127.0.0.1", 40000, 0)
	switch {
	case cfg.osds && cfg.acceptor:
		cfg.name, cfg.peerName, cfg.cluster = wire.NewName(wire.EntityOSD, 2), wire.NewName(wire.EntityOSD, 1), wire.ProtoOSDPeer
		cfg.myAddr, cfg.peerAddr = addr("10.0.0.2", 6800, 2), addr("10.0.0.1", 6800, 1)
		if cfg.peerHigh {
			cfg.peerAddr = addr("10.0.0.3", 6800, 3)
		}
		cfg.observedAddr = addr(cfg.peerAddr.Addr.Addr().String(), 40000, 0)
	case cfg.osds:
		cfg.name, cfg.peerName, cfg.cluster = wire.NewName(wire.EntityOSD, 1), wire.NewName(wire.EntityOSD, 2), wire.ProtoOSDPeer
		cfg.myAddr, cfg.peerAddr = addr("10.0.0.1", 6800, 1), addr("10.0.0.2", 6800, 2)
		cfg.observedAddr = addr("10.0.0.1", 40000, 0)
	case cfg.acceptor:
		cfg.name, cfg.peerName, cfg.cluster = mon, client, wire.ProtoMonPeer
		cfg.myAddr, cfg.peerAddr = monAddr, clientAddr
	default:
		cfg.name, cfg.peerName = client, mon
		cfg.myAddr, cfg.peerAddr = clientAddr, monAddr
	}
	if cfg.peerName.Type == cfg.name.Type {
		cfg.peerClusterProt = cfg.cluster
	}
}

// The policy tables: a connector's, an acceptor's toward clients and toward other types.
var (
	connectorPolicies = [...]proto.Policy{proto.LossyClient(0), proto.LosslessClient(0), proto.LosslessPeer(0),
		proto.LosslessPeerReuse(0)}
	clientPolicies = [...]proto.Policy{proto.StatelessServer(0), proto.StatefulServer(0),
		proto.StatelessRegisteredServer(0), proto.StatelessServer(wire.FeatureMsgAuth)}
	peerPolicies = [...]proto.Policy{proto.LosslessPeer(0), proto.LosslessPeerReuse(0), proto.StatefulServer(0),
		proto.DefaultPolicy()}
)

// policyFor is the policy for a peer type: an acceptor's by the type its peer announces.
func (cfg *config) policyFor(t wire.EntityType) proto.Policy {
	switch {
	case !cfg.acceptor:
		return connectorPolicies[cfg.policy]
	case t == wire.EntityClient:
		return clientPolicies[cfg.policy]
	}
	return peerPolicies[cfg.policy]
}

// PolicyFor is the policy a fuzzed connection (acceptor or connector) whose configuration
// byte (the input's second byte) is config uses toward a peer of type peer.
func PolicyFor(acceptor bool, config byte, peer wire.EntityType) proto.Policy {
	return parseConfig(acceptor, 0, config).policyFor(peer)
}

func (cfg *config) connConfig() proto.Config {
	return proto.Config{MyName: cfg.name, ClusterProtocol: cfg.cluster, CRCHeader: !cfg.crcOff, CRCData: !cfg.crcOff,
		Limits: limits, IdleTimeout: idleTimeout}
}

// prefixBytes is the valid beginning of the peer's stream chosen by cfg.prefix.
func (cfg *config) prefixBytes() []byte {
	if cfg.acceptor {
		return cfg.connectorPrefix()
	}
	return cfg.acceptorPrefix()
}

// connectorPrefix is what a connector sends an acceptor: banner, its address, a connect
// message, its in_seq (answering SEQ), and a first message with an ACK and a keepalive.
func (cfg *config) connectorPrefix() []byte {
	b := wire.AppendBanner(nil)
	if cfg.prefix < 2 {
		return b[:cfg.prefix*wire.BannerLen]
	}
	b = cfg.peerAddr.AppendLegacy(b)
	if cfg.prefix == 2 {
		return b
	}
	cm := wire.Connect{Features: cfg.peerFeatures, HostType: cfg.peerName.Type, GlobalSeq: 7,
		ProtocolVersion: proto.ProtocolVersion(cfg.peerName.Type, cfg.name.Type, cfg.peerClusterProt, true)}
	var blob []byte
	if cfg.name.Type != wire.EntityMon {
		a := wire.AuthNoneAuthorizer{Name: wire.AuthEntityName{Type: uint32(cfg.peerName.Type), ID: "peer"}, GlobalID: 9}
		blob = a.AppendEncoded(nil)
		cm.AuthorizerProtocol, cm.AuthorizerLen = wire.AuthNone, uint32(len(blob))
	}
	b = append(cm.Append(b), blob...)
	if cfg.prefix == 3 {
		return b
	}
	b = wire.AppendSeq(b, 0)
	if cfg.prefix == 4 {
		return b
	}
	return cfg.appendFrames(b)
}

// acceptorPrefix is what an acceptor sends a connector: its greeting, then a reply (READY,
// SEQ with its in_seq, or RETRY_GLOBAL).
func (cfg *config) acceptorPrefix() []byte {
	b := wire.AppendBanner(nil)
	if cfg.prefix < 2 {
		return b[:cfg.prefix*wire.BannerLen]
	}
	b = cfg.observedAddr.AppendLegacy(cfg.peerAddr.AppendLegacy(b))
	r := wire.ConnectReply{Features: cfg.peerFeatures, GlobalSeq: 1, ConnectSeq: 1,
		ProtocolVersion: proto.ProtocolVersion(cfg.peerName.Type, cfg.name.Type, cfg.peerClusterProt, false)}
	if cfg.policyFor(cfg.peerName.Type).Lossy {
		r.Flags = wire.ConnectLossy
	}
	switch cfg.prefix {
	case 3:
		r.Tag = wire.TagReady
		b = r.Append(b)
	case 4:
		r.Tag = wire.TagSeq
		b = wire.AppendSeq(r.Append(b), 0)
	case 5:
		r.Tag, r.GlobalSeq, r.ConnectSeq = wire.TagRetryGlobal, 7, 0
		b = r.Append(b)
	}
	return b
}

// appendFrames appends a sealed message (seq 1), an ACK and a KEEPALIVE2.
func (cfg *config) appendFrames(b []byte) []byte {
	m := wire.NewMessage(wire.MsgPing, []byte("fuzz"))
	m.Header.Seq, m.Header.Priority, m.Header.CompatVersion, m.Header.Src = 1, wire.PrioDefault, 1, cfg.peerName
	m.Seal(true, true)
	b = wire.AppendMessageFrame(b, m, cfg.oldFooter)
	b = wire.AppendAck(b, 0)
	return wire.AppendKeepalive2(b, wire.Timespec{Sec: 1700000000})
}
