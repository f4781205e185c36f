package models

import "testing"

// Reset starts a new history: nothing of the old one is seen again (its events, its
// streams, which Drain would otherwise close again), a short history's storage is kept for
// the next run, and a long one's is let go rather than kept alive for every run after it.
func TestFIFOHistoryReset(t *testing.T) {
	h := NewFIFOHistory()
	h.Send("a->b", 1, 0)
	h.Deliver("a->b", 1, "b#1", 1)
	h.Reset()
	if h.Len() != 0 || len(h.Ops()) != 0 {
		t.Fatalf("%d events after Reset", h.Len())
	}
	if cap(h.ops) == 0 {
		t.Errorf("a short history's storage was not kept")
	}
	h.Send("a->b", 7, 5) // the same stream: Drain must close it again
	h.Drain(6)
	ops := h.Ops()
	if len(ops) != 2 || ops[0].At != 0 || ops[1].Input.Kind != FIFODrain || ops[1].Input.Stream != "a->b" {
		t.Fatalf("after Reset: %+v, want the send at 0 and one drain of a->b", ops)
	}

	long := NewFIFOHistory()
	for i := range maxKeptOps + 1 {
		long.Send("a->b", uint64(i), int64(i))
	}
	long.Reset()
	if cap(long.ops) != 0 {
		t.Errorf("Reset kept %d events of storage after a history of %d", cap(long.ops), maxKeptOps+1)
	}
	long.Send("a->b", 1, 0)
	if long.Len() != 1 {
		t.Errorf("%d events after Reset and one send", long.Len())
	}
}
