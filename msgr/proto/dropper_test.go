package proto_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/proto/prototest"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// accounting is a connector's Host that records how the core gave up each message it sent,
// acknowledged (AckObserver) or dropped (Dropper), so the tests can hold the core to "every
// message Send accepted is reported exactly once, and never while it may still be resent".
type accounting struct {
	*prototest.Node
	acked, dropped map[*wire.Message]int
	incomplete     int // messages reported dropped while their footer was incomplete
}

func (a *accounting) Acked(ms []*wire.Message) {
	for _, m := range ms {
		a.acked[m]++
	}
}
func (a *accounting) Dropped(m *wire.Message) {
	a.dropped[m]++
	if m.Footer.Flags&wire.FooterComplete == 0 {
		a.incomplete++
	}
}

// check fails unless every message of sent was reported exactly once in all, and the ones in
// wantAcked by Acked.
func (a *accounting) check(t *testing.T, seed uint64, sent []*wire.Message, wantAcked int) {
	t.Helper()
	acked := 0
	for i, m := range sent {
		na, nd := a.acked[m], a.dropped[m]
		if na+nd != 1 {
			t.Fatalf("seed %d: message %d reported acked %d times, dropped %d times", seed, i+1, na, nd)
		}
		acked += na
	}
	if acked != wantAcked {
		t.Fatalf("seed %d: %d messages acknowledged, want %d", seed, acked, wantAcked)
	}
	if len(a.acked)+len(a.dropped) != len(sent) {
		t.Fatalf("seed %d: %d messages reported for %d sent", seed, len(a.acked)+len(a.dropped), len(sent))
	}
}

func newAccountingLink(t *testing.T, seed uint64, pa, pb proto.Policy) (*link, *accounting) {
	return newAccountingLinkChunked(t, seed, pa, pb, 0)
}

// newAccountingLinkChunked is newAccountingLink with a's Config.WriteChunk set to chunk.
func newAccountingLinkChunked(t *testing.T, seed uint64, pa, pb proto.Policy, chunk int) (*link, *accounting) {
	w, ma, mb := newLinkWorld(pa, pb)
	ma.Cfg.WriteChunk = chunk
	l := &link{t: t, w: w, rand: detrand.NewSeeded(seed), maxChunk: 64, ma: ma, mb: mb}
	l.ha = w.NewNode("a", ma)
	acc := &accounting{Node: l.ha, acked: map[*wire.Message]int{}, dropped: map[*wire.Message]int{}}
	l.ha.C = proto.NewConnector(ma.Cfg, acc, mb.Addr, mb.Cfg.MyName.Type, ma.PolicyFor(mb.Cfg.MyName.Type), ma.Throttles())
	l.ha.Target, l.ha.Started = mb, true
	ma.Registry = l.ha
	l.ha.C.Start()
	l.hb = w.NewNode("b", mb)
	l.a = l.ha.C
	l.b = proto.NewAcceptor(mb.Cfg, l.hb, wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.1:40000"), 0))
	l.hb.C = l.b
	l.a.Connected()
	l.b.Start()
	return l, acc
}

// TestDropperAccountsForEveryMessage: on a lossless session cut mid-traffic and reconnected,
// each sent message is acknowledged exactly once (not dropped while it waits to be resent),
// and the messages Stop discards are dropped exactly once; on a lossy session every message
// written is dropped once, and those a fault discards too.
func TestDropperAccountsForEveryMessage(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		l, acc := newAccountingLink(t, seed, proto.LosslessClient(0), proto.StatefulServer(0))
		l.maxChunk = 40
		var sent []*wire.Message
		send := func(i int) {
			m := ping(uint64(i), fmt.Sprintf("m%d", i))
			sent = append(sent, m)
			l.a.Send(m)
		}
		for i := 1; i <= 10; i++ {
			send(i)
		}
		steps := 1 + l.rand.IntN(12)
		for range steps {
			l.flushAll()
			l.deliver(l.b, &l.aToB)
			l.deliver(l.a, &l.bToA)
		}
		l.cut()
		if len(acc.dropped) != 0 {
			t.Fatalf("seed %d: %d messages dropped by a fault of a lossless session", seed, len(acc.dropped))
		}
		l.reaccept()
		if got := len(l.mb.Delivered); got != 10 {
			t.Fatalf("seed %d: %d delivered", seed, got)
		}
		acc.check(t, seed, sent, 10)
		for i := 11; i <= 15; i++ {
			send(i)
		}
		l.flush(l.a, &l.aToB) // written, some or all, not acknowledged
		send(16)              // queued
		l.a.Stop()
		acc.check(t, seed, sent, 10)
	}
	for seed := uint64(1); seed <= 50; seed++ {
		l, acc := newAccountingLink(t, seed, proto.LossyClient(0), proto.StatelessServer(0))
		var sent []*wire.Message
		for i := 1; i <= 10; i++ {
			m := ping(uint64(i), fmt.Sprintf("m%d", i))
			sent = append(sent, m)
			l.a.Send(m)
		}
		steps := 1 + l.rand.IntN(12)
		for range steps {
			l.flushAll()
			l.deliver(l.b, &l.aToB)
			l.deliver(l.a, &l.bToA)
		}
		l.cut() // a lossy fault stops the session, discarding what was not written
		acc.check(t, seed, sent, 0)
	}
}

// TestDropperWaitsForChunkedFooters: on a lossy session whose data crc is summed a chunk at a
// time (Config.WriteChunk), a written message is reported dropped only once its last chunk was
// summed and its footer encoded (from then on the host may reuse the message: a lent one is
// lent again), and exactly once, also when a fault discards it half written.
func TestDropperWaitsForChunkedFooters(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		l, acc := newAccountingLinkChunked(t, seed, proto.LossyClient(0), proto.StatelessServer(0), testChunk)
		sent := chunkMessages(detrand.NewSeeded(seed), 8)
		for _, m := range sent {
			l.a.Send(m)
		}
		steps := 1 + l.rand.IntN(40)
		for range steps {
			l.flushAll()
			if acc.incomplete != 0 {
				t.Fatalf("seed %d: %d messages reported dropped before their footer was complete", seed, acc.incomplete)
			}
			l.deliver(l.b, &l.aToB)
			l.deliver(l.a, &l.bToA)
		}
		// More, of which a short write hands out only the first bytes: the cut finds chunks
		// not summed yet, and their messages are dropped by it, once.
		more := chunkMessages(detrand.NewSeeded(seed+1000), 4)
		for _, m := range more {
			m.Data = make([]byte, 3*testChunk+1)
			l.a.Send(m)
		}
		sent = append(sent, more...)
		if iov := l.a.Output(); len(iov) > 0 {
			l.a.Wrote(min(len(iov[0]), 1+l.rand.IntN(100)))
		}
		l.cut() // a lossy fault stops the session, discarding what was not written
		acc.check(t, seed, sent, 0)
	}
}
