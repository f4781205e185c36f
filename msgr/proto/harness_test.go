package proto_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/proto/prototest"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// link is a pair of connected Conns on prototest Nodes (quiet, no sockets) and a byte pump
// between them with seeded chunking.
type link struct {
	t          *testing.T
	w          *prototest.World
	rand       *detrand.Rand
	a, b       *proto.Conn
	ha, hb     *prototest.Node
	ma, mb     *prototest.Msgr
	maxChunk   int
	aToB, bToA []byte
}

var (
	addrA = wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.1:6800"), 1)
	addrB = wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.2:6800"), 2)
)

// newLinkWorld makes a quiet world with osd.1 at addrA and osd.2 at addrB (policies pa, pb),
// each messenger's random source seeded with 1.
func newLinkWorld(pa, pb proto.Policy) (w *prototest.World, ma, mb *prototest.Msgr) {
	w = prototest.New()
	w.Quiet = true
	ma = w.NewMsgr(wire.NewName(wire.EntityOSD, 1), addrA, 10, pa)
	mb = w.NewMsgr(wire.NewName(wire.EntityOSD, 2), addrB, 10, pb)
	mb.Rand = detrand.NewSeeded(1)
	return w, ma, mb
}

// newLink makes a connector a (osd.1 at addrA) toward an acceptor b (osd.2 at addrB).
func newLink(t *testing.T, seed uint64, pa, pb proto.Policy) *link {
	w, ma, mb := newLinkWorld(pa, pb)
	return startLink(t, seed, w, ma, mb)
}

func startLink(t *testing.T, seed uint64, w *prototest.World, ma, mb *prototest.Msgr) *link {
	l := &link{t: t, w: w, rand: detrand.NewSeeded(seed), maxChunk: 64, ma: ma, mb: mb}
	l.ha = w.NewConnector("a", ma, mb, mb.Addr)
	l.hb = w.NewNode("b", mb)
	sockPeer := wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.1:40000"), 0)
	l.a = l.ha.C
	l.b = proto.NewAcceptor(mb.Cfg, l.hb, sockPeer)
	l.hb.C = l.b
	l.a.Connected()
	l.b.Start()
	return l
}

// flush moves output of c into the in-flight buffer, in seeded short writes.
func (l *link) flush(c *proto.Conn, dst *[]byte) bool {
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
func (l *link) deliver(c *proto.Conn, src *[]byte) bool {
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

// faults lists the faults the connections of the link reported.
func (l *link) faults() string {
	var b strings.Builder
	for _, f := range l.w.Faults {
		fmt.Fprintf(&b, "%s in %v: %v; ", f.Node.Name, f.State, f.Err)
	}
	return b.String()
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
