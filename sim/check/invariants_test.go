package check

import (
	"fmt"
	"testing"
)

// Every invariant fails on a deliberately wrong history (the canaries show the same on
// deliberately broken code: go test -tags canary -run TestCanaries ./sim).

func violated(k *Checker) map[string]int { return k.ViolationCounts() }

func TestCheckerCatchesBrokenStreams(t *testing.T) {
	k := NewChecker()
	for id := uint64(1); id <= 3; id++ {
		k.Sent("a", "b", id, true)
	}
	k.Dispatched("b#1", 2, true, 0)
	k.Dispatched("b#1", 2, true, 0)
	k.Dispatched("b#1", 1, true, 0)
	k.Finish(0)
	names := map[string]bool{}
	for _, v := range k.Violations() {
		names[v.Name] = true
	}
	for _, n := range []string{InvLosslessOrder, InvDuplicate, InvLosslessLoss} {
		if !names[n] {
			t.Errorf("checker did not report %s: %v", n, k.Violations())
		}
	}
	k = NewChecker()
	k.Sent("a", "b", 1, false)
	k.Sent("a", "b", 2, false)
	k.Dispatched("b#1", 2, true, 0)
	k.Dispatched("b#1", 1, false, 0)
	k.Dispatched("b#1", 9, true, 0)
	k.Finish(0)
	names = map[string]bool{}
	for _, v := range k.Violations() {
		names[v.Name] = true
	}
	if !names[InvLossyOrder] || !names[InvUnknownMessage] || !names[InvCorruptDelivery] || names[InvLosslessLoss] {
		t.Fatalf("lossy checks: %v", k.Violations())
	}
}

func TestAckOfAnUnreadMessageIsCaught(t *testing.T) {
	k := NewChecker()
	k.SentOn("a", "b", 1, 127, 1, true)
	k.SentOn("a", "b", 1, 127, 2, true)
	k.Received("b#1", 1)
	k.Acked(1, 0)
	if len(k.Violations()) != 0 {
		t.Fatalf("an ACK of a read message: %v", k.Violations())
	}
	k.Acked(2, 0)
	if violated(k)[InvAckUnreceived] != 1 {
		t.Fatalf("an ACK of a message the peer never read was not caught: %v", k.Violations())
	}
	if r, a := k.AckCounts(); r != 1 || a != 2 {
		t.Fatalf("counts: received %d acked %d", r, a)
	}
}

// Order is checked per (stream, sender connection, priority): across connections or
// priorities anything goes, within one it must be send order.
func TestOrderPerConnectionAndPriority(t *testing.T) {
	k := NewChecker()
	k.SentOn("a", "b", 1, 127, 1, true)
	k.SentOn("a", "b", 2, 127, 2, true) // another connection
	k.SentOn("a", "b", 1, 200, 3, true) // another priority
	k.SentOn("a", "b", 1, 127, 4, true)
	for _, id := range []uint64{3, 2, 1, 4} {
		k.Dispatched("b#1", id, true, 0)
	}
	if len(k.Violations()) != 0 {
		t.Fatalf("legal interleaving reported: %v", k.Violations())
	}
	k = NewChecker()
	k.SentOn("a", "b", 1, 127, 1, true)
	k.SentOn("a", "b", 1, 127, 2, true)
	k.SentOn("c", "b", 7, 127, 3, false)
	k.SentOn("c", "b", 7, 127, 4, false)
	for _, id := range []uint64{2, 1, 4, 3} {
		k.Dispatched("b#1", id, true, 0)
	}
	if v := violated(k); v[InvLosslessOrder] != 1 || v[InvLossyOrder] != 1 {
		t.Fatalf("reordering within a connection and priority not caught: %v", k.Violations())
	}
}

// A reset on one connection accounts for what was sent on it, not on the stream's others.
func TestForgiveConnIsPerConnection(t *testing.T) {
	k := NewChecker()
	k.SentOn("a", "b", 1, 127, 1, true)
	k.SentOn("a", "b", 2, 127, 2, true)
	k.ForgiveConn("a", 1)
	k.SentOn("a", "b", 1, 127, 3, true) // after the reset: must arrive
	k.Finish(0)
	miss := k.MissingLossless(10)
	if violated(k)[InvLosslessLoss] != 1 || len(miss) != 2 || miss[0].ID != 2 || miss[1].ID != 3 {
		t.Fatalf("want messages 2 and 3 reported lost, got %v %+v", k.Violations(), miss)
	}
	if sent, lost := k.LosslessCounts(); sent != 3 || lost != 1 {
		t.Fatalf("lossless counts %d %d", sent, lost)
	}
}

// Messages sent on an orphaned connection (its peer dropped the session) may be lost; once
// the connection has a session again, they may not.
func TestOrphanedConnection(t *testing.T) {
	k := NewChecker()
	k.Orphan("b", 5)
	k.SentOn("b", "a", 5, 127, 1, true)
	k.Unorphan("b", 5)
	k.SentOn("b", "a", 5, 127, 2, true)
	k.Finish(0)
	if miss := k.MissingLossless(10); len(miss) != 1 || miss[0].ID != 2 {
		t.Fatalf("want only message 2 missing, got %+v", miss)
	}
}

type fakeGauge struct{ cur, max int64 }

func (g fakeGauge) Current() int64 { return g.cur }
func (g fakeGauge) Max() int64     { return g.max }

