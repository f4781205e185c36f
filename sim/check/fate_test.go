package check

import (
	"strings"
	"testing"
)

// TestMessageFateFailsWrongHistories: every accepted message must be reported done exactly
// once by the end (acknowledged, dropped or discarded), except what a crashed sender held.
func TestMessageFateFailsWrongHistories(t *testing.T) {
	fates := func(k *Checker) []Violation {
		k.FinishFates(0)
		var out []Violation
		for _, v := range k.Violations() {
			if v.Name == InvMessageFate {
				out = append(out, v)
			}
		}
		return out
	}
	t.Run("accounted", func(t *testing.T) {
		k := NewChecker()
		for id := uint64(1); id <= 4; id++ {
			k.SentOn("a", "b", 1, 127, id, true)
		}
		k.Received("b#1", 1)
		k.Acked(1, 0)
		k.Dropped(2)
		k.Dropped(2) // the TraceDrop of a refused send and the workload's report of its error
		k.Discarded(3)
		k.SentOn("a", "c", 2, 127, 5, false)
		k.Discarded(5) // a lossy session wrote it
		if v := fates(k); len(v) != 1 || !strings.Contains(v[0].Detail, "(id 4)") {
			t.Fatalf("only id 4 is unaccounted: %v", v)
		}
	})
	t.Run("vanished", func(t *testing.T) {
		k := NewChecker()
		k.SentOn("a", "b", 1, 127, 1, true)
		k.SentOn("a", "b", 1, 127, 2, true)
		k.Received("b#1", 1)
		k.Acked(1, 0)
		v := fates(k)
		if len(v) != 1 || !strings.Contains(v[0].Detail, "(id 2)") || !strings.Contains(v[0].Detail, "never reported") {
			t.Fatalf("a message never reported: %v", v)
		}
	})
	t.Run("twice", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			report func(k *Checker)
		}{
			{"acked-discarded", func(k *Checker) { k.Acked(1, 0); k.Discarded(1) }},
			{"discarded-twice", func(k *Checker) { k.Discarded(1); k.Discarded(1) }},
			{"acked-twice", func(k *Checker) { k.Acked(1, 0); k.Acked(1, 0) }},
			{"discarded-dropped", func(k *Checker) { k.Discarded(1); k.Dropped(1) }},
			{"dropped-acked", func(k *Checker) { k.Dropped(1); k.Acked(1, 0) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				k := NewChecker()
				k.SentOn("a", "b", 1, 127, 1, true)
				k.Received("b#1", 1)
				tc.report(k)
				v := fates(k)
				if len(v) != 1 || !strings.Contains(v[0].Detail, "more than once") {
					t.Fatalf("a message reported twice: %v", v)
				}
			})
		}
	})
	t.Run("abandoned", func(t *testing.T) {
		k := NewChecker()
		k.SentOn("a", "b", 1, 127, 1, true)
		k.SentOn("b", "a", 1, 127, 2, true)
		k.Abandoned("a") // a crashed: what it held is excused, what b sent to it is not
		k.SentOn("a", "b", SessionID(2, 1), 127, 3, true)
		v := fates(k)
		if len(v) != 2 || !strings.Contains(v[0].Detail, "(id 3)") || !strings.Contains(v[1].Detail, "(id 2)") {
			t.Fatalf("want ids 3 (sent by the next incarnation) and 2 (to the crashed node): %v", v)
		}
	})
}
