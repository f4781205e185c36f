package world

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/simnet"
)

// World is one simulation: virtual clock, virtual network, the centers of every messenger in
// it, and the seeded scheduler that decides what happens next. It implements event.Runtime.
type World struct {
	Seed  uint64
	Clock *simnet.Clock
	Net   *simnet.Network
	Trace *Trace

	root    *detrand.Rand
	sched   *detrand.Rand
	centers []*entry
	// cands holds every center that may have pending work (a superset of those that have):
	// centers join when they report they may have become runnable (event.Center's runnable
	// hook) and all of them when the clock moves or Unpause; Step drops those it finds idle.
	// So Step asks only these, in index order, and finds exactly the centers a poll of all of
	// them would.
	// Both are center indexes (w.centers), not pointers: no write barrier on their stores and
	// nothing for the collector to scan.
	cands []int32
	// unsorted says cands may be out of index order (a center joined behind a later one).
	// After collectReady, cands is exactly the centers with pending work, in index order.
	unsorted bool
	steps    uint64
	jobs     jobHeap // workload actions at virtual times
	jobSeq   uint64
	woken    []*entry // scratch for advance
	jobFns   []func() // the function of job seq s at s-1 (nil once it ran)
	entryBuf []entry  // a block new centers' entries are taken from
	// times holds the centers that may have a timer or a pause end, in a min-heap by a lower
	// bound of that time (entry.key): the centers' timer hooks lower the bound whenever a
	// timer is created or moved, Pause lowers it, and advance raises it to the real time
	// when it finds it stale (see advance).
	times []*entry

	// AfterStep, if set, runs after every step that stepped a center (with that center) or
	// ran a job (with nil): the always-on invariants hook in here.
	AfterStep func(c *event.Center)
	// CheckRunnable is a self-check for tests: every Step also polls every center and panics
	// when the set of runnable centers it keeps missed one.
	CheckRunnable bool
	// Abort, if set, is polled by RunUntil every 1024 steps; true stops it with ErrAborted.
	// It is how a caller bounds a run's wall time or interrupts it: the world itself never
	// reads a clock, and polling draws nothing, so a run that is not aborted is unchanged.
	Abort func() bool
}

// ErrAborted is RunUntil's error when Abort stopped it.
var ErrAborted = errors.New("sim: run aborted")

type entry struct {
	c       *event.Center
	index   int
	stopped bool
	paused  time.Duration // not stepped before this virtual time
	cand    bool          // in World.cands
	key     time.Duration // at or before the center's next time (timer, or pause end)
	hpos    int           // position in World.times, -1 when not in it
}

// mark makes e a candidate for Step (it may have pending work).
func (w *World) mark(e *entry) {
	if !e.cand && !e.stopped {
		e.cand = true
		if n := len(w.cands); n > 0 && int(w.cands[n-1]) > e.index {
			w.unsorted = true
		}
		w.cands = append(w.cands, int32(e.index))
	}
}

// markAll makes every center a candidate (the clock moved, or pauses ended).
func (w *World) markAll() {
	for _, e := range w.centers {
		w.mark(e)
	}
}

// New creates an empty world for seed with the given network configuration, its decisions
// drawn from a family seeded with seed.
func New(seed uint64, netCfg simnet.Config, keepTrace bool) *World {
	return NewFrom(seed, detrand.NewSeeded(seed), netCfg, keepTrace)
}

// NewFrom creates a world whose decisions come from root (seeded, recorded, taped or fuzzed):
// the network's first, then the scheduler's; every later Rand is forked from root in order.
func NewFrom(seed uint64, root *detrand.Rand, netCfg simnet.Config, keepTrace bool) *World {
	clock := simnet.NewClock()
	w := &World{Seed: seed, Clock: clock, root: root, Trace: NewTrace(keepTrace)}
	w.Net = simnet.New(clock, root.Fork(), netCfg)
	w.sched = root.Fork()
	w.Trace.AddSeed(seed)
	return w
}

// Rand returns a new random source derived from the world's seed (for a messenger, a workload).
func (w *World) Rand() *detrand.Rand { return w.root.Fork() }

// AddHost adds a simulated machine with the given IP.
func (w *World) AddHost(name string, ip netip.Addr) *simnet.Host { return w.Net.AddHost(name, ip) }

