//go:build linux

package msgr_test

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// isErr matches target through its Is method only.
type isErr struct{ target error }

func (e isErr) Error() string        { return "is " + e.target.Error() }
func (e isErr) Is(target error) bool { return target == e.target }

func TestClassifyFault(t *testing.T) {
	cases := []struct {
		err  error
		want msgr.FaultReason
	}{
		{fmt.Errorf("client greeting: %w", wire.ErrBadBanner), msgr.FaultBadBanner},
		{fmt.Errorf("x: %w", wire.ErrBadCRC), msgr.FaultBadCRC},
		{fmt.Errorf("x: %w", wire.ErrTooLarge), msgr.FaultTooLarge},
		{fmt.Errorf("x: %w", wire.ErrBadTag), msgr.FaultBadTag},
		{fmt.Errorf("x: %w", wire.ErrShort), msgr.FaultMalformed},
		{fmt.Errorf("x: %w", proto.ErrSeqRegression), msgr.FaultSeqRegression},
		{fmt.Errorf("x: %w", proto.ErrPeerAddrMismatch), msgr.FaultProtocol},
		{fmt.Errorf("x: %w", proto.ErrRejected), msgr.FaultRejected},
		{fmt.Errorf("x: %w", proto.ErrHandshakeTimeout), msgr.FaultHandshakeTimeout},
		{fmt.Errorf("x: %w", proto.ErrIdleTimeout), msgr.FaultIdleTimeout},
		{fmt.Errorf("%w: %w", proto.ErrTransport, syscall.ECONNRESET), msgr.FaultTransport},
		{errors.New("something else"), msgr.FaultOther},
		// Several sentinels in one tree: the earliest in the list wins, wherever it is.
		{fmt.Errorf("%w: %w", proto.ErrTransport, fmt.Errorf("frame: %w", wire.ErrBadCRC)), msgr.FaultBadCRC},
		{fmt.Errorf("%w: %w", fmt.Errorf("a: %w", proto.ErrAuth), proto.ErrTransport), msgr.FaultTransport},
		{fmt.Errorf("x: %w", errors.Join(proto.ErrIdleTimeout, nil, fmt.Errorf("y: %w", wire.ErrShort))), msgr.FaultMalformed},
		{isErr{proto.ErrRejected}, msgr.FaultRejected},
		{nil, msgr.FaultOther},
	}
	for _, c := range cases {
		if got := msgr.ClassifyFault(c.err); got != c.want {
			t.Errorf("ClassifyFault(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if !msgr.FaultBadCRC.PeerMisbehaved() || msgr.FaultTransport.PeerMisbehaved() || msgr.FaultHandshakeTimeout.PeerMisbehaved() {
		t.Error("PeerMisbehaved: crc mismatches are the peer's doing, transport failures and timeouts are not")
	}
}

// slowDispatcher records messages like recorder but takes a while over each one.
type slowDispatcher struct {
	*recorder
}

func (s slowDispatcher) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	time.Sleep(200 * time.Microsecond)
	return s.recorder.Dispatch(c, m)
}

// The counters follow real traffic: sessions, messages and bytes each way (one side's bytes
// out are the other's bytes in), throttle waits behind a one-message throttle, resets.
func TestMetricsCountTraffic(t *testing.T) {
	a := newRealNode(t, wire.NewName(wire.EntityOSD, 0), true, false, 1)
	b := newRealNode(t, wire.NewName(wire.EntityOSD, 1), true, false, 2)
	b.m.SetPolicyThrottlers(wire.EntityOSD, 0, 1)
	rec := newRecorder(false)
	b.m.AddDispatcherHead(slowDispatcher{rec})
	const n = 200
	sendReal(t, a, b, wire.EntityOSD, n)
	waitFor(t, "all messages", func() bool { return rec.count() == n })
	waitFor(t, "the byte counts to settle", func() bool {
		ma, mb := a.m.Metrics(), b.m.Metrics()
		return ma.BytesOut == mb.BytesIn && mb.BytesOut == ma.BytesIn && ma.BytesOut > 0
	})
	ma, mb := a.m.Metrics(), b.m.Metrics()
	if ma.MessagesOut < n || mb.MessagesIn != n || ma.SessionsConnected != 1 || mb.SessionsAccepted != 1 {
		t.Fatalf("a: %+v\nb: %+v", ma, mb)
	}
	if mb.ThrottleWaits == 0 {
		t.Fatalf("no throttle wait behind a one-message throttle and a slow dispatcher: %+v", mb)
	}
	if ma.BytesOut < n*(1+wire.HeaderLen+wire.FooterLen) {
		t.Fatalf("a wrote %d bytes for %d messages", ma.BytesOut, n)
	}
	if ma.Connections != 1 || mb.Connections != 1 {
		t.Fatalf("live connections %d and %d, want 1 each", ma.Connections, mb.Connections)
	}
	a.m.MarkDown(b.m.MyAddr())
	waitFor(t, "the reset to be counted", func() bool { return a.m.Metrics().Resets == 1 })
	a.stop()
	b.stop()
}

var promLine = regexp.MustCompile(`^msgr_[a-z_]+\{msgr="[^"]+"(,reason="[a-z_]+")?\} [0-9]+$`)

// WritePrometheus writes well-formed text: a HELP and TYPE line once per family, then one
// sample per messenger, faults labelled by reason.
func TestWritePrometheus(t *testing.T) {
	snaps := []msgr.Metrics{
		{Name: "osd.0", MessagesIn: 7, Faults: map[string]uint64{"bad_crc": 2}},
		{Name: "osd.1", BytesOut: 99, Faults: map[string]uint64{}},
	}
	var b strings.Builder
	if err := msgr.WritePrometheus(&b, snaps...); err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# TYPE "):
			types[strings.Fields(line)[2]]++
		case strings.HasPrefix(line, "# HELP "):
		case !promLine.MatchString(line):
			t.Errorf("malformed sample line %q", line)
		}
	}
	for name, k := range types {
		if k != 1 {
			t.Errorf("family %s has %d TYPE lines", name, k)
		}
	}
	for _, want := range []string{
		`msgr_messages_in_total{msgr="osd.0"} 7`, `msgr_bytes_out_total{msgr="osd.1"} 99`,
		`msgr_faults_total{msgr="osd.0",reason="bad_crc"} 2`, `msgr_faults_total{msgr="osd.1",reason="handshake_timeout"} 0`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in\n%s", want, b.String())
		}
	}
}

