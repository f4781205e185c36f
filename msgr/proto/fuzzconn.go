package proto

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/msgrsim/msgrsim/internal/fuzzing"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The fuzz targets of one connection (FuzzAcceptor, FuzzConnector in fuzz_test.go; their
// go-fuzz entry points in gofuzz.go). A fuzz input is
//
//	byte 0   the valid prefix the peer sends first (low 3 bits) and, for an acceptor, the
//	         session already registered for the peer's address (the rest)
//	byte 1   configuration bits (see parseFuzzConfig)
//	byte 2   k, the length of the schedule
//	k bytes  the schedule: what the driver does, one byte per action (see fuzzDriver.op)
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
// stall); a non-server STANDBY holds nothing to send; a tick moves every due deadline into
// the future. At the end: after running the clock past the ready, idle and backoff timeouts
// the connection is closed, in standby, or waiting to reconnect, and every throttle unit it
// took has been returned.

// fuzzLimits are the limits the fuzzed connections run with: small enough that a peer's
// length field can ask for more than they allow.
var fuzzLimits = wire.Limits{MaxFrontLen: 64 << 10, MaxMiddleLen: 64 << 10, MaxDataLen: 256 << 10,
	MaxMessageLen: 256 << 10, MaxAuthorizerLen: wire.DefaultMaxAuthorizerLen}

const (
	fuzzIdleTimeout = 60 * time.Second
	fuzzPrefixes    = 6
	maxTicks        = 10000 // timer firings per clock advance before it counts as a storm
)

// fuzzExisting are the sessions an acceptor's registry may hold for the peer's address.
var fuzzExisting = []Existing{
	{},
	{Present: true, State: StateOpened, ConnectSeq: 1, PeerGlobalSeq: 5},
	{Present: true, State: StateStandby, ConnectSeq: 2, PeerGlobalSeq: 3},
	{Present: true, State: StateConnectingSendConnectMsg},
	{Present: true, State: StateClosed, ConnectSeq: 3, PeerGlobalSeq: 3},
	{Present: true, State: StateNone, Replacing: true, ConnectSeq: 1, PeerGlobalSeq: 9},
	{Present: true, State: StateOpened, ConnectSeq: 1, PeerGlobalSeq: 5, Lossy: true},
}

