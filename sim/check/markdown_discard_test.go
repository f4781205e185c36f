package check

import (
	"testing"

	"github.com/msgrsim/msgrsim/models"
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
// a, which never heard it acknowledged, sends it again to b#1's next session. With late,
// b#1 reads message 1 only after the mark-down: no flush, and the second dispatch is a
// duplicate.
func flushedThenResent(late bool) *Checker {
	k, rec, now := sentFromAToB(1, SessionID(1, 1))
	if !late {
		k.Received("b#1", 1)
	}
	k.MarkedDown("b#1", "a", false)
	k.DiscardedOnMarkDown("a", "b")
	if late {
		k.Received("b#1", 1)
	}
	k.Dispatched("b#1", 1, true, now) // the flush
	k.Dispatched("b#1", 1, true, now) // the resend to the next session
	k.Finish(now)
	rec.CheckModels(nil, 3837, models.CheckOptions{})
	return k
}

func TestFlushedAtMarkDownThenResentIsExcused(t *testing.T) {
	k := flushedThenResent(false)
	if len(k.Violations()) != 0 || k.Excused()[CaseRedelivery] != 1 {
		t.Fatalf("violations %v, excused %v: want none, one redelivery", k.Violations(), k.Excused())
	}
	if k = flushedThenResent(true); violated(k)[InvDuplicate] != 1 {
		t.Fatalf("a message read after the mark-down, dispatched twice: %v", k.Violations())
	}
}
