package protofuzz

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/msgrsim/msgrsim/internal/fuzzing"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/proto/prototest"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// MaxConnInput bounds the inputs CheckAcceptor and CheckConnector take: the fuzzer minimizes
// every new interesting input in time quadratic in its length, so a long one would stall the
// search.
const MaxConnInput = 1024

// CheckAcceptor runs one input of FuzzAcceptor and returns the first property it broke (an
// error wrapping fuzzing.ErrSkip for an input out of scope).
func CheckAcceptor(data []byte) error { return checkConn(data, true) }

// CheckConnector runs one input of FuzzConnector (see CheckAcceptor).
func CheckConnector(data []byte) error { return checkConn(data, false) }

func checkConn(data []byte, acceptor bool) error {
	if len(data) > MaxConnInput {
		return fuzzing.Skipf("%d bytes: longer inputs make minimization slow", len(data))
	}
	d := newDriver(data, acceptor, nil)
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

// driver feeds one connection its peer's bytes and the schedule's actions. The connection's
// Host is a prototest Node in a quiet World of its own; its peer is scripted (the fuzzer's
// bytes), so the World's sockets carry nothing: the driver feeds and drains the connection.
type driver struct {
	cfg    *config
	w      *prototest.World
	m      *prototest.Msgr
	n      *prototest.Node
	c      *proto.Conn
	watch  watch
	sched  []byte
	stream []byte
	chunk  int
	tid    uint64
	// tamper, when set, changes what check sees (the tests of the checks).
	tamper func(v view) view
}

// newDriver parses an input and starts the connection (a connector is connected at once).
// tweak, when not nil, changes the connection's configuration first (the tests of the
// checks).
func newDriver(data []byte, acceptor bool, tweak func(*proto.Config)) *driver {
	var hdr [3]byte
	copy(hdr[:], data)
	data = data[min(len(data), 3):]
	cfg := parseConfig(acceptor, hdr[0], hdr[1])
	k := min(int(hdr[2]), len(data))
	d := &driver{cfg: cfg, sched: data[:k], chunk: 64}
	d.stream = append(cfg.prefixBytes(), data[k:]...)
	d.newWorld(tweak)
	if acceptor {
		d.n = d.w.NewAcceptor("fuzz", d.m)
		d.w.AcceptFrom(d.n, cfg.observedAddr)
		d.c = d.n.C
		return d
	}
	if cfg.streamTarget && len(d.stream) >= wire.BannerLen+wire.AddrLen {
		if a, err := wire.DecodeLegacyAddr(d.stream[wire.BannerLen:]); err == nil {
			cfg.peerAddr = a
		}
	}
	d.n = d.w.NewConnectorTo("fuzz", d.m, cfg.peerAddr, cfg.peerName.Type)
	d.c = d.n.C
	d.connected()
	return d
}

// newWorld makes the connection's messenger: its identity, configuration and policies, the
// auth-none rules of msgr.AuthNone, tight throttles whose dispatch finishes only as time
// passes (smallThrottles), and the session registered for the peer (acceptor).
func (d *driver) newWorld(tweak func(*proto.Config)) {
	cfg := d.cfg
	d.w = prototest.New()
	d.w.Quiet = true
	d.watch.w = d.w
	d.w.Watch = &d.watch
	m := d.w.NewMsgr(cfg.name, cfg.myAddr, cfg.cluster, cfg.policyFor(wire.EntityOSD))
	m.Cfg = cfg.connConfig()
	if tweak != nil {
		tweak(&m.Cfg)
	}
	if cfg.acceptor {
		m.Policies = map[wire.EntityType]proto.Policy{wire.EntityClient: cfg.policyFor(wire.EntityClient)}
	}
	m.Verify, m.NoAuthorizerToMon = prototest.VerifyAuthNone, true
	if cfg.smallThrottles {
		m.Th[0].Max, m.Th[1].Max, m.Th[2].Max = 2, 600, 1000
		m.Hold = true
	}
	if cfg.existing.Present {
		m.RegisterExisting(d.w, cfg.existing)
	}
	d.m = m
}

func (d *driver) wrap(err error) error {
	return fmt.Errorf("%s (state %v, %d schedule and %d stream bytes left, at %v)",
		err, d.c.State(), len(d.sched), len(d.stream), d.w.Now)
}

// step performs the next action: the schedule's, else the default one. It returns false
// when nothing more can happen.
func (d *driver) step() bool {
	if len(d.sched) > 0 {
		b := d.sched[0]
		d.sched = d.sched[1:]
		d.op(b)
		return true
	}
	switch {
	case len(d.stream) == 0:
		return false
	case d.n.Sock != nil && d.c.WantRead():
		return d.feed(d.chunk) > 0
	case d.n.Dialing:
		d.connected()
		return true
	}
	at, ok := d.c.NextDeadline()
	if !ok {
		return false
	}
	d.advance(at - d.w.Now)
	return true
}

// tickSteps are the clock advances a schedule can ask for: the throttle retry, small steps,
// the initial backoff, the ready timeout, the maximum backoff and the idle timeout.
var tickSteps = [...]time.Duration{time.Millisecond, 5 * time.Millisecond, proto.DefaultInitialBackoff, time.Second,
	proto.DefaultReadyTimeout, proto.DefaultMaxBackoff, idleTimeout, 3 * time.Second}

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
func (d *driver) op(b byte) {
	switch {
	case b < 0xc0:
		d.chunk = (int(b&63) + 1) << (3 * (b >> 6))
		d.feed(d.chunk)
	case b < 0xe0:
		d.advance(tickSteps[int(b-0xc0)%len(tickSteps)])
	case b < 0xf0:
		d.write((int(b&15) + 1) * 5)
	case b < 0xf5:
		d.queue(b)
	case b == 0xf5:
		if d.n.Sock != nil {
			d.c.TransportError(io.EOF)
		}
	case b == 0xf6:
		d.connected()
	case b == 0xf7:
		if d.n.Dialing {
			d.n.Dialing = false
			d.c.ConnectFailed(errors.New("ECONNREFUSED"), true)
		}
	case b == 0xf8:
		d.c.Stop()
	case b == 0xf9:
		d.m.ReleaseHeld()
	default:
		d.feed(len(d.stream))
	}
}

// queue performs the actions 0xf0-0xf4: a message of a sendSizes size, or a keepalive.
func (d *driver) queue(b byte) {
	switch {
	case !d.mayQueue():
	case b < 0xf4:
		d.send(sendSizes[b&3])
	default:
		d.c.SendKeepalive()
	}
}

// mayQueue reports whether a messenger's user could hold this connection to send on it: a
// connector always, an acceptor once its session opened (before that it is in no registry and
// no dispatcher has heard of it). A message queued on an acceptor that is then handed over in
// a replace stays in the closed connection (msgr/proto/testdata/fuzz/FuzzAcceptor/
// harness-send-before-open, the first input FuzzAcceptor found): a harness error, since msgr
// cannot do it.
func (d *driver) mayQueue() bool { return d.c.IsConnector() || d.c.Inspect().OnceReady }

// feed hands the connection up to n of the peer's bytes (if it has a socket and reads).
func (d *driver) feed(n int) int {
	if d.n.Sock == nil || len(d.stream) == 0 {
		return 0
	}
	took := d.c.Feed(d.stream[:min(n, len(d.stream))])
	d.stream = d.stream[took:]
	return took
}

// connected answers a pending dial: the peer's bytes that follow arrive on the new socket.
func (d *driver) connected() {
	if d.n.Dialing {
		d.w.Connect(d.n, nil)
	}
}

func (d *driver) send(size int) {
	d.tid++
	m := wire.NewMessage(wire.MsgPing, make([]byte, size))
	m.Header.Tid, m.Header.Priority = d.tid, wire.PrioDefault
	d.c.Send(m)
}

// write takes up to n bytes of output.
func (d *driver) write(n int) {
	if d.n.Sock == nil {
		return
	}
	total := 0
	for _, v := range d.c.Output() {
		total += len(v)
	}
	d.c.Wrote(min(n, total))
}

// writeAll writes everything the connection has to write.
func (d *driver) writeAll() {
	for range 1000 {
		if d.n.Sock == nil || !d.c.HasOutput() {
			return
		}
		d.write(1 << 30)
	}
	d.w.Problemf("output never ends")
}

// advance moves the clock by `by`, running every timer that falls due on the way; held
// dispatches finish as time passes.
func (d *driver) advance(by time.Duration) {
	w := d.w
	target := w.Now + by
	d.m.ReleaseHeld()
	for n := 0; ; n++ {
		at, ok := d.c.NextDeadline()
		if !ok || at > target {
			break
		}
		if n == maxTicks {
			w.Problemf("timers fired %d times in %v", n, by)
			return
		}
		w.Now = max(w.Now, at)
		d.c.Tick()
		d.m.ReleaseHeld()
		if next, ok := d.c.NextDeadline(); ok && next <= w.Now {
			w.Problemf("after a tick at %v the next deadline is %v (state %v)", w.Now, next, d.c.State())
			return
		}
	}
	w.Now = max(w.Now, target)
}

// view is what the checks between two actions look at, read through the connection's
// exported API (proto.Conn.Inspect for what it holds).
type view struct {
	state  proto.State
	armed  bool // a timer is armed
	server bool // the policy in force is a server's
	sock   bool // the connection holds a socket
	// orphanOutput: output is pending while the connection holds no socket (HasOutput is
	// asked only then: it may encode the next message).
	orphanOutput bool
	ins          proto.Inspection
}

// look fills v (it runs between any two actions: v is filled in place, not copied).
func (d *driver) look(v *view) {
	_, v.armed = d.c.NextDeadline()
	v.state, v.sock, v.ins = d.c.State(), d.n.Sock != nil, d.c.Inspect()
	v.orphanOutput = !v.sock && d.c.HasOutput()
	if v.state == proto.StateStandby {
		v.server = d.c.Policy().Server
	}
	if d.tamper != nil {
		*v = d.tamper(*v)
	}
}

// check tests the properties that hold between any two actions.
func (d *driver) check() error {
	if len(d.w.Problems) > 0 {
		return errors.New(d.w.Problems[0])
	}
	var v view
	d.look(&v)
	if err := checkBounds(&v); err != nil {
		return err
	}
	switch {
	case v.state != proto.StateClosed && v.state != proto.StateStandby && !v.armed:
		return fmt.Errorf("stalled: no timer armed in %v", v.state)
	case v.state == proto.StateStandby && !v.server && (v.ins.Queued > 0 || v.ins.KeepalivePending):
		return fmt.Errorf("a non-server STANDBY holds %d messages (keepalive %v)", v.ins.Queued, v.ins.KeepalivePending)
	case v.orphanOutput:
		return fmt.Errorf("output pending in %v without a socket", v.state)
	case v.state == proto.StateClosed && v.ins.Queued+v.ins.Sent > 0:
		return fmt.Errorf("CLOSED holds %d messages", v.ins.Queued+v.ins.Sent)
	}
	return nil
}

// checkBounds: no buffer the peer's lengths size exceeds the limits, and the prefetch buffer
// never grows.
func checkBounds(v *view) error {
	in, lim := &v.ins, limits
	maxNeed := int(max(lim.MaxFrontLen, lim.MaxMiddleLen, lim.MaxDataLen, lim.MaxAuthorizerLen))
	switch {
	case in.ReadWant > maxNeed:
		return fmt.Errorf("reading %d bytes at once, limits allow %d", in.ReadWant, maxNeed)
	case in.PrefetchHeld && in.PrefetchLen != in.PrefetchSize: // not held: not taken yet, or given back idle
		return fmt.Errorf("prefetch buffer of %d bytes, configured %d", in.PrefetchLen, in.PrefetchSize)
	case in.AuthorizerLen > int(lim.MaxAuthorizerLen):
		return fmt.Errorf("holding an authorizer of %d bytes", in.AuthorizerLen)
	case in.Receiving && lim.CheckHeader(&in.ReceivingHeader) != nil:
		return fmt.Errorf("receiving a message over the limits: %+v", in.ReceivingHeader)
	}
	return nil
}

// finish runs the clock past every timeout with no more input and checks where the
// connection ended up.
func (d *driver) finish() error {
	d.m.ReleaseHeld()
	d.writeAll()
	d.advance(proto.DefaultReadyTimeout + idleTimeout + proto.DefaultMaxBackoff + time.Second)
	if err := d.check(); err != nil {
		return err
	}
	switch s := d.c.State(); s {
	case proto.StateClosed, proto.StateStandby, proto.StateStartConnect:
	default:
		return fmt.Errorf("still in %v after every timeout passed with no input", s)
	}
	d.m.ReleaseHeld()
	for _, t := range d.m.Th {
		if t.Cur != 0 {
			return fmt.Errorf("throttle %s still holds %d units", t.Name, t.Cur)
		}
	}
	return nil
}