// Start registers a center with the scheduler (event.Runtime).
func (w *World) Start(c *event.Center) {
	if len(w.entryBuf) == cap(w.entryBuf) {
		w.entryBuf = make([]entry, 0, 16)
	}
	if w.centers == nil {
		// Room for a small world's centers at once, not by doubling from one.
		w.centers = make([]*entry, 0, 16)
		w.times = make([]*entry, 0, 16)
		w.cands = make([]int32, 0, 16)
	}
	w.entryBuf = append(w.entryBuf, entry{c: c, index: len(w.centers), hpos: -1})
	e := &w.entryBuf[len(w.entryBuf)-1]
	w.centers = append(w.centers, e)
	c.SetRunnableHook(func() { w.mark(e) })
	c.SetTimerHook(func(at time.Duration) { w.lower(e, at) })
	w.lower(e, 0) // timers it may have now
	w.mark(e)
	if w.Trace.keep { // (not boxing the name for a trace not kept)
		w.Trace.Logf(w.Clock.Now(), "start center %s", c.Name())
	}
}

// Stop unregisters a center (event.Runtime): it is never stepped again.
func (w *World) Stop(c *event.Center) {
	for _, e := range w.centers {
		if e.c == c && !e.stopped {
			e.stopped = true
			if w.Trace.keep {
				w.Trace.Logf(w.Clock.Now(), "stop center %s", c.Name())
			}
			_ = c.Close()
		}
	}
}

// Pause keeps a center from being stepped before virtual time until (a paused process).
func (w *World) Pause(c *event.Center, until time.Duration) {
	for _, e := range w.centers {
		if e.c == c {
			e.paused = max(e.paused, until)
			w.lower(e, until)
		}
	}
}

// Unpause lets every paused center run again.
func (w *World) Unpause() {
	for _, e := range w.centers {
		e.paused = 0
		w.lower(e, 0) // its next time is its timer's again
	}
	w.markAll()
}

// Quiet reports whether the world only waits for timers: no center has work, no job is due,
// and the network has nothing runnable or in flight.
func (w *World) Quiet() bool {
	now := w.Clock.Now()
	if w.Net.Runnable() > 0 {
		return false
	}
	if _, inFlight := w.Net.NextEvent(); inFlight {
		return false
	}
	if t, ok := w.jobs.next(); ok && t <= now {
		return false
	}
	for _, i := range w.cands {
		if e := w.centers[i]; !e.stopped && e.paused <= now && e.c.Pending() {
			return false
		}
	}
	return true
}

// HasJobs reports whether any scheduled job has not run yet.
func (w *World) HasJobs() bool { _, ok := w.jobs.next(); return ok }

// Now is the virtual time.
func (w *World) Now() time.Duration { return w.Clock.Now() }

// Steps is the number of scheduling decisions made so far.
func (w *World) Steps() uint64 { return w.steps }

// Step makes one scheduling decision: step a center with pending work or run a network
// transfer (chosen uniformly by the seed among everything possible now), or, when nothing is
// possible, advance virtual time to the next timer or delivery. It returns false when nothing
// will ever happen again (no work, no timers, no network events).
//
// A panic in the code under test is recovered and returned as a *PanicError.
func (w *World) Step() (more bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			more, err = false, newPanicError(r)
		}
	}()
	return w.step()
}

// step is Step without recovering panics (RunUntil recovers them once for all its steps).
func (w *World) step() (bool, error) {
	w.steps++
	nready := w.collectReady()
	now := w.Clock.Now()
	due := w.jobs.due(now)
	nr := w.Net.Runnable()
	total := nready + nr + len(due)
	if total == 0 {
		return w.advance(), nil
	}
	k := 0
	if total > 1 {
		k = w.sched.IntN(total)
	}
	if k < nready {
		e := w.centers[w.cands[k]]
		w.Trace.add2(TagCenterStep, uint64(now), uint64(e.index))
		if _, err := e.c.Step(0); err != nil {
			return false, fmt.Errorf("step %s: %w", e.c.Name(), err)
		}
		w.afterStep(e.c)
		return true, nil
	}
	if k -= nready; k >= nr {
		j := due[k-nr]
		w.jobs.removeDue(k - nr)
		w.Trace.add2(TagJob, uint64(now), j.seq)
		fn := w.jobFns[j.seq-1]
		w.jobFns[j.seq-1] = nil
		fn()
		w.afterStep(nil)
		return true, nil
	}
	tr := w.Net.Run(k)
	w.Trace.add4(TagNetTransfer, uint64(now), uint64(tr.Kind), tr.Conn, uint64(tr.Bytes))
	if w.Trace.keep {
		w.Trace.Logf(now, "network: %v", tr)
	}
	return true, nil
}

