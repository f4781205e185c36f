package check

import (
	"testing"

	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

type countEvals map[string]int

func (c countEvals) Evaluated(name string, n int) { c[name] += n }

// redelivery plays the history of cluster seed 229 with -swarm: b#1 dispatches a's message 1,
// a never hears it acknowledged, b#1 marks its session with a down, a sends message 1 again
// to b#1's new session, which dispatches it a second time, then message 2. step edits the
// history: "nomark" (no mark-down), "acked" (a heard message 1 acknowledged), "early" (the
// mark-down before the first dispatch), "resetcheck" (the policy has resetcheck), "other"
// (another receiver incarnation marked down), "thrice" (a third dispatch after one mark-down).
func redelivery(t *testing.T, edit string) (*Checker, []models.Report) {
	t.Helper()
	k, rec, now := sentFromAToB(2, SessionID(1, 1))
	mark := func(rcv string) { k.MarkedDown(rcv, "a", edit == "resetcheck") }
	if edit == "early" {
		mark("b#1")
	}
	k.Received("b#1", 1)
	k.Dispatched("b#1", 1, true, now)
	if edit == "acked" {
		k.Acked(1, now)
	}
	switch edit {
	case "nomark", "early":
	case "other":
		mark("b#0")
	default:
		mark("b#1")
	}
	k.Received("b#1", 1)
	k.Dispatched("b#1", 1, true, now)
	if edit == "thrice" {
		k.Dispatched("b#1", 1, true, now)
	}
	k.Received("b#1", 2)
	k.Dispatched("b#1", 2, true, now)
	k.Finish(now)
	reps := rec.CheckModels(nil, 229, models.CheckOptions{})
	return k, reps
}

// sentFromAToB is a recording checker in which a sent messages 1..n to b, lossless, on one
// session, and the recording clock's reading after the sends (a time for the calls that take one).
func sentFromAToB(n uint64, session uint64) (*Checker, *Histories, int64) {
	k := NewChecker()
	now := int64(0)
	rec := k.Record(func() int64 { now++; return now }, countEvals{})
	peer := wire.EntityAddr{Nonce: 7}
	for id := uint64(1); id <= n; id++ {
		k.SentOn("a", "b", session, 127, id, true)
		rec.onSession(id, peer)
	}
	return k, rec, now
}

// mustBeExcused fails the test unless the history of k (and its FIFO history) passed.
func mustBeExcused(t *testing.T, k *Checker, reps []models.Report, what string) {
	t.Helper()
	if len(k.Violations()) != 0 {
		t.Fatalf("%s was not excused: %v", what, k.Violations())
	}
	if reps[0].Verdict == models.NotLinearizable {
		t.Fatalf("FIFO history: %v", reps[0])
	}
}

func TestRedeliveryAfterMarkDownIsExcused(t *testing.T) {
	k, reps := redelivery(t, "")
	mustBeExcused(t, k, reps, "the redelivery after a one-sided mark_down")
	if n := k.Excused()[CaseRedelivery]; n != 1 {
		t.Fatalf("excused %d redeliveries, want 1", n)
	}
}

func TestDuplicateWithoutTheRedeliveryCaseIsCaught(t *testing.T) {
	for _, edit := range []string{"nomark", "acked", "early", "resetcheck", "other", "thrice"} {
		k, reps := redelivery(t, edit)
		if violated(k)[InvDuplicate] != 1 {
			t.Errorf("%s: the duplicate was not caught: %v", edit, k.Violations())
		}
		want := 0
		if edit == "thrice" {
			want = 1
		}
		if k.Excused()[CaseRedelivery] != want {
			t.Errorf("%s: excused %v", edit, k.Excused())
		}
		if reps[0].Verdict != models.NotLinearizable {
			t.Errorf("%s: the FIFO history took the duplicate: %v", edit, reps[0])
		}
	}
}
