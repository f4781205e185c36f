package msgr_test

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// recorder is a Dispatcher that records every message it gets, by sender.
type recorder struct {
	msgr.NopDispatcher
	fast bool
	mu   sync.Mutex
	got  map[string][]uint64 // sender name -> tids in dispatch order
	n    int
}

func newRecorder(fast bool) *recorder { return &recorder{fast: fast, got: map[string][]uint64{}} }

func (r *recorder) CanFastDispatchAny() bool             { return r.fast }
func (r *recorder) CanFastDispatch(m *msgr.Message) bool { return r.fast }
func (r *recorder) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	r.Dispatch(c, m)
}
func (r *recorder) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := m.Header.Src.String()
	r.got[k] = append(r.got[k], m.Header.Tid)
	r.n++
	return true
}
func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}
func (r *recorder) tids(src string) []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.got[src]...)
}

type node struct {
	m   *msgr.Messenger
	rec *recorder
}

func newSimNode(t *testing.T, w *world.World, name wire.EntityName, ip string, bind bool, fast bool) *node {
	t.Helper()
	h := w.AddHost(name.String(), netip.MustParseAddr(ip))
	m, err := msgr.New(msgr.Config{Name: name, Stack: h, Runtime: w, Rand: w.Rand(), ClusterProtocol: 10})
	if err != nil {
		t.Fatal(err)
	}
	m.SetPolicy(wire.EntityOSD, proto.LosslessPeer(0))
	m.SetPolicy(wire.EntityClient, proto.StatelessServer(0))
	m.SetPolicy(wire.EntityMon, proto.LossyClient(0))
	if bind {
		if err := m.Bind(netip.AddrPortFrom(netip.MustParseAddr(ip), 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(fast)
	m.AddDispatcherTail(rec)
	return &node{m: m, rec: rec}
}

func sendN(t *testing.T, from, to *node, peerType wire.EntityType, n int) {
	t.Helper()
	c, err := from.m.ConnectTo(peerType, to.m.MyAddr())
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		msg := wire.NewMessage(wire.MsgPing, []byte(fmt.Sprintf("%s->%s #%d", from.m.Name(), to.m.Name(), i)))
		msg.Header.Tid = uint64(i)
		c.SendMessage(msg)
	}
}

func checkInOrder(t *testing.T, seed uint64, got []uint64, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("seed %d: got %d messages, want %d: %v", seed, len(got), n, got)
	}
	for i, tid := range got {
		if tid != uint64(i+1) {
			t.Fatalf("seed %d: message %d has tid %d: %v", seed, i, tid, got)
		}
	}
}

func TestSimnetLosslessAndLossy(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		w := world.New(seed, simnet.Config{Latency: 50 * time.Microsecond}, false)
		a := newSimNode(t, w, wire.NewName(wire.EntityOSD, 0), "10.0.0.1", true, seed%2 == 0)
		b := newSimNode(t, w, wire.NewName(wire.EntityOSD, 1), "10.0.0.2", true, false)
		c := newSimNode(t, w, wire.NewName(wire.EntityClient, 4100), "10.0.0.3", false, false)
		const n = 40
		sendN(t, a, b, wire.EntityOSD, n)
		sendN(t, b, a, wire.EntityOSD, n)
		sendN(t, c, a, wire.EntityOSD, n)
		done := func() bool { return a.rec.count() == 2*n && b.rec.count() == n }
		if err := w.RunUntil(done, time.Minute, 2_000_000); err != nil {
			t.Fatalf("seed %d: %v (a got %d, b got %d)", seed, err, a.rec.count(), b.rec.count())
		}
		checkInOrder(t, seed, a.rec.tids("osd.1"), n)
		checkInOrder(t, seed, a.rec.tids("client.4100"), n)
		checkInOrder(t, seed, b.rec.tids("osd.0"), n)
	}
}