// failingStack makes its listener's Accept fail with EMFILE while fail is set.
type failingStack struct {
	netio.Stack
	fail  atomic.Bool
	calls atomic.Int64
}

func (s *failingStack) Listen(addr netip.AddrPort, backlog int) (netio.Listener, error) {
	l, err := s.Stack.Listen(addr, backlog)
	if err != nil {
		return nil, err
	}
	return &failingListener{Listener: l, s: s}, nil
}

type failingListener struct {
	netio.Listener
	s *failingStack
}

func (l *failingListener) Accept() (netio.Socket, error) {
	l.s.calls.Add(1)
	if l.s.fail.Load() {
		return nil, syscall.EMFILE
	}
	return l.Listener.Accept()
}

// A listener whose accepts fail (out of file descriptors) stays readable, the pending
// connection still in the backlog: the messenger backs off instead of spinning (Ceph aborts
// after ms_max_accept_failures), counts and logs the failures, and serves the connection once
// accepting works again.
func TestAcceptFailuresBackOff(t *testing.T) {
	st := &failingStack{Stack: epoll.New(epoll.Options{})}
	st.fail.Store(true)
	logs := &syncBuffer{}
	rt := &event.GoRuntime{}
	m, err := msgr.New(msgr.Config{
		Name: wire.NewName(wire.EntityMon, 0), Stack: st, Runtime: rt, Rand: detrand.NewSeeded(1),
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	m.SetDefaultPolicy(proto.StatelessServer(0))
	if err := m.Bind(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	m.AddDispatcherTail(&echoServer{})
	c, err := net.DialTimeout("tcp", m.MyAddr().Addr.String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "accept failures", func() bool { return m.Metrics().AcceptFailures >= 3 })
	time.Sleep(300 * time.Millisecond)
	// Backing off 10, 20, 40, 80, 160 ms… makes a handful of attempts in this time, whatever
	// the machine's load; a spinning loop makes thousands.
	if calls := st.calls.Load(); calls > 100 {
		t.Fatalf("%d accept attempts while accept kept failing: the listener is spun on", calls)
	}
	if !strings.Contains(logs.since(0), "accept failed") {
		t.Fatalf("no log line for the accept failures:\n%s", logs.since(0))
	}
	st.fail.Store(false)
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, wire.ServerGreetingLen)
	if _, err := readFull(c, buf); err != nil || wire.CheckBanner(buf) != nil {
		t.Fatalf("the pending connection was not served once accept worked again: %v", err)
	}
	m.Shutdown()
	m.Wait()
	rt.Wait()
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// A hostile server: the connecting side faults cleanly too, counts the fault by reason, and
// its connection reports why it faulted.
func TestConnectorReportsWhyItFaulted(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 16)
	defer func() {
		l.Close()
		for c := range accepted {
			c.Close()
		}
	}()
	go func() {
		defer close(accepted)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n"))
			select {
			case accepted <- c:
			default:
				c.Close()
			}
		}
	}()
	n := newRealNode(t, wire.NewName(wire.EntityClient, 1), false, false, 5)
	addr := wire.LegacyAddr(netip.MustParseAddrPort(l.Addr().String()), 0)
	c, err := n.m.ConnectTo(wire.EntityOSD, addr)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the connection to fault", func() bool { return c.LastFault() != nil })
	if r := msgr.ClassifyFault(c.LastFault()); r != msgr.FaultBadBanner {
		t.Fatalf("LastFault %v classified %v, want bad_banner", c.LastFault(), r)
	}
	waitFor(t, "the fault to be counted", func() bool { return n.m.Metrics().Fault(msgr.FaultBadBanner) >= 1 })
	n.stop()
}
