package check

import (
	"testing"

	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// discardOnMarkDown plays the history of cluster seed 1195: b#1 reads a's message 1 (and may
// acknowledge it), marks its session with a down before dispatching it, which discards it
// with the dispatch queue; a's messages 2 and 3 then reach b#1's next session and are
// dispatched. edit changes it: "untold" (the checker is not told of the discard), "unread"
// (message 1 was still in flight at the mark-down), "late" (b#1 reads message 1 only after
// the mark-down).
func discardOnMarkDown(t *testing.T, edit string) (*Checker, []models.Report) {
	t.Helper()
	k, rec, now := sentFromAToB(3, SessionID(2, 1))
	switch edit {
	case "unread", "late":
	default:
		k.Received("b#1", 1)
	}
	k.MarkedDown("b#1", "a", false)
	if edit != "untold" {
		k.DiscardedOnMarkDown("a", "b")
	}
	if edit == "late" {
		k.Received("b#1", 1)
	}
	for id := uint64(2); id <= 3; id++ {
		k.Received("b#1", id)
		k.Dispatched("b#1", id, true, now)
	}
	k.Finish(now)
	return k, rec.CheckModels(nil, 1195, models.CheckOptions{})
}

func TestDiscardOnMarkDownIsExcused(t *testing.T) {
	k, reps := discardOnMarkDown(t, "")
	mustBeExcused(t, k, reps, "the message discarded by the receiver's mark-down")
	for _, u := range k.Undispatched() {
		if u.ID == 1 && !u.Accounted {
			t.Fatalf("message 1 not accounted for: %+v", u)
		}
	}
}

func TestLossAroundMarkDownIsCaught(t *testing.T) {
	for _, edit := range []string{"untold", "unread", "late"} {
		k, reps := discardOnMarkDown(t, edit)
		if violated(k)[InvLosslessLoss] != 1 {
			t.Errorf("%s: the loss of message 1 was not caught: %v", edit, k.Violations())
		}
		if reps[0].Verdict != models.NotLinearizable {
			t.Errorf("%s: FIFO history passed: %v", edit, reps[0])
		}
	}
}

// flushedThenResent plays cluster seed 3837: b#1 reads a's message 1, which delay injection
// holds; b#1 marks its session with a down, and the stopping session's flush dispatches it;
// a, which never heard it acknowledged, sends it again to b#1's next session. edit changes
// it: "late" (b#1 reads message 1 only after the mark-down: no flush, and the second dispatch
// is a duplicate), "acked" (cluster seed 5636: b#1's next session reads the copy sent again
// and acknowledges it, and a hears that before delay injection lets b#1 dispatch it),
// "ackedfirst" (a heard message 1 acknowledged before the mark-down: it forgot the message,
// and a second dispatch is a duplicate).
func flushedThenResent(edit string) *Checker {
	k, rec, now := sentFromAToB(1, SessionID(1, 1))
	if edit != "late" {
		k.Received("b#1", 1)
	}
	if edit == "ackedfirst" {
		k.Dispatched("b#1", 1, true, now)
		k.Acked(1, now)
	}
	k.MarkedDown("b#1", "a", false)
	k.DiscardedOnMarkDown("a", "b")
	if edit == "late" {
		k.Received("b#1", 1)
	}
	if edit != "ackedfirst" {
		k.Dispatched("b#1", 1, true, now) // the flush
	}
	if edit == "acked" {
		k.Acked(1, now) // the next session's acknowledgement of the copy sent again
	}
	k.Dispatched("b#1", 1, true, now) // the resend to the next session
	k.Finish(now)
	rec.CheckModels(nil, 3837, models.CheckOptions{})
	return k
}

func TestFlushedAtMarkDownThenResentIsExcused(t *testing.T) {
	for _, edit := range []string{"", "acked"} {
		k := flushedThenResent(edit)
		if len(k.Violations()) != 0 || k.Excused()[CaseRedelivery] != 1 {
			t.Fatalf("%q: violations %v, excused %v: want none, one redelivery", edit, k.Violations(), k.Excused())
		}
	}
	for _, edit := range []string{"late", "ackedfirst"} {
		if k := flushedThenResent(edit); violated(k)[InvDuplicate] != 1 {
			t.Fatalf("%s: a message dispatched twice: %v", edit, k.Violations())
		}
	}
}

// sentToGone plays cluster seed 7805: a's messages 1 and 2 go to b's incarnation that has
// stopped (2 on a session b's previous incarnation opened, which a's map never named, so no
// mark-down ever ends it), message 3 to b's live incarnation on another connection. edit:
// "untold" (the workload does not report message 2 sent to the gone incarnation), "live"
// (message 3 is lost too: no stop accounts for it).
func sentToGone(t *testing.T, edit string) (*Checker, []models.Report) {
	t.Helper()
	k := NewChecker()
	now := int64(0)
	rec := k.Record(func() int64 { now++; return now }, countEvals{})
	old, live := wire.EntityAddr{Nonce: 7}, wire.EntityAddr{Nonce: 8}
	k.SentOn("a", "b", SessionID(1, 1), 127, 1, true)
	rec.onSession(1, old)
	k.ForgiveNode("b") // b#1 stops
	k.SentOn("a", "b", SessionID(1, 1), 127, 2, true)
	rec.onSession(2, old)
	if edit != "untold" {
		k.SentToGone(2)
	}
	k.SentOn("a", "b", SessionID(1, 2), 127, 3, true)
	rec.onSession(3, live)
	if edit != "live" {
		k.Received("b#2", 3)
		k.Dispatched("b#2", 3, true, now)
	}
	k.Finish(now)
	return k, rec.CheckModels(nil, 7805, models.CheckOptions{})
}

func TestSentToGoneIsAccounted(t *testing.T) {
	k, reps := sentToGone(t, "")
	mustBeExcused(t, k, reps, "a message queued for a stopped incarnation")
	if k.PendingLossless() != 0 {
		t.Fatalf("pending lossless: %d", k.PendingLossless())
	}
}

func TestLossBesideGoneIsCaught(t *testing.T) {
	for _, edit := range []string{"untold", "live"} {
		k, reps := sentToGone(t, edit)
		if violated(k)[InvLosslessLoss] != 1 {
			t.Errorf("%s: the loss was not caught: %v", edit, k.Violations())
		}
		if reps[0].Verdict != models.NotLinearizable {
			t.Errorf("%s: FIFO history passed: %v", edit, reps[0])
		}
	}
}
