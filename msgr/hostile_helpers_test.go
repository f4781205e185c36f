//go:build linux

package msgr_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// since returns what was logged after offset off.
func (b *syncBuffer) since(off int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()[off:]
}

func (b *syncBuffer) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// echoServer answers every MPing with an MPing carrying the same tid.
type echoServer struct {
	msgr.NopDispatcher
	pings atomic.Int64
}

func (s *echoServer) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	if m.Header.Type == wire.MsgPing {
		s.pings.Add(1)
		pong := wire.NewMessage(wire.MsgPing, []byte("pong"))
		pong.Header.Tid = m.Header.Tid
		_ = c.SendMessage(pong)
	}
	return true
}

// pongs records the tids of the MPings a client receives.
type pongs struct {
	msgr.NopDispatcher
	mu   sync.Mutex
	tids map[uint64]bool
}

func (p *pongs) Dispatch(_ *msgr.Connection, m *msgr.Message) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tids[m.Header.Tid] = true
	return true
}

func (p *pongs) got(tid uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tids[tid]
}

// hostileEnv is a monitor-like messenger on the epoll stack that hostile peers attack, and a
// well-behaved client messenger that checks, after each attack, that the server still serves.
type hostileEnv struct {
	srv     *msgr.Messenger
	srvRT   *event.GoRuntime
	echo    *echoServer
	logs    *syncBuffer
	addr    string
	cli     *msgr.Messenger
	cliRT   *event.GoRuntime
	pongs   *pongs
	nextTid uint64
	heap    *heapSampler // the running case's heap sampler
	osd     *cephxOSD    // the cephx service the cephx cases attack
}

const (
	hostileReadyTimeout = 2 * time.Second // the server's handshake deadline
	hostileMaxConns     = 64
	hostileDispatchMax  = 32 << 20 // the server's dispatch throttle: what all sessions may pin
)