// collectReady leaves in w.cands the centers with pending work, in index order, and returns
// how many there are: the candidates that have some (the others leave the candidates until
// they report again).
func (w *World) collectReady() int {
	now := w.Clock.Now()
	if w.unsorted {
		slices.Sort(w.cands)
		w.unsorted = false
	}
	// Filtered in place (Pending calls no hook: the list does not change under the loop).
	cands, n := w.cands, 0
	for _, i := range cands {
		e := w.centers[i]
		if !e.stopped && e.paused <= now && e.c.Pending() {
			cands[n] = i
			n++
			continue
		}
		e.cand = false
	}
	keep := cands[:n]
	w.cands = keep
	if w.CheckRunnable {
		i := 0
		for _, e := range w.centers {
			if e.stopped || e.paused > now || !e.c.Pending() {
				continue
			}
			if i >= len(keep) || w.centers[keep[i]] != e {
				panic(fmt.Sprintf("world: center %s (index %d) has pending work but is not among the runnable ones kept", e.c.Name(), e.index))
			}
			i++
		}
		if i != len(keep) {
			panic("world: a center kept as runnable has no pending work")
		}
	}
	return len(keep)
}

func byIndex(a, b *entry) int { return a.index - b.index }

func (w *World) afterStep(c *event.Center) {
	if w.AfterStep != nil {
		w.AfterStep(c)
	}
}

// advance moves the clock to the earliest timer or network event; false if there is none.
//
// Timers and pauses may come due: no center could step before (advance runs when nothing
// can), and of what Pending reads only the timers depend on the clock, so the centers that can
// have become runnable are those whose earliest timer (or, paused, whose pause end) is the new
// time. advance marks only them, found from the kept lower bounds of the centers' times (see
// earliest): the same runnable centers as marking all, without asking every idle center of a
// large world at every advance.
func (w *World) advance() bool {
	next, ok := w.Net.NextEvent()
	if t, has := w.jobs.next(); has && (!ok || t < next) {
		next, ok = t, true
	}
	now := w.Clock.Now()
	var first time.Duration
	if ok && (len(w.times) == 0 || w.times[0].key > next) {
		// Every center's next time is at or after its key, so after next: no center wakes
		// at next, and earliest would find nothing that changes the outcome (the stale keys
		// it corrects stay lower bounds until a later advance corrects them).
		w.woken = w.woken[:0]
		if w.CheckRunnable {
			w.checkNoneBefore(now, next)
		}
	} else {
		first = w.earliest(now) // and w.woken
		if w.CheckRunnable {
			w.checkEarliest(now, first)
		}
	}
	if len(w.woken) > 0 && (!ok || first < next) {
		next, ok = first, true
	}
	if !ok {
		return false
	}
	if next > now {
		w.Clock.AdvanceTo(next)
	}
	if len(w.woken) > 0 && first == next {
		for _, e := range w.woken {
			w.mark(e)
		}
	}
	w.Trace.add1(TagAdvanceClock, uint64(next))
	return true
}

// nextTime is the real next time of e: its pause end if paused, else its earliest timer.
func (w *World) nextTime(e *entry, now time.Duration) (time.Duration, bool) {
	if e.paused > now {
		return e.paused, true
	}
	return e.c.NextTimer()
}