// fuzzConfig is the world of one fuzzed connection.
type fuzzConfig struct {
	acceptor       bool
	prefix         int
	existing       Existing
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

// parseFuzzConfig reads the first two bytes of an input. Bits of b1: 0 crcs off, 1 OSDs,
// 2-3 policy, 4 small throttles, 5 stalled writes, 6 peer high (acceptor) or stream target
// (connector), 7 old footers.
func parseFuzzConfig(acceptor bool, b0, b1 byte) *fuzzConfig {
	cfg := &fuzzConfig{acceptor: acceptor, prefix: int(b0&7) % fuzzPrefixes,
		crcOff: b1&1 != 0, osds: b1&2 != 0, policy: int(b1>>2) & 3, smallThrottles: b1&16 != 0,
		stallWrites: b1&32 != 0, oldFooter: b1&128 != 0}
	if acceptor {
		cfg.existing = fuzzExisting[int(b0>>3)%len(fuzzExisting)]
		cfg.peerHigh = b1&64 != 0
	} else {
		cfg.streamTarget = b1&64 != 0
	}
	cfg.setIdentities()
	return cfg
}

func fuzzAddr(ip string, port uint16, nonce uint32) wire.EntityAddr {
	return wire.LegacyAddr(netip.AddrPortFrom(netip.MustParseAddr(ip), port), nonce)
}

// setIdentities: a monitor (127.0.0.1:6789, nonce 0) and a client (blank address, nonce
// 4242), as in the captured streams; or osd.1 (10.0.0.1) and osd.2 (10.0.0.2), the acceptor's
// peer optionally at 10.0.0.3.
func (cfg *fuzzConfig) setIdentities() {
	cfg.peerFeatures = wire.FeaturesAll
	if cfg.oldFooter {
		cfg.peerFeatures &^= wire.FeatureMsgAuth
	}
	mon, client := wire.NewName(wire.EntityMon, 0), wire.NewName(wire.EntityClient, 4100)
	monAddr, clientAddr := fuzzAddr("127.0.0.1", 6789, 0), fuzzAddr("0.0.0.0", 0, 4242)
	cfg.observedAddr = fuzzAddr("127.0.0.1", 40000, 0)
	switch {
	case cfg.osds && cfg.acceptor:
		cfg.name, cfg.peerName, cfg.cluster = wire.NewName(wire.EntityOSD, 2), wire.NewName(wire.EntityOSD, 1), wire.ProtoOSDPeer
		cfg.myAddr, cfg.peerAddr = fuzzAddr("10.0.0.2", 6800, 2), fuzzAddr("10.0.0.1", 6800, 1)
		if cfg.peerHigh {
			cfg.peerAddr = fuzzAddr("10.0.0.3", 6800, 3)
		}
		cfg.observedAddr = fuzzAddr(cfg.peerAddr.Addr.Addr().String(), 40000, 0)
	case cfg.osds:
		cfg.name, cfg.peerName, cfg.cluster = wire.NewName(wire.EntityOSD, 1), wire.NewName(wire.EntityOSD, 2), wire.ProtoOSDPeer
		cfg.myAddr, cfg.peerAddr = fuzzAddr("10.0.0.1", 6800, 1), fuzzAddr("10.0.0.2", 6800, 2)
		cfg.observedAddr = fuzzAddr("10.0.0.1", 40000, 0)
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

// policyFor is the policy for a peer type: an acceptor's by the type its peer announces.
func (cfg *fuzzConfig) policyFor(t wire.EntityType) Policy {
	if !cfg.acceptor {
		return [...]Policy{LossyClient(0), LosslessClient(0), LosslessPeer(0), LosslessPeerReuse(0)}[cfg.policy]
	}
	if t == wire.EntityClient {
		return [...]Policy{StatelessServer(0), StatefulServer(0), StatelessRegisteredServer(0),
			StatelessServer(wire.FeatureMsgAuth)}[cfg.policy]
	}
	return [...]Policy{LosslessPeer(0), LosslessPeerReuse(0), StatefulServer(0), DefaultPolicy()}[cfg.policy]
}

func (cfg *fuzzConfig) connConfig() Config {
	return Config{MyName: cfg.name, ClusterProtocol: cfg.cluster, CRCHeader: !cfg.crcOff, CRCData: !cfg.crcOff,
		Limits: fuzzLimits, IdleTimeout: fuzzIdleTimeout}
}

// prefixBytes is the valid beginning of the peer's stream chosen by cfg.prefix.
func (cfg *fuzzConfig) prefixBytes() []byte {
	if cfg.acceptor {
		return cfg.connectorPrefix()
	}
	return cfg.acceptorPrefix()
}

// connectorPrefix is what a connector sends an acceptor: banner, its address, a connect
// message, its in_seq (answering SEQ), and a first message with an ACK and a keepalive.
func (cfg *fuzzConfig) connectorPrefix() []byte {
	b := wire.AppendBanner(nil)
	if cfg.prefix < 2 {
		return b[:cfg.prefix*wire.BannerLen]
	}
	b = cfg.peerAddr.AppendLegacy(b)
	if cfg.prefix == 2 {
		return b
	}
	cm := wire.Connect{Features: cfg.peerFeatures, HostType: cfg.peerName.Type, GlobalSeq: 7,
		ProtocolVersion: ProtocolVersion(cfg.peerName.Type, cfg.name.Type, cfg.peerClusterProt, true)}
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
func (cfg *fuzzConfig) acceptorPrefix() []byte {
	b := wire.AppendBanner(nil)
	if cfg.prefix < 2 {
		return b[:cfg.prefix*wire.BannerLen]
	}
	b = cfg.observedAddr.AppendLegacy(cfg.peerAddr.AppendLegacy(b))
	r := wire.ConnectReply{Features: cfg.peerFeatures, GlobalSeq: 1, ConnectSeq: 1,
		ProtocolVersion: ProtocolVersion(cfg.peerName.Type, cfg.name.Type, cfg.peerClusterProt, false)}
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
func (cfg *fuzzConfig) appendFrames(b []byte) []byte {
	m := wire.NewMessage(wire.MsgPing, []byte("fuzz"))
	m.Header.Seq, m.Header.Priority, m.Header.CompatVersion, m.Header.Src = 1, wire.PrioDefault, 1, cfg.peerName
	m.Seal(true, true)
	b = wire.AppendMessageFrame(b, m, cfg.oldFooter)
	b = wire.AppendAck(b, 0)
	return wire.AppendKeepalive2(b, wire.Timespec{Sec: 1700000000})
}

// fuzzDriver feeds one connection its peer's bytes and the schedule's actions.
type fuzzDriver struct {
	cfg    *fuzzConfig
	h      *fuzzHost
	c      *Conn
	sched  []byte
	stream []byte
	chunk  int
	tid    uint64
}

// newFuzzDriver parses an input and starts the connection (a connector is connected at once).
func newFuzzDriver(data []byte, acceptor bool) *fuzzDriver {
	var hdr [3]byte
	copy(hdr[:], data)
	data = data[min(len(data), 3):]
	cfg := parseFuzzConfig(acceptor, hdr[0], hdr[1])
	k := min(int(hdr[2]), len(data))
	d := &fuzzDriver{cfg: cfg, h: newFuzzHost(cfg), sched: data[:k], chunk: 64}
	d.stream = append(cfg.prefixBytes(), data[k:]...)
	if acceptor {
		d.c = NewAcceptor(cfg.connConfig(), d.h, cfg.observedAddr)
		d.h.c, d.h.sockOpen = d.c, true
		d.c.Start()
		return d
	}
	if cfg.streamTarget && len(d.stream) >= wire.BannerLen+wire.AddrLen {
		if a, err := wire.DecodeLegacyAddr(d.stream[wire.BannerLen:]); err == nil {
			cfg.peerAddr = a
		}
	}
	d.c = NewConnector(cfg.connConfig(), d.h, cfg.peerAddr, cfg.peerName.Type, cfg.policyFor(cfg.peerName.Type), d.h.throttles())
	d.h.c = d.c
	d.c.Start()
	d.connected()
	return d
}

// maxConnInput bounds the inputs checkConnFuzz takes: the fuzzer minimizes every new
// interesting input in time quadratic in its length, so a long one would stall the search.
const maxConnInput = 1024

// checkConnFuzz runs one input and returns the first property it broke.
func checkConnFuzz(data []byte, acceptor bool) error {
	if len(data) > maxConnInput {
		return fuzzing.Skipf("%d bytes: longer inputs make minimization slow", len(data))
	}
	d := newFuzzDriver(data, acceptor)
	if err := d.check(); err != nil {
		return d.wrap(err)
	}
	for steps := 4*len(data) + 256; steps > 0 && d.step(); steps-- {
		if !d.cfg.stallWrites {
			d.writeAll()
		}
		if err := d.check(); err != nil {
			return d.wrap(err)
		}
	}
	if err := d.finish(); err != nil {
		return d.wrap(err)
	}
	return nil
}

func (d *fuzzDriver) wrap(err error) error {
	return fmt.Errorf("%s (state %v, %d schedule and %d stream bytes left, at %v)",
		err, d.c.state, len(d.sched), len(d.stream), d.h.now)
}

// step performs the next action: the schedule's, else the default one. It returns false
// when nothing more can happen.
func (d *fuzzDriver) step() bool {
	if len(d.sched) > 0 {
		b := d.sched[0]
		d.sched = d.sched[1:]
		d.op(b)
		return true
	}
	switch {
	case len(d.stream) == 0:
		return false
	case d.h.sockOpen && d.c.WantRead():
		return d.feed(d.chunk) > 0
	case d.h.dialing:
		d.connected()
		return true
	}
	at, ok := d.c.NextDeadline()
	if !ok {
		return false
	}
	d.advance(at - d.h.now)
	return true
}

// tickSteps are the clock advances a schedule can ask for: the throttle retry, small steps,
// the initial backoff, the ready timeout, the maximum backoff and the idle timeout.
var tickSteps = [...]time.Duration{time.Millisecond, 5 * time.Millisecond, DefaultInitialBackoff, time.Second,
	DefaultReadyTimeout, DefaultMaxBackoff, fuzzIdleTimeout, 3 * time.Second}

var sendSizes = [...]int{0, 16, 300, 5000}

// op performs one schedule action:
//
//	0x00-0xbf  read a chunk of the peer's bytes: (b&63)+1 bytes times 1, 8 or 64
//	0xc0-0xdf  advance the clock by a tickSteps entry, running the timers
//	0xe0-0xef  write ((b&15)+1)*5 bytes of output
//	0xf0-0xf3  queue a message of a sendSizes size (see mayQueue)
//	0xf4       queue a keepalive (see mayQueue)
//	0xf5       the socket fails (EOF)
//	0xf6       a pending dial connects
//	0xf7       a pending dial is refused
//	0xf8       mark down (Stop)
//	0xf9       finish dispatching held messages
//	0xfa-0xff  read all of the peer's bytes
func (d *fuzzDriver) op(b byte) {
	switch {
	case b < 0xc0:
		d.chunk = (int(b&63) + 1) << (3 * (b >> 6))
		d.feed(d.chunk)
	case b < 0xe0:
		d.advance(tickSteps[int(b-0xc0)%len(tickSteps)])
	case b < 0xf0:
		d.write((int(b&15) + 1) * 5)
	case b < 0xf4:
		if d.mayQueue() {
			d.send(sendSizes[b&3])
		}
	case b == 0xf4:
		if d.mayQueue() {
			d.c.SendKeepalive()
		}
	case b == 0xf5:
		if d.h.sockOpen {
			d.c.TransportError(io.EOF)
		}
	case b == 0xf6:
		d.connected()
	case b == 0xf7:
		if d.h.dialing {
			d.h.dialing = false
			d.c.ConnectFailed(errors.New("ECONNREFUSED"), true)
		}
	case b == 0xf8:
		d.c.Stop()
	case b == 0xf9:
		d.h.releaseHeld()
	default:
		d.feed(len(d.stream))
	}
}

// mayQueue reports whether a messenger's user could hold this connection to send on it: a
// connector always, an acceptor once its session opened (before that it is in no registry and
// no dispatcher has heard of it). A message queued on an acceptor that is then handed over in
// a replace stays in the closed connection (testdata/fuzz/FuzzAcceptor/harness-send-before-open,
// the first input FuzzAcceptor found): a harness error, since msgr cannot do it.
func (d *fuzzDriver) mayQueue() bool { return d.c.connector || d.c.onceReady }

// feed hands the connection up to n of the peer's bytes (if it has a socket and reads).
func (d *fuzzDriver) feed(n int) int {
	if !d.h.sockOpen || len(d.stream) == 0 {
		return 0
	}
	took := d.c.Feed(d.stream[:min(n, len(d.stream))])
	d.stream = d.stream[took:]
	return took
}

// connected answers a pending dial: the peer's bytes that follow arrive on the new socket.
func (d *fuzzDriver) connected() {
	if d.h.dialing {
		d.h.dialing, d.h.sockOpen = false, true
		d.c.Connected()
	}
}

func (d *fuzzDriver) send(size int) {
	d.tid++
	m := wire.NewMessage(wire.MsgPing, make([]byte, size))
	m.Header.Tid, m.Header.Priority = d.tid, wire.PrioDefault
	d.c.Send(m)
}

// write takes up to n bytes of output.
func (d *fuzzDriver) write(n int) {
	if !d.h.sockOpen {
		return
	}
	total := 0
	for _, v := range d.c.Output() {
		total += len(v)
	}
	d.c.Wrote(min(n, total))
}

// writeAll writes everything the connection has to write.
func (d *fuzzDriver) writeAll() {
	for range 1000 {
		if !d.h.sockOpen || !d.c.HasOutput() {
			return
		}
		d.write(1 << 30)
	}
	d.h.failf("output never ends")
}

// advance moves the clock by `by`, running every timer that falls due on the way; held
// dispatches finish as time passes.
func (d *fuzzDriver) advance(by time.Duration) {
	target := d.h.now + by
	d.h.releaseHeld()
	for n := 0; ; n++ {
		at, ok := d.c.NextDeadline()
		if !ok || at > target {
			break
		}
		if n == maxTicks {
			d.h.failf("timers fired %d times in %v", n, by)
			return
		}
		d.h.now = max(d.h.now, at)
		d.c.Tick()
		d.h.releaseHeld()
		if next, ok := d.c.NextDeadline(); ok && next <= d.h.now {
			d.h.failf("after a tick at %v the next deadline is %v (state %v)", d.h.now, next, d.c.state)
			return
		}
	}
	d.h.now = max(d.h.now, target)
}

// check tests the properties that hold between any two actions.
func (d *fuzzDriver) check() error {
	if d.h.problem != nil {
		return d.h.problem
	}
	if err := d.checkBounds(); err != nil {
		return err
	}
	c := d.c
	_, armed := c.NextDeadline()
	switch {
	case c.state != StateClosed && c.state != StateStandby && !armed:
		return fmt.Errorf("stalled: no timer armed in %v", c.state)
	case c.state == StateStandby && !c.policy.Server && (c.queue.len() > 0 || c.keepalive):
		return fmt.Errorf("a non-server STANDBY holds %d messages (keepalive %v)", c.queue.len(), c.keepalive)
	case !d.h.sockOpen && c.HasOutput():
		return fmt.Errorf("output pending in %v without a socket", c.state)
	case c.state == StateClosed && c.Queued() > 0:
		return fmt.Errorf("CLOSED holds %d messages", c.Queued())
	}
	return nil
}

// checkBounds: no buffer the peer's lengths size exceeds the limits, and the prefetch buffer
// never grows.
func (d *fuzzDriver) checkBounds() error {
	c, lim := d.c, fuzzLimits
	maxNeed := int(max(lim.MaxFrontLen, lim.MaxMiddleLen, lim.MaxDataLen, lim.MaxAuthorizerLen))
	switch {
	case c.need.n > maxNeed || len(c.need.dst) > maxNeed:
		return fmt.Errorf("reading %d bytes at once, limits allow %d", c.need.n, maxNeed)
	case c.in.buf != nil && len(c.in.buf) != c.cfg.PrefetchSize: // nil: not taken yet, or given back idle
		return fmt.Errorf("prefetch buffer of %d bytes, configured %d", len(c.in.buf), c.cfg.PrefetchSize)
	case len(c.authorizer) > int(lim.MaxAuthorizerLen):
		return fmt.Errorf("holding an authorizer of %d bytes", len(c.authorizer))
	case c.rx.msg != nil && c.cfg.Limits.CheckHeader(&c.rx.msg.Header) != nil:
		return fmt.Errorf("receiving a message over the limits: %+v", c.rx.msg.Header)
	}
	return nil
}

// finish runs the clock past every timeout with no more input and checks where the
// connection ended up.
func (d *fuzzDriver) finish() error {
	d.h.releaseHeld()
	d.writeAll()
	d.advance(DefaultReadyTimeout + fuzzIdleTimeout + DefaultMaxBackoff + time.Second)
	if err := d.check(); err != nil {
		return err
	}
	switch d.c.state {
	case StateClosed, StateStandby, StateStartConnect:
	default:
		return fmt.Errorf("still in %v after every timeout passed with no input", d.c.state)
	}
	d.h.releaseHeld()
	for _, t := range d.h.th {
		if t.cur != 0 {
			return fmt.Errorf("throttle %s still holds %d units", t.name, t.cur)
		}
	}
	return nil
}