func newHostileEnv(t *testing.T) *hostileEnv {
	t.Helper()
	e := &hostileEnv{logs: &syncBuffer{}, echo: &echoServer{}, pongs: &pongs{tids: map[uint64]bool{}}}
	e.srvRT = &event.GoRuntime{}
	srv, err := msgr.New(msgr.Config{
		Name: wire.NewName(wire.EntityMon, 0), ExplicitNonce: true, Stack: epoll.New(epoll.Options{}),
		Runtime: e.srvRT, Rand: detrand.NewSeeded(1), Workers: 2, ClusterProtocol: wire.ProtoMonPeer,
		ReadyTimeout: hostileReadyTimeout, MaxConnections: hostileMaxConns, DispatchThrottleBytes: hostileDispatchMax,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetDefaultPolicy(proto.StatelessServer(0))
	if err := srv.Bind(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	srv.AddDispatcherTail(e.echo)
	e.srv, e.addr = srv, srv.MyAddr().Addr.String()

	e.cliRT = &event.GoRuntime{}
	cli, err := msgr.New(msgr.Config{
		Name: wire.NewName(wire.EntityClient, 4100), Stack: epoll.New(epoll.Options{}), Runtime: e.cliRT,
		Rand: detrand.NewSeeded(2), Workers: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	cli.SetPolicy(wire.EntityMon, proto.LossyClient(0))
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	cli.AddDispatcherTail(e.pongs)
	e.cli = cli
	e.osd = newCephxOSD(t, e.logs)
	return e
}

func (e *hostileEnv) stop() {
	for _, x := range []struct {
		m  *msgr.Messenger
		rt *event.GoRuntime
	}{{e.cli, e.cliRT}, {e.srv, e.srvRT}} {
		x.m.Shutdown()
		x.m.Wait()
		x.rt.Wait()
	}
	e.osd.stop()
}

// checkServes has a well-behaved client open a new session and get an MPing answered, then
// close it and wait until the server dropped its side too; and the same for the cephx OSD
// with a well-behaved cephx client (a signed session).
func (e *hostileEnv) checkServes(t *testing.T) {
	t.Helper()
	e.nextTid++
	goodPing(t, goodPeer{cli: e.cli, srv: e.srv, pongs: e.pongs, peerType: wire.EntityMon, who: "server"}, e.nextTid)
	e.osd.checkServes(t, e.nextTid)
}

// goodPeer is a well-behaved client (cli) of a server messenger under attack (srv).
type goodPeer struct {
	cli, srv *msgr.Messenger
	pongs    *pongs
	peerType wire.EntityType
	who      string // the server, in failure messages
	signed   bool   // the session must be signed
}

// goodPing has g's client open a new session, send MPing tid and get it answered (on a
// signed session if g.signed), then mark it down and wait until the server dropped its side.
func goodPing(t *testing.T, g goodPeer, tid uint64) {
	t.Helper()
	live := g.srv.Metrics().Connections
	c, err := g.cli.ConnectToAnon(g.peerType, g.srv.MyAddr())
	if err != nil {
		t.Fatal(err)
	}
	ping := wire.NewMessage(wire.MsgPing, nil)
	ping.Header.Tid = tid
	if err := c.SendMessage(ping); err != nil {
		t.Fatal(err)
	}
	waitFor(t, fmt.Sprintf("the %s to answer a good client's ping %d", g.who, tid), func() bool { return g.pongs.got(tid) })
	if g.signed && !c.Signed() {
		t.Fatalf("the good client's session with the %s is not signed", g.who)
	}
	c.MarkDown()
	waitFor(t, fmt.Sprintf("the %s to drop the good client's session", g.who), func() bool { return g.srv.Metrics().Connections <= live })
}

// rawPeer is a hand-driven msgr1 client on a plain TCP socket.
type rawPeer struct {
	t        *testing.T
	c        net.Conn
	features uint64
	seq      uint64
}

func dialRaw(t *testing.T, addr string) *rawPeer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawPeer{t: t, c: c}
}

func (p *rawPeer) write(b []byte) {
	p.t.Helper()
	_ = p.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := p.c.Write(b); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

func (p *rawPeer) read(n int) []byte {
	p.t.Helper()
	_ = p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(p.c, b); err != nil {
		p.t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

// greeting is the client's banner and address.
func greeting() []byte {
	me := wire.LegacyAddr(netip.MustParseAddrPort("127.0.0.1:0"), 77)
	return me.AppendLegacy(wire.AppendBanner(nil))
}

// connectMsg is a client's connect message toward a monitor, announcing authLen bytes of
// authorizer.
func connectMsg(authLen uint32) []byte {
	cm := wire.Connect{
		Features: wire.FeaturesAll, HostType: wire.EntityClient, GlobalSeq: 1,
		ProtocolVersion: wire.ProtoMonClient, AuthorizerLen: authLen, Flags: wire.ConnectLossy,
	}
	return cm.Append(nil)
}

// handshake completes a client handshake: the session is open when it returns.
func (p *rawPeer) handshake() {
	p.t.Helper()
	p.write(append(greeting(), connectMsg(0)...))
	if err := wire.CheckBanner(p.read(wire.ServerGreetingLen)); err != nil {
		p.t.Fatalf("server greeting: %v", err)
	}
	r, err := wire.DecodeConnectReply(p.read(wire.ConnectReplyLen), wire.Limits{})
	if err != nil {
		p.t.Fatalf("connect reply: %v", err)
	}
	switch r.Tag {
	case wire.TagSeq:
		p.read(wire.SeqLen)
		p.write(wire.AppendSeq(nil, 0))
	case wire.TagReady:
	default:
		p.t.Fatalf("connect reply %v, want SEQ or READY", r.Tag)
	}
	p.features = r.Features
}

// message is a sealed MPing with the next seq (or seq, when not 0).
func (p *rawPeer) message(seq uint64, front []byte) *wire.Message {
	if seq == 0 {
		p.seq++
		seq = p.seq
	}
	m := wire.NewMessage(wire.MsgPing, front)
	m.Header.Seq, m.Header.Priority = seq, wire.PrioDefault
	m.Header.Src = wire.NewName(wire.EntityClient, 4242)
	m.Seal(true, true)
	return m
}

func (p *rawPeer) frame(m *wire.Message) []byte {
	return wire.AppendMessageFrame(nil, m, p.features&wire.FeatureMsgAuth == 0)
}

// expectClosed reads (and discards) until the server closes the connection, and fails the
// test if it does not within the wait.
func (p *rawPeer) expectClosed(wait time.Duration) {
	p.t.Helper()
	_ = p.c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 64<<10)
	for {
		_, err := p.c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			p.t.Fatalf("the server did not close the connection within %v", wait)
		}
		return // EOF or a reset: closed
	}
}

// closedNow reports, without waiting long, whether the server closed the connection.
func (p *rawPeer) closedNow() bool {
	_ = p.c.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [4096]byte
	for {
		_, err := p.c.Read(b[:])
		if err == nil {
			continue
		}
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
}

// peakRSS reads the process's peak resident set size (VmHWM) in KiB.
func peakRSS(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// resetPeakRSS resets VmHWM to the current RSS (Linux ≥ 4.0), so that the next peakRSS is
// the peak since now. It reports whether it could.
func resetPeakRSS() bool {
	runtime.GC()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// heapSampler follows the live Go heap (as the garbage collector last marked it, from
// runtime/metrics) every millisecond and keeps its peak: what the messenger pinned. Unlike
// the process's RSS it counts neither the race detector's shadow memory, nor what earlier
// tests left mapped, nor garbage not yet collected, so a bound on it holds whatever ran
// before and with -race. A large allocation starts a collection, so a transient peak is seen;
// mark collects now, for a case that knows it is at its peak; freeze ends the sampling there,
// for a case whose teardown is not what it bounds.
type heapSampler struct {
	stop   chan struct{}
	done   chan uint64
	mu     sync.Mutex
	max    uint64
	frozen bool
}

const liveHeapMetric = "/gc/heap/live:bytes"

// liveHeap reads the live heap as of the last collection.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: liveHeapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// startHeapSampler collects garbage (the baseline), then samples until stopped.
func startHeapSampler() *heapSampler {
	runtime.GC()
	h := &heapSampler{stop: make(chan struct{}), done: make(chan uint64, 1)}
	h.note()
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				h.done <- h.note()
				return
			case <-tick.C:
				h.note()
			}
		}
	}()
	return h
}

// note samples the live heap and returns the peak so far.
func (h *heapSampler) note() uint64 {
	v := liveHeap()
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.frozen {
		h.max = max(h.max, v)
	}
	return h.max
}

// mark collects garbage now and samples what is live.
func (h *heapSampler) mark() {
	runtime.GC()
	h.note()
}

// freeze collects garbage now, samples what is live, and keeps that as the last sample: what
// comes after (a teardown) no longer counts.
func (h *heapSampler) freeze() {
	h.mark()
	h.mu.Lock()
	h.frozen = true
	h.mu.Unlock()
}

// peak collects, stops the sampler and returns the largest live heap it saw.
func (h *heapSampler) peak() uint64 {
	h.mark()
	close(h.stop)
	return <-h.done
}

// waitGoroutines waits until at most n goroutines run (a leak check).
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutine leak: %d running, want at most %d\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