// earliest returns the earliest next time of a center and puts the centers whose next time it
// is into w.woken, in index order (none if no center has a next time).
//
// Every key in w.times is at or before its center's real next time, and every center with a
// next time is in w.times: a center's next time only becomes earlier through its timer hook
// (a timer created or moved), Pause or Unpause, which all lower the key, or when its pause
// ends, which happens at a time the clock reached, and at advance every center either is
// paused (its next time is the pause end) or has no due timer (its next time is after now);
// so a key that was the pause end is at or before now, hence before the real next time.
// earliest corrects the stale keys it meets at the top until the top's key is real: then it
// is the minimum. The centers at that time are all among the keys equal to it; those with a
// stale key are corrected and the search starts again (keys only grow, so it ends).
func (w *World) earliest(now time.Duration) time.Duration {
	for {
		w.woken = w.woken[:0]
		for len(w.times) > 0 {
			e := w.times[0]
			if e.stopped {
				w.heapRemove(e)
				continue
			}
			t, has := w.nextTime(e, now)
			if !has {
				w.heapRemove(e)
				continue
			}
			if t == e.key {
				break
			}
			e.key = t
			w.heapDown(0)
		}
		if len(w.times) == 0 {
			return 0
		}
		first := w.times[0].key
		w.woken = w.collectKey(0, first, w.woken)
		stale := false
		for _, e := range w.woken[1:] {
			var t time.Duration
			has := !e.stopped
			if has {
				t, has = w.nextTime(e, now)
			}
			switch {
			case !has:
				w.heapRemove(e)
				stale = true
			case t != first:
				e.key = t
				w.heapDown(e.hpos)
				stale = true
			}
		}
		if !stale {
			slices.SortFunc(w.woken, byIndex)
			return first
		}
	}
}

// collectKey appends the entries of the heap's subtree at i whose key is k (the subtree's
// minimum or above) to dst.
func (w *World) collectKey(i int, k time.Duration, dst []*entry) []*entry {
	if i >= len(w.times) || w.times[i].key != k {
		return dst
	}
	dst = append(dst, w.times[i])
	dst = w.collectKey(2*i+1, k, dst)
	return w.collectKey(2*i+2, k, dst)
}

// checkEarliest panics unless earliest found what asking every center finds (CheckRunnable).
func (w *World) checkEarliest(now, first time.Duration) {
	var want []*entry
	var wantFirst time.Duration
	for _, e := range w.centers {
		if e.stopped {
			continue
		}
		t, has := w.nextTime(e, now)
		switch {
		case !has:
		case len(want) == 0 || t < wantFirst:
			wantFirst = t
			want = append(want[:0], e)
		case t == wantFirst:
			want = append(want, e)
		}
	}
	if len(want) != len(w.woken) || (len(want) > 0 && wantFirst != first) {
		panic(fmt.Sprintf("world: earliest center time %v (%d centers), a poll finds %v (%d centers)", first, len(w.woken), wantFirst, len(want)))
	}
	for i := range want {
		if want[i] != w.woken[i] {
			panic(fmt.Sprintf("world: center %s is at the earliest time, the kept times say %s", want[i].c.Name(), w.woken[i].c.Name()))
		}
	}
}

// checkNoneBefore panics if a center's next time is at or before next, which the kept times
// say is before them all (CheckRunnable).
func (w *World) checkNoneBefore(now, next time.Duration) {
	for _, e := range w.centers {
		if e.stopped {
			continue
		}
		if t, has := w.nextTime(e, now); has && t <= next {
			panic(fmt.Sprintf("world: center %s wakes at %v, the kept times say none before %v", e.c.Name(), t, next))
		}
	}
}

// lower makes at a lower bound of e's next time: it may have become that early.
func (w *World) lower(e *entry, at time.Duration) {
	switch {
	case e.hpos < 0:
		e.key, e.hpos = at, len(w.times)
		w.times = append(w.times, e)
		w.heapUp(e.hpos)
	case at < e.key:
		e.key = at
		w.heapUp(e.hpos)
	}
}

func (w *World) heapRemove(e *entry) {
	i, last := e.hpos, len(w.times)-1
	e.hpos = -1
	if i != last {
		w.times[i] = w.times[last]
		w.times[i].hpos = i
	}
	w.times[last] = nil
	w.times = w.times[:last]
	if i < last {
		w.heapDown(i)
		w.heapUp(i)
	}
}

func (w *World) heapSwap(i, j int) {
	h := w.times
	h[i], h[j] = h[j], h[i]
	h[i].hpos, h[j].hpos = i, j
}

func (w *World) heapUp(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if w.times[p].key <= w.times[i].key {
			return
		}
		w.heapSwap(i, p)
		i = p
	}
}

func (w *World) heapDown(i int) {
	n := len(w.times)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && w.times[c+1].key < w.times[c].key {
			c++
		}
		if w.times[i].key <= w.times[c].key {
			return
		}
		w.heapSwap(i, c)
		i = c
	}
}

