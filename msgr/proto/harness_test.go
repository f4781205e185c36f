package proto

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// testHost is a Host for driving Conns without sockets: it records what the core asks for.
type testHost struct {
	name      string
	now       *time.Duration
	rand      *detrand.Rand
	addr      wire.EntityAddr
	gseq      uint32
	policy    Policy
	throttles Throttles
	existing  *Conn // the registry, for the accept decision

	connects  int
	closes    int
	delivered []*wire.Message
	events    []EventKind
	faults    []error
	states    []string
	decisions []Decision
}

func newTestHost(name string, now *time.Duration, addr wire.EntityAddr, p Policy) *testHost {
	return &testHost{name: name, now: now, rand: detrand.NewSeeded(1), addr: addr, policy: p}
}

func (h *testHost) Now() time.Duration      { return *h.now }
func (h *testHost) Wall() time.Time         { return time.Unix(1700000000, 0).Add(*h.now) }
func (h *testHost) Rand() *detrand.Rand     { return h.rand }
func (h *testHost) StartConnect()           { h.connects++ }
func (h *testHost) CloseTransport()         { h.closes++ }
func (h *testHost) MyAddr() wire.EntityAddr { return h.addr }
func (h *testHost) Authorizer(wire.EntityType) (uint32, []byte) {
	a := wire.AuthNoneAuthorizer{Name: wire.AuthEntityName{Type: 4, ID: h.name}, GlobalID: 7}
	return wire.AuthNone, a.AppendEncoded(nil)
}
func (h *testHost) LearnAddr(wire.EntityAddr) wire.EntityAddr { return h.addr }
func (h *testHost) GlobalSeq(atLeast uint32) uint32 {
	h.gseq = max(h.gseq, atLeast) + 1
	return h.gseq
}
func (h *testHost) PolicyFor(wire.EntityType) (Policy, Throttles) { return h.policy, h.throttles }
func (h *testHost) AcceptConnect(req *ConnectRequest) Decision {
	in := DecideInput{
		Connect: req.Connect, Policy: req.Policy, AuthResult: 1, PeerAddr: req.PeerAddr, MyAddr: h.addr,
		ProtocolVersion: ProtocolVersion(wire.EntityOSD, req.Connect.HostType, 10, false),
		Replacing:       req.Replacing,
	}
	if h.existing != nil {
		in.Existing = h.existing.Snapshot()
	}
	d := Decide(&in)
	h.decisions = append(h.decisions, d)
	return d
}
func (h *testHost) Deliver(m *wire.Message, r Reservation) {
	h.delivered = append(h.delivered, m)
	h.throttles.Release(r)
}
func (h *testHost) DiscardIncoming()           {}
func (h *testHost) Event(k EventKind)          { h.events = append(h.events, k) }
func (h *testHost) Faulted(s State, err error) { h.faults = append(h.faults, err) }
func (h *testHost) StateChanged(from, to State) {
	h.states = append(h.states, to.String())
}

// link is a pair of connected Conns and a byte pump between them with seeded chunking.
type link struct {
	t          *testing.T
	now        time.Duration
	rand       *detrand.Rand
	a, b       *Conn
	ha, hb     *testHost
	maxChunk   int
	aToB, bToA []byte
}

var (
	addrA = wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.1:6800"), 1)
	addrB = wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.2:6800"), 2)
)

func testConfig(name wire.EntityName) Config {
	return Config{MyName: name, ClusterProtocol: 10, CRCHeader: true, CRCData: true}
}

// newLink makes a connector a (osd.1 at addrA) toward an acceptor b (osd.2 at addrB).
func newLink(t *testing.T, seed uint64, pa, pb Policy) *link {
	l := &link{t: t, rand: detrand.NewSeeded(seed), maxChunk: 64}
	l.ha = newTestHost("a", &l.now, addrA, pa)
	l.hb = newTestHost("b", &l.now, addrB, pb)
	l.a = NewConnector(testConfig(wire.NewName(wire.EntityOSD, 1)), l.ha, addrB, wire.EntityOSD, pa, Throttles{})
	sockPeer := wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.1:40000"), 0)
	l.b = NewAcceptor(testConfig(wire.NewName(wire.EntityOSD, 2)), l.hb, sockPeer)
	l.a.Start()
	l.a.Connected()
	l.b.Start()
	return l
}

// flush moves output of c into the in-flight buffer, in seeded short writes.
func (l *link) flush(c *Conn, dst *[]byte) bool {
	moved := false
	for {
		iov := c.Output()
		if len(iov) == 0 {
			return moved
		}
		n := 1 + l.rand.IntN(l.maxChunk)
		written := 0
		for _, s := range iov {
			k := min(len(s), n-written)
			*dst = append(*dst, s[:k]...)
			written += k
			if written == n {
				break
			}
		}
		c.Wrote(written)
		moved = true
	}
}

// deliver feeds in-flight bytes to c in seeded chunks.
func (l *link) deliver(c *Conn, src *[]byte) bool {
	moved := false
	for len(*src) > 0 {
		n := min(len(*src), 1+l.rand.IntN(l.maxChunk))
		took := c.Feed((*src)[:n])
		*src = (*src)[took:]
		if took == 0 {
			return moved
		}
		moved = true
	}
	return moved
}

// run pumps bytes both ways until nothing moves.
func (l *link) run() {
	for i := 0; i < 100000; i++ {
		moved := l.flush(l.a, &l.aToB)
		moved = l.flush(l.b, &l.bToA) || moved
		moved = l.deliver(l.b, &l.aToB) || moved
		moved = l.deliver(l.a, &l.bToA) || moved
		if !moved {
			return
		}
	}
	l.t.Fatal("link did not quiesce")
}

func ping(tid uint64, payload string) *wire.Message {
	m := wire.NewMessage(wire.MsgPing, []byte(payload))
	m.Header.Tid = tid
	m.Header.Priority = wire.PrioDefault
	return m
}

func describe(ms []*wire.Message) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%d:%s ", m.Header.Seq, m.Front)
	}
	return b.String()
}