func TestAuditorCatchesThrottlesAndLeftovers(t *testing.T) {
	k := NewChecker()
	a := NewAuditor(k, func() int64 { return 0 })
	a.auditGauge("osd.0", "dispatch", fakeGauge{cur: 5, max: 100}, false)
	if len(k.Violations()) != 0 {
		t.Fatalf("units held while running are fine: %v", k.Violations())
	}
	a.auditGauge("osd.0", "dispatch", fakeGauge{cur: -3, max: 100}, false)
	a.auditGauge("osd.0", "dispatch", fakeGauge{cur: -3, max: 100}, false) // reported once
	a.auditGauge("osd.0", "osd/bytes", fakeGauge{cur: 5, max: 100}, true)
	a.auditLeftovers("osd.0", 2)
	v := violated(k)
	if v[InvThrottleNeg] != 1 || v[InvThrottleLeak] != 1 || v[InvQueueLeftover] != 1 {
		t.Fatalf("got %v", k.Violations())
	}
}

// A panic is named by what it is: a throttle underflow is throttle-negative, anything else
// a panic.
func TestPanicInvariant(t *testing.T) {
	if name := PanicInvariant("msgr: throttle released more than it held"); name != InvThrottleNeg {
		t.Fatalf("named %q", name)
	}
	if name := PanicInvariant(fmt.Errorf("index out of range")); name != InvPanic {
		t.Fatalf("named %q", name)
	}
}

// TestTamperedDispatchIsCaught: a tampered front dispatched on a signed session is a
// violation; the same on an unsigned session is only reported, and the clean resend of a
// tampered message is neither.
func TestTamperedDispatchIsCaught(t *testing.T) {
	k := NewChecker()
	k.Sent("a", "b", 1, true)
	k.Tampered(1, []byte("evil"))
	if k.TamperedCount() != 1 {
		t.Fatalf("TamperedCount = %d", k.TamperedCount())
	}
	if k.DispatchedTampered("b#1", 1, []byte("good"), true, 0) {
		t.Fatal("the intact resend counted as tampered")
	}
	if !k.DispatchedTampered("b#1", 1, []byte("evil"), false, 0) || violated(k)[InvTamperedDispatch] != 0 {
		t.Fatalf("unsigned tampered dispatch: %v", violated(k))
	}
	if !k.DispatchedTampered("b#1", 1, []byte("evil"), true, 0) || violated(k)[InvTamperedDispatch] != 1 {
		t.Fatalf("signed tampered dispatch not caught: %v", violated(k))
	}
}

// TestDropDeliveredIsCaught: a message the messenger reported dropping and then dispatched is
// a violation; a message only forgiven (its connection reset) may still arrive.
func TestDropDeliveredIsCaught(t *testing.T) {
	k := NewChecker()
	k.Sent("a", "b", 1, true)
	k.Sent("a", "b", 2, true)
	k.Dropped(1)
	k.Dispatched("b#1", 2, true, 0)
	if violated(k)[InvDropDelivered] != 0 {
		t.Fatalf("a message never reported dropped: %v", violated(k))
	}
	k.Dispatched("b#1", 1, true, 0)
	if violated(k)[InvDropDelivered] != 1 {
		t.Fatalf("a reported drop dispatched all the same not caught: %v", violated(k))
	}
}

// msgIndex finds every record by id: dense ids in its slice, far ones in its map, a record
// put again replaces the first, an id never put has none.
func TestMsgIndex(t *testing.T) {
	var x msgIndex
	infos := map[uint64]*msgInfo{}
	for _, id := range []uint64{1, 2, 3, 100000, 5, 4, 4000, 9000, 1 << 40, 0, 20000, 3} {
		info := &msgInfo{index: int(id % 1000)}
		x.put(id, info)
		infos[id] = info
	}
	for id := uint64(0); id <= 1<<41; id = id*2 + 1 {
		got, ok := x.get(id)
		if want, has := infos[id]; ok != has || got != want || x.of(id) != want {
			t.Fatalf("id %d: got %p %v, want %p %v", id, got, ok, want, has)
		}
	}
	for id, want := range infos {
		if got, ok := x.get(id); !ok || got != want {
			t.Fatalf("id %d: got %p %v, want %p", id, got, ok, want)
		}
	}
}

// Message records are kept by id in a slice while ids come densely and in a map past it: a
// workload with ids of its own (sparse, out of order) is checked the same as one numbering
// from 1. Lost, duplicated, unknown and intact messages are found in either place.
func TestCheckerDenseAndSparseIDs(t *testing.T) {
	for _, ids := range [][]uint64{{1, 2, 3, 4}, {7, 1 << 40, 3, 1<<40 + 5}, {2000, 1, 5000, 2}, {1100, 1, 600, 1200}} {
		k := NewChecker()
		for _, id := range ids {
			k.Sent("a", "b", id, true)
		}
		k.Dispatched("b#1", ids[0], true, 0)
		k.Dispatched("b#1", ids[1], true, 0)
		k.Dispatched("b#1", ids[1], true, 0) // a duplicate
		k.Dispatched("b#1", 1<<41, true, 0)  // never sent
		k.Dispatched("b#1", ids[2], true, 0)
		k.Finish(0) // ids[3] lost
		got := violated(k)
		want := map[string]int{InvDuplicate: 1, InvUnknownMessage: 1, InvLosslessLoss: 1}
		for name, n := range want {
			if got[name] != n {
				t.Errorf("ids %v: %s reported %d times, want %d (%v)", ids, name, got[name], n, k.Violations())
			}
		}
		if len(got) != len(want) {
			t.Errorf("ids %v: violations %v, want only %v", ids, got, want)
		}
		if sent, deliv := k.Counts(); sent != 4 || deliv != 3 {
			t.Errorf("ids %v: counts sent %d dispatched %d, want 4 and 3", ids, sent, deliv)
		}
	}
}