// RunUntil steps until done returns true. It fails when the world goes idle first, when
// virtual time passes limit, or after maxSteps steps.
func (w *World) RunUntil(done func() bool, limit time.Duration, maxSteps uint64) (err error) {
	// A panic in a step is returned as Step returns it; one in done or Abort is not recovered
	// here (the harness's Drive recovers it as a panic outside a step).
	stepping := false
	defer func() {
		if stepping {
			if r := recover(); r != nil {
				err = newPanicError(r)
			}
		}
	}()
	start := w.steps
	for !done() {
		if w.steps-start >= maxSteps {
			return fmt.Errorf("sim: no progress after %d steps (virtual time %v)", maxSteps, w.Now())
		}
		if w.Abort != nil && w.steps&1023 == 0 && w.Abort() {
			return fmt.Errorf("%w at step %d (virtual time %v)", ErrAborted, w.steps, w.Now())
		}
		if w.Clock.Now() > limit {
			return fmt.Errorf("sim: virtual time limit %v passed", limit)
		}
		stepping = true
		more, err := w.step()
		stepping = false
		if err != nil {
			return err
		}
		if !more {
			return fmt.Errorf("sim: world idle at %v before the condition held", w.Now())
		}
	}
	return nil
}

// Schedule runs fn at virtual time at (or later: due jobs compete with other work for the
// scheduler's choice, so their order relative to network and center steps is seeded too).
func (w *World) Schedule(at time.Duration, fn func()) {
	w.jobSeq++
	w.jobFns = append(w.jobFns, fn)
	w.jobs.push(job{at: at, seq: w.jobSeq})
}

// job is a scheduled job's time and sequence number (its function is World.jobFns[seq-1]):
// the heap of pending jobs holds no pointer, so reordering it costs no write barrier and the
// collector has nothing to scan in it.
type job struct {
	at  time.Duration
	seq uint64
}

// jobHeap holds the pending jobs in (time, sequence) order: the jobs whose time has come
// (now, a sorted list as short as the number of jobs due at once) and the others in a binary
// min-heap. A run schedules its sends up front, so thousands of jobs can be pending; with one
// sorted list every removal shifted all of them.
type jobHeap struct {
	now   []job // due: at <= the time of the last due call, sorted
	later []job // min-heap
}

// before is the order of jobs: by time, then by sequence (scheduling order).
func before(a, b job) bool { return a.at < b.at || (a.at == b.at && a.seq < b.seq) }

func (h *jobHeap) push(j job) {
	h.later = append(h.later, j)
	h.up(len(h.later) - 1)
}

// next is the time of the earliest pending job.
func (h *jobHeap) next() (time.Duration, bool) {
	switch {
	case len(h.now) > 0 && len(h.later) > 0:
		return min(h.now[0].at, h.later[0].at), true
	case len(h.now) > 0:
		return h.now[0].at, true
	case len(h.later) > 0:
		return h.later[0].at, true
	}
	return 0, false
}

// due returns the jobs due at now, in order: the heap's own list, valid until the heap
// changes (no copy per step).
func (h *jobHeap) due(now time.Duration) []job {
	for len(h.later) > 0 && h.later[0].at <= now {
		h.insertDue(h.pop())
	}
	return h.now
}

// removeDue removes the i-th job of the due list.
func (h *jobHeap) removeDue(i int) {
	h.now = slices.Delete(h.now, i, i+1)
}

// insertDue puts j into the due list at its place in the order.
func (h *jobHeap) insertDue(j job) {
	i := sort.Search(len(h.now), func(k int) bool { return before(j, h.now[k]) })
	h.now = slices.Insert(h.now, i, j)
}

// pop takes the earliest job of the heap.
func (h *jobHeap) pop() job {
	j := h.later[0]
	last := len(h.later) - 1
	h.later[0] = h.later[last]
	h.later = h.later[:last]
	if last > 0 {
		h.down(0)
	}
	return j
}

func (h *jobHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !before(h.later[i], h.later[p]) {
			return
		}
		h.later[i], h.later[p] = h.later[p], h.later[i]
		i = p
	}
}

func (h *jobHeap) down(i int) {
	n := len(h.later)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && before(h.later[c+1], h.later[c]) {
			c++
		}
		if !before(h.later[c], h.later[i]) {
			return
		}
		h.later[i], h.later[c] = h.later[c], h.later[i]
		i = c
	}
}
