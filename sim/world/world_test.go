package world

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/simnet"
)

// A panic in a step is recovered and returned with the stack where it happened.
func TestStepRecoversPanics(t *testing.T) {
	w := New(1, simnet.Config{}, false)
	w.Schedule(time.Millisecond, func() { panic("boom") })
	err := w.RunUntil(func() bool { return false }, time.Second, 100)
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" || !strings.Contains(pe.Stack, "world_test.go") {
		t.Fatalf("panic not recovered with its stack: %v", err)
	}
}

// Jobs run in time order, each folded into the trace with its tag; the clock advances to them.
func TestJobsRunInOrderAndAreTraced(t *testing.T) {
	w := New(1, simnet.Config{}, false)
	w.Trace.Record(0, 100)
	var got []int
	for i, at := range []time.Duration{3, 1, 2, 4} {
		w.Schedule(at*time.Millisecond, func() { got = append(got, i) })
	}
	if err := w.RunUntil(func() bool { return !w.HasJobs() }, time.Second, 100); err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 0, 3}; !equal(got, want) {
		t.Fatalf("jobs ran in order %v, want %v", got, want)
	}
	rec := strings.Join(w.Trace.Recorded(), "\n")
	if strings.Count(rec, " job ") != 4 || strings.Count(rec, " advance-clock ") != 4 || !strings.HasPrefix(rec, "#1 advance-clock 1000000") {
		t.Fatalf("trace:\n%s", rec)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The trace hash depends on every word of every event, and on the tag; the tags keep their
// numbers (they are folded into every committed trace hash).
func TestTraceHash(t *testing.T) {
	hash := func(add func(*Trace)) uint64 { tr := NewTrace(false); add(tr); return tr.Hash() }
	base := hash(func(tr *Trace) { tr.Add(TagJob, 1, 2) })
	for _, other := range []func(*Trace){
		func(tr *Trace) { tr.Add(TagJob, 1, 3) },
		func(tr *Trace) { tr.Add(TagCenterStep, 1, 2) },
		func(tr *Trace) { tr.Add(TagJob, 1) },
	} {
		if hash(other) == base {
			t.Fatal("different events hash alike")
		}
	}
	if hash(func(tr *Trace) { tr.AddSeed(uint64(TagJob)); tr.Add(TagJob) }) != hash(func(tr *Trace) { tr.Add(TagJob, uint64(TagJob)) }) {
		t.Fatal("an event's hash is its tag's word, then its words")
	}
	for tag, n := range map[Tag]uint64{TagCenterStep: 1, TagNetTransfer: 2, TagAdvanceClock: 3, TagJob: 4, TagMsgrEvent: 5} {
		if uint64(tag) != n {
			t.Errorf("%v renumbered: %d, was %d", tag, uint64(tag), n)
		}
	}
}

// Perturb makes one event differ (the determinism self-check's test hook); checkpoints save
// the running hash.
func TestPerturbAndCheckpoints(t *testing.T) {
	run := func(perturb bool) *Trace {
		tr := NewTrace(false)
		if perturb {
			tr.Perturb(CheckpointEvery+5, 1)
		}
		for i := range 3 * CheckpointEvery {
			tr.Add(TagJob, uint64(i))
		}
		return tr
	}
	a, b := run(false), run(true)
	if len(a.Checkpoints()) != 3 || a.Checkpoints()[0] != b.Checkpoints()[0] || a.Checkpoints()[1] == b.Checkpoints()[1] {
		t.Fatalf("checkpoints %x and %x", a.Checkpoints(), b.Checkpoints())
	}
}

// checkedWorld is a world with its runnable self-check on and one started center.
func checkedWorld(t *testing.T) (*World, *event.Center) {
	t.Helper()
	w := New(1, simnet.Config{}, false)
	w.CheckRunnable = true
	h := w.AddHost("a", netip.MustParseAddr("10.0.0.1"))
	c, err := event.NewCenter(0, "a/w0", h, w.Rand())
	if err != nil {
		t.Fatal(err)
	}
	w.Start(c)
	return w, c
}

// The self-check of the runnable set has teeth: a center whose runnable hook is lost (so the
// world does not hear that a callback was posted to it) is caught at the next step.
func TestCheckRunnableCatchesAMissedCenter(t *testing.T) {
	w, c := checkedWorld(t)
	ran := 0
	c.Post(func() { ran++ })
	if _, err := w.Step(); err != nil || ran != 1 {
		t.Fatalf("step: %v, callback ran %d times", err, ran)
	}
	if more, err := w.Step(); more || err != nil { // idle now: c leaves the candidates
		t.Fatalf("idle step: %v %v", more, err)
	}
	c.SetRunnableHook(nil) // the world no longer hears of c
	c.Post(func() { ran++ })
	_, err := w.Step()
	var pe *PanicError
	if !errors.As(err, &pe) || !strings.Contains(fmt.Sprint(pe.Value), "not among the runnable") {
		t.Fatalf("a missed center was not caught: %v", err)
	}
}

// The self-check of the kept timer times has teeth: a center whose timer hook is lost (so the
// world does not hear of a timer created on it) is caught at the next clock move.
func TestCheckRunnableCatchesAMissedTimer(t *testing.T) {
	w, c := checkedWorld(t)
	if more, err := w.Step(); more || err != nil { // idle: no timer, c leaves the times
		t.Fatalf("idle step: %v %v", more, err)
	}
	ran := 0
	c.CreateTimeEvent(time.Millisecond, func() { ran++ })
	for range 2 {
		if _, err := w.Step(); err != nil {
			t.Fatal(err)
		}
	}
	if ran != 1 || w.Now() != time.Millisecond {
		t.Fatalf("timer ran %d times, clock at %v", ran, w.Now())
	}
	if more, err := w.Step(); more || err != nil { // idle again: c leaves the times
		t.Fatalf("idle step: %v %v", more, err)
	}
	c.SetTimerHook(nil) // the world no longer hears of c's timers
	c.CreateTimeEvent(time.Millisecond, func() { ran++ })
	_, err := w.Step()
	var pe *PanicError
	if !errors.As(err, &pe) || !strings.Contains(fmt.Sprint(pe.Value), "earliest center time") {
		t.Fatalf("a missed timer was not caught: %v", err)
	}
}

// The same when another event (here a job) is due: the kept times, which say no center wakes
// before it, are checked against every center's.
func TestCheckRunnableCatchesAMissedTimerBeforeAJob(t *testing.T) {
	w, c := checkedWorld(t)
	if more, err := w.Step(); more || err != nil { // idle: no timer, c leaves the times
		t.Fatalf("idle step: %v %v", more, err)
	}
	c.SetTimerHook(nil) // the world no longer hears of c's timers
	c.CreateTimeEvent(time.Millisecond, func() {})
	w.Schedule(5*time.Millisecond, func() {})
	_, err := w.Step()
	var pe *PanicError
	if !errors.As(err, &pe) || !strings.Contains(fmt.Sprint(pe.Value), "the kept times say none before") {
		t.Fatalf("a missed timer was not caught: %v", err)
	}
}

// Add7 is Add with seven words: the same hash, checkpoints and recorded events, on the fast
// path and while recording or perturbed.
func TestAdd7IsAdd(t *testing.T) {
	run := func(seven bool, setup func(*Trace)) *Trace {
		tr := NewTrace(false)
		setup(tr)
		for i := range uint64(CheckpointEvery + 3) {
			w := []uint64{i, i * 3, 7, i ^ 5, 1 << (i % 64), ^i, 0}
			if seven {
				tr.Add7(TagMsgrEvent, w[0], w[1], w[2], w[3], w[4], w[5], w[6])
			} else {
				tr.Add(TagMsgrEvent, w...)
			}
		}
		return tr
	}
	for name, setup := range map[string]func(*Trace){
		"fast":      func(*Trace) {},
		"recording": func(tr *Trace) { tr.Record(2, 9) },
		"perturbed": func(tr *Trace) { tr.Perturb(4, 1) },
	} {
		a, b := run(false, setup), run(true, setup)
		if a.Hash() != b.Hash() || !slices.Equal(a.Checkpoints(), b.Checkpoints()) || !slices.Equal(a.Recorded(), b.Recorded()) {
			t.Errorf("%s: Add7 %x %x %q, Add %x %x %q", name, b.Hash(), b.Checkpoints(), b.Recorded(), a.Hash(), a.Checkpoints(), a.Recorded())
		}
	}
}
