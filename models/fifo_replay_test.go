package models

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// genFIFOHistory draws a history of one or two streams whose events are mostly plausible
// (sends of fresh ids, deliveries of sent ids, to one of two receiver incarnations) and
// sometimes not (duplicates, reorderings, unknown ids), so both verdicts are common.
func genFIFOHistory(t *rapid.T) []FIFOOp {
	h := NewFIFOHistory()
	streams := []string{"a->b", "c->d"}[:rapid.IntRange(1, 2).Draw(t, "streams")]
	sent := map[string][]uint64{}
	next := uint64(1)
	n := rapid.IntRange(0, 24).Draw(t, "events")
	for i := range n {
		s := rapid.SampledFrom(streams).Draw(t, "stream")
		at := int64(i)
		switch k := rapid.IntRange(0, 9).Draw(t, "kind"); {
		case k < 4:
			h.Send(s, next, at)
			sent[s] = append(sent[s], next)
			next++
		case k < 8:
			id := uint64(rapid.IntRange(1, int(next)).Draw(t, "wild"))
			if ids := sent[s]; len(ids) > 0 && k < 7 {
				id = rapid.SampledFrom(ids).Draw(t, "id")
			}
			rcv := rapid.SampledFrom([]string{"b#1", "b#2"}).Draw(t, "receiver")
			h.Deliver(s, id, rcv, at)
		case k == 8:
			if ids := sent[s]; len(ids) > 0 {
				h.Drop(s, rapid.SampledFrom(ids).Draw(t, "dropped"), at)
			} else {
				h.Forgive(s, at)
			}
		default:
			h.Forgive(s, at)
		}
	}
	if rapid.Bool().Draw(t, "drain") {
		h.Drain(int64(n))
	}
	return h.Ops()
}

// TestFIFOReplayAgreesWithPorcupine holds CheckFIFO's sequential replay to porcupine's
// verdict on every drawn history, both ways: a replay that accepted a history porcupine
// rejects (or the reverse) would make the fast path unsound.
func TestFIFOReplayAgreesWithPorcupine(t *testing.T) {
	var verdicts [2]int
	rapid.Check(t, func(t *rapid.T) {
		ops := genFIFOHistory(t)
		opts := CheckOptions{NoVisualize: true}
		got := CheckFIFO(ops, opts)
		want := checkFIFOPorcupine(ops, opts)
		if got.Verdict != want.Verdict || fmt.Sprint(got.Failed) != fmt.Sprint(want.Failed) {
			t.Fatalf("replay: %v %v; porcupine: %v %v; history %v", got.Verdict, got.Failed, want.Verdict, want.Failed, ops)
		}
		if got.Operations != len(ops) || got.Partitions != want.Partitions {
			t.Fatalf("replay counted %d ops in %d partitions, porcupine %d in %d", got.Operations, got.Partitions, want.Operations, want.Partitions)
		}
		if got.OK() {
			verdicts[0]++
		} else {
			verdicts[1]++
		}
	})
	// The generator must exercise both verdicts, or the agreement says little.
	if verdicts[0] == 0 || verdicts[1] == 0 {
		t.Fatalf("drawn histories: %d linearizable, %d not: the generator is one-sided", verdicts[0], verdicts[1])
	}
	t.Logf("%d linearizable, %d not", verdicts[0], verdicts[1])
}

// TestFIFOReplayRejectsWhatPorcupineRejects: the failing scripts of TestFIFONotLinearizable
// fail the replay itself (not only the porcupine fallback), so a replay that accepted
// everything would be caught here.
func TestFIFOReplayRejectsWhatPorcupineRejects(t *testing.T) {
	for _, script := range []string{
		"s1 s2 d2@b#1 d1@b#1 end",
		"s1 d1@b#1 d1@b#1 end",
		"s1 s2 d2@b#1 end",
		"s1 end",
		"d7@b#1",
	} {
		ops := fifoScript(t, script)
		if suspect, _ := fifoReplayAll(ops); len(suspect) != len(ops) {
			t.Errorf("%q: replay accepted it", script)
		}
	}
}

// The replay's in-place step (fifoState.apply) agrees with the model's step function at every
// event of every drawn history: the same verdict and the same state after it.
func TestFIFOApplyAgreesWithStep(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ops := genFIFOHistory(t)
		steps, inPlace := map[string]any{}, map[string]*fifoState{}
		for i, op := range ops {
			name := op.Input.Stream
			if steps[name] == nil {
				steps[name], inPlace[name] = &fifoState{}, &fifoState{}
			}
			if inPlace[name] == nil {
				continue // failed already
			}
			ok, next := fifoStep(steps[name], op.Input)
			if got := inPlace[name].apply(op.Input); got != ok {
				t.Fatalf("event %d (%v): apply says %v, fifoStep %v", i, op.Input, got, ok)
			}
			if !ok {
				inPlace[name] = nil
				continue
			}
			steps[name] = next
			if !fifoEqual(next, inPlace[name]) {
				t.Fatalf("event %d (%v): apply left %+v, fifoStep %+v", i, op.Input, *inPlace[name], *next.(*fifoState))
			}
		}
	})
}
