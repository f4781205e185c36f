package msgr

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// recycledPair runs two messengers made with rec (a client with two workers, a server with
// the default three) until n messages and their acknowledgements went across, shuts them
// down when shutdown is set, and returns them with every connection they made.
func recycledPair(t *testing.T, rec *Recycler, seed uint64, n int, shutdown bool) ([]*Messenger, []*Connection) {
	t.Helper()
	w := world.New(seed, simnet.Config{Latency: 50 * time.Microsecond}, false)
	mk := func(name wire.EntityName, ip string, workers int) (*Messenger, *countingFast) {
		h := w.AddHost(name.String(), netip.MustParseAddr(ip))
		m, err := New(Config{Name: name, Stack: h, Runtime: w, Rand: w.Rand(), Workers: workers, Recycler: rec})
		if err != nil {
			t.Fatal(err)
		}
		m.SetPolicy(wire.EntityOSD, proto.LosslessPeer(0))
		m.SetPolicy(wire.EntityClient, proto.StatelessServer(0))
		if err := m.Bind(netip.AddrPortFrom(netip.MustParseAddr(ip), 0)); err != nil {
			t.Fatal(err)
		}
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
		d := &countingFast{}
		m.AddDispatcherTail(d)
		return m, d
	}
	a, _ := mk(wire.NewName(wire.EntityOSD, 0), "10.0.0.1", 2)
	b, got := mk(wire.NewName(wire.EntityOSD, 1), "10.0.0.2", 0)
	conn, err := a.ConnectTo(wire.EntityOSD, b.MyAddr())
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := conn.SendMessage(a.NewMessage(wire.MsgPing, []byte("recycled"))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.RunUntil(func() bool { return got.n.Load() == int64(n) && conn.Queued() == 0 }, time.Hour, 1_000_000); err != nil {
		t.Fatal(err)
	}
	var conns []*Connection
	for _, m := range []*Messenger{a, b} {
		conns = append(conns, m.made...)
	}
	if shutdown {
		a.Shutdown()
		b.Shutdown()
		if err := w.RunUntil(func() bool { return a.Finished() && b.Finished() }, time.Hour, 1_000_000); err != nil {
			t.Fatal(err)
		}
	}
	return []*Messenger{a, b}, conns
}

// uncleared names the fields of the struct v points to that are not zero, but for those in
// kept: a map there must be empty, a slice empty with a zero backing array, anything else is
// not looked at.
func uncleared(v any, kept ...string) []string {
	var bad []string
	s := reflect.ValueOf(v).Elem()
	for i := range s.NumField() {
		f, name := s.Field(i), s.Type().Field(i).Name
		keep := false
		for _, k := range kept {
			keep = keep || k == name
		}
		switch {
		case !keep:
			if !f.IsZero() {
				bad = append(bad, name)
			}
		case f.Kind() == reflect.Map:
			if f.Len() != 0 {
				bad = append(bad, name+" (not empty)")
			}
		case f.Kind() == reflect.Slice:
			if f.Len() != 0 || !zeroElems(f.Slice(0, f.Cap())) {
				bad = append(bad, name+" (not cleared)")
			}
		}
	}
	return bad
}

func zeroElems(s reflect.Value) bool {
	for i := range s.Len() {
		if !s.Index(i).IsZero() {
			return false
		}
	}
	return true
}

// Recycle clears everything it keeps: a recycled messenger, each of its connections (with
// its protocol core) and each of its centers hold nothing of their earlier life but empty
// maps, cleared arrays and a connection's method values bound to itself, whether the
// messengers shut down first or were dropped in the middle of their traffic (a run that
// failed). A field added later and not cleared fails this test.
func TestRecycleClearsEverything(t *testing.T) {
	for _, shutdown := range []bool{true, false} {
		var rec Recycler
		ms, conns := recycledPair(t, &rec, 3, 20, shutdown)
		var centers []*event.Center
		for _, m := range ms {
			centers = append(centers, m.Centers()...)
		}
		dthrot := []*Throttle{ms[0].dthrot, ms[1].dthrot}
		if len(conns) < 4 || len(centers) != 7 || dthrot[0] == nil || dthrot[1] == nil {
			t.Fatalf("%d connections, %d centers, dispatch throttles %v: not the pair meant", len(conns), len(centers), dthrot)
		}
		rec.Recycle()
		for i, m := range ms {
			if bad := uncleared(m, "conns", "policies", "throttles", "made", "all", "throttleTypes", "bufCaches", "counters", "dthrot"); len(bad) > 0 {
				t.Errorf("shutdown %v: a recycled messenger keeps %v", shutdown, bad)
			}
			if bad := uncleared(&m.counters, "traffic"); len(bad) > 0 {
				t.Errorf("shutdown %v: a recycled messenger's counters keep %v", shutdown, bad)
			}
			if m.dthrot != dthrot[i] || m.dthrot.max != 0 || m.dthrot.cur.Load() != 0 {
				t.Errorf("shutdown %v: the dispatch throttle is not kept cleared", shutdown)
			}
		}
		for _, c := range conns {
			if bad := uncleared(c, "flushFn", "keepaliveFn", "timerFn", "onFileFn", "releaseFn", "settleFn"); len(bad) > 0 {
				t.Errorf("shutdown %v: a recycled connection keeps %v", shutdown, bad)
			}
		}
		for _, c := range centers {
			if bad := uncleared(c); len(bad) > 0 {
				t.Errorf("shutdown %v: recycled center keeps %v", shutdown, bad)
			}
		}
		if len(rec.ms) != 0 {
			t.Errorf("the recycler still lists %d messengers", len(rec.ms))
		}
	}
}

// Messengers built from recycled memory behave as new ones: the same pair of runs, made once
// with recycling after each and once without, delivers the same traffic with the same
// virtual times, and the recycled memory is taken (the messengers are the same objects).
func TestRecycledMessengersRunAsNew(t *testing.T) {
	var rec Recycler
	first, _ := recycledPair(t, &rec, 5, 30, true)
	rec.Recycle()
	again, _ := recycledPair(t, &rec, 5, 30, true)
	reused := 0
	for _, m := range again {
		for _, old := range first {
			if m == old {
				reused++
			}
		}
	}
	if reused == 0 {
		t.Errorf("no recycled messenger was taken")
	}
	fresh, _ := recycledPair(t, nil, 5, 30, true)
	for i := range fresh {
		f, g := fresh[i].Metrics(), again[i].Metrics()
		if !reflect.DeepEqual(f, g) {
			t.Errorf("messenger %d: metrics %+v when new, %+v recycled", i, f, g)
		}
	}
	rec.Recycle()
}
