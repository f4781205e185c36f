package event

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/netio"
)

// FileHandler is called with the readiness of a watched fd (only the events it asked for).
type FileHandler func(fd int, ready netio.Events)

// TimerID names a time event so it can be cancelled. IDs are never reused by a center.
type TimerID uint64

// Limits on the work of one Step, so no source of events starves the others.
const (
	maxFileEventsPerStep = 128
	maxTimersPerStep     = 256
)

type fileEvent struct {
	fd      int
	mask    netio.Events
	handler FileHandler
}

// A center keeps its watched descriptors and its pending time events in slices, searched
// linearly while they are few (every simulated center watches a handful and keeps a timer
// per connection), and indexes them with a map only once they outgrow these bounds (a
// production center may watch thousands). A simulation builds dozens of centers per run; two
// maps per center, each allocated with its first entry, were a tenth of a FuzzSim run's
// allocations. The first timers, the event buffer and the posted-callback queues live in the
// Center itself, for the same reason.
const (
	linearFiles  = 16
	linearTimers = 16
	inlineTimers = 4
	inlineEvents = 4
	inlinePosted = 8
	inlineFiles  = 4
)

// Center is one event loop. Except for Post, Stop and Pending, its methods must be called
// from the goroutine that drives it (inside its handlers and callbacks).
type Center struct {
	id     int
	name   string
	poller netio.Poller
	ready  readyReporter // poller, when it can tell (Pending); nil otherwise
	clock  netio.Clock
	rand   *detrand.Rand

	files   []fileEvent            // watched descriptors, in no particular order
	fileIdx map[int]int            // fd to index in files, once files outgrew linearFiles; lookup only: never iterated
	timers  timerHeap              // pending time events
	byID    map[TimerID]*timer     // the pending events by id, once timers outgrew linearTimers; lookup only: never iterated
	spare   [maxSpareTimers]*timer // fired and deleted timers, reused by CreateTimeEventAt
	nspare  int
	nextID  TimerID
	evs     []netio.Event
	now     time.Duration // the clock as read when the current step's wait returned (StepNow)
	stepped bool          // a step (handleWaited) ran since nextWait last asked: now is fresh

	// Initial backing arrays of timers, evs, ext and extRun, and the first timers (in spare
	// until taken).
	timerArr [inlineTimers]*timer
	timerMem [inlineTimers]timer
	evsArr   [inlineEvents]netio.Event
	extArr   [2][inlinePosted]func()
	filesArr [inlineFiles]fileEvent

	mu      sync.Mutex
	ext     []func()
	extRun  []func()
	extLen  atomic.Int32
	stopped atomic.Bool
	load    atomic.Int64

	onRunnable func()              // SetRunnableHook
	onTimer    func(time.Duration) // SetTimerHook

	settled   bool // the running file handler called Settled
	unsettled bool // the running step may leave something ready unreported (handle)

	chores   []chore       // AddChore, in the order added; owned by the center's goroutine
	choreAt  time.Duration // the earliest at of chores (when there are any)
	choreArr [2]chore

	pooled bool // one of a Pool's centers (recycled with the pool only)
}

// Chore is work a center does when it gets to it (AddChore).
type Chore interface {
	// RunChore runs on the center's goroutine at the end of a step; now is the step's clock
	// (StepNow).
	RunChore(now time.Duration)
}

type chore struct {
	at time.Duration
	ch Chore
}

// NewCenter creates a center with its own poller from stack. rand is the center's private
// random source (nonces, backoff jitter); it is only used on the center's goroutine.
func NewCenter(id int, name string, stack netio.Stack, rand *detrand.Rand) (*Center, error) {
	p, err := stack.NewPoller()
	if err != nil {
		return nil, fmt.Errorf("event center %s: %w", name, err)
	}
	c := newCenterMem()
	c.init(id, name, p, stack.Clock(), rand)
	return c, nil
}

// init sets up a zero Center in place.
func (c *Center) init(id int, name string, p netio.Poller, clock netio.Clock, rand *detrand.Rand) {
	rr, _ := p.(readyReporter)
	c.id, c.name, c.poller, c.ready, c.clock, c.rand = id, name, p, rr, clock, rand
	c.files = c.filesArr[:0]
	c.timers = c.timerArr[:0]
	c.evs = c.evsArr[:]
	c.ext, c.extRun = c.extArr[0][:0], c.extArr[1][:0]
	c.chores = c.choreArr[:0]
	for i := range c.timerMem {
		c.spare[i] = &c.timerMem[i]
	}
	c.nspare = len(c.timerMem)
}

// file returns the index of the watched descriptor fd in files, or -1.
func (c *Center) file(fd int) int {
	if c.fileIdx != nil {
		if i, ok := c.fileIdx[fd]; ok {
			return i
		}
		return -1
	}
	for i := range c.files {
		if c.files[i].fd == fd {
			return i
		}
	}
	return -1
}

// addFile watches a new descriptor.
func (c *Center) addFile(fe fileEvent) {
	c.files = append(c.files, fe)
	switch {
	case c.fileIdx != nil:
		c.fileIdx[fe.fd] = len(c.files) - 1
	case len(c.files) > linearFiles:
		c.fileIdx = make(map[int]int, 2*len(c.files))
		for i := range c.files {
			c.fileIdx[c.files[i].fd] = i
		}
	}
}

// removeFile stops watching files[i], moving the last entry into its place.
func (c *Center) removeFile(i int) {
	last := len(c.files) - 1
	if c.fileIdx != nil {
		delete(c.fileIdx, c.files[i].fd)
		if i != last {
			c.fileIdx[c.files[last].fd] = i
		}
	}
	c.files[i] = c.files[last]
	c.files[last] = fileEvent{}
	c.files = c.files[:last]
}

// findTimer returns the pending time event id, or nil.
func (c *Center) findTimer(id TimerID) *timer {
	if c.byID != nil {
		return c.byID[id]
	}
	for _, t := range c.timers {
		if t.id == id {
			return t
		}
	}
	return nil
}

// ID is the center's index in its pool.
func (c *Center) ID() int { return c.id }

// Name identifies the center in logs and traces, e.g. "osd.0/w1".
func (c *Center) Name() string { return c.name }

// Clock is the clock the center's timers run on.
func (c *Center) Clock() netio.Clock { return c.clock }

// Rand is the center's private random source.
func (c *Center) Rand() *detrand.Rand { return c.rand }

// Now is the center's current time.
func (c *Center) Now() time.Duration { return c.clock.Now() }

// StepNow is the time read once per step, when the step's wait for events returned: a clock
// that lags Now by at most the work the step did so far, and costs nothing to read. Its
// value means something only on the center's goroutine, inside a step (in a handler or
// callback). A simulated clock does not move during a step, so there it equals Now.
func (c *Center) StepNow() time.Duration { return c.now }

// CreateFileEvent watches fd for the events in mask (added to any already watched) and sets
// its handler.
func (c *Center) CreateFileEvent(fd int, mask netio.Events, h FileHandler) error {
	i := c.file(fd)
	if i < 0 {
		if err := c.poller.Add(fd, mask); err != nil {
			return fmt.Errorf("watch fd %d: %w", fd, err)
		}
		c.addFile(fileEvent{fd: fd, mask: mask, handler: h})
		c.unsettled = true // epoll may not report it again by itself: poll before parking
		return nil
	}
	fe := &c.files[i]
	fe.handler = h
	if fe.mask|mask == fe.mask {
		return nil
	}
	if err := c.poller.Modify(fd, fe.mask|mask); err != nil {
		return fmt.Errorf("watch fd %d: %w", fd, err)
	}
	fe.mask |= mask
	c.unsettled = true
	return nil
}

// DeleteFileEvent stops watching fd for the events in mask; with nothing left the fd is
// removed from the poller.
func (c *Center) DeleteFileEvent(fd int, mask netio.Events) error {
	i := c.file(fd)
	if i < 0 {
		return nil
	}
	fe := &c.files[i]
	left := fe.mask &^ mask
	if left == fe.mask {
		return nil
	}
	if left == 0 {
		c.removeFile(i)
		if err := c.poller.Delete(fd); err != nil {
			return fmt.Errorf("unwatch fd %d: %w", fd, err)
		}
		return nil
	}
	fe.mask = left
	if err := c.poller.Modify(fd, left); err != nil {
		return fmt.Errorf("unwatch fd %d: %w", fd, err)
	}
	return nil
}

// FileMask is the mask fd is watched for (0 if not watched).
func (c *Center) FileMask(fd int) netio.Events {
	if i := c.file(fd); i >= 0 {
		return c.files[i].mask
	}
	return 0
}

// CreateTimeEvent runs cb once, after delay (at the earliest), on the center's goroutine.
func (c *Center) CreateTimeEvent(delay time.Duration, cb func()) TimerID {
	return c.CreateTimeEventAt(c.clock.Now()+delay, cb)
}

// CreateTimeEventAt runs cb once at time at (at the earliest).
func (c *Center) CreateTimeEventAt(at time.Duration, cb func()) TimerID {
	c.nextID++
	var t *timer
	if c.nspare > 0 {
		c.nspare--
		t, c.spare[c.nspare] = c.spare[c.nspare], nil
		*t = timer{when: at, id: c.nextID, seq: uint64(c.nextID), cb: cb}
	} else {
		t = &timer{when: at, id: c.nextID, seq: uint64(c.nextID), cb: cb}
	}
	c.timers.push(t)
	switch {
	case c.byID != nil:
		c.byID[t.id] = t
	case len(c.timers) > linearTimers:
		c.byID = make(map[TimerID]*timer, 2*len(c.timers))
		for _, t := range c.timers {
			c.byID[t.id] = t
		}
	}
	if c.onTimer != nil {
		c.onTimer(at)
	}
	if c.onRunnable != nil && at <= c.clock.Now() {
		c.onRunnable()
	}
	return t.id
}

// ResetTimeEvent moves a pending time event to time at. The event then runs as if it had been
// deleted and created anew with the same callback (after the events created earlier for the
// same instant), without allocating; it keeps its id, which ResetTimeEvent returns. It reports
// false, doing nothing, when id is unknown or already fired.
//
// Moving an event later, as a connection's idle deadline moves on every read, costs a few
// stores: the event keeps its place in the heap and is moved only when it reaches the top
// (the lazy deadline; see settle). An event without children in the heap (the only one a
// center with one connection has) takes its new time at once: a leaf moved later is still in
// order, and then settle finds nothing to do at the next step. Only a move earlier reorders
// the heap at once. Which events run when, and in what order, is the same either way: the
// heap's layout does not decide it (see settle).
func (c *Center) ResetTimeEvent(id TimerID, at time.Duration) (TimerID, bool) {
	t := c.findTimer(id)
	if t == nil {
		return 0, false
	}
	c.nextID++
	switch {
	case at >= t.when && 2*t.index+1 >= len(c.timers):
		t.when, t.seq, t.deferred = at, uint64(c.nextID), false
	case at >= t.when:
		t.later, t.laterSeq, t.deferred = at, uint64(c.nextID), true
	default:
		t.when, t.seq, t.deferred = at, uint64(c.nextID), false
		c.timers.fix(t.index)
	}
	if c.onTimer != nil {
		c.onTimer(at)
	}
	if c.onRunnable != nil && at <= c.clock.Now() {
		c.onRunnable()
	}
	return id, true
}

// settle gives the earliest time events their deferred moves until the earliest one has none:
// then it is the earliest by its real time, since every event's place in the heap is at or
// before its real one. Called wherever the earliest event is looked at, on the center's
// goroutine. Events run in the order of their real times and seqs (a total order), so how
// often and when settle runs changes the heap's layout but not which event comes out first.
func (c *Center) settle() {
	if len(c.timers) > 0 && c.timers[0].deferred {
		c.settleTop()
	}
}

// settleTop is settle's loop, out of line so that settle inlines where the top has no
// deferred move (most steps).
func (c *Center) settleTop() {
	for len(c.timers) > 0 && c.timers[0].deferred {
		t := c.timers[0]
		t.when, t.seq, t.deferred = t.later, t.laterSeq, false
		c.timers.fix(0)
	}
}

// DeleteTimeEvent cancels a pending time event; an unknown or fired id is ignored.
func (c *Center) DeleteTimeEvent(id TimerID) {
	if t := c.findTimer(id); t != nil {
		c.timers.remove(t.index)
		if c.byID != nil {
			delete(c.byID, id)
		}
		c.recycle(t)
	}
}

// maxSpareTimers bounds a center's free list of timers.
const maxSpareTimers = 16

// recycle keeps t, no longer in the heap nor in byID, for a later CreateTimeEventAt (a
// connection re-arms its timer after nearly every step that fired it).
func (c *Center) recycle(t *timer) {
	if c.nspare < maxSpareTimers {
		t.cb = nil
		c.spare[c.nspare] = t
		c.nspare++
	}
}

// NextTimer is the time of the earliest pending time event.
func (c *Center) NextTimer() (time.Duration, bool) {
	c.settle()
	if len(c.timers) == 0 {
		return 0, false
	}
	return c.timers[0].when, true
}

// Post queues cb to run on the center's goroutine and wakes the center. Safe from any
// goroutine; callbacks run in the order they were posted.
func (c *Center) Post(cb func()) {
	c.mu.Lock()
	c.ext = append(c.ext, cb)
	first := len(c.ext) == 1
	c.extLen.Store(int32(len(c.ext)))
	c.mu.Unlock()
	if first {
		_ = c.poller.Wake()
		if c.onRunnable != nil {
			c.onRunnable()
		}
	}
}

// readyNotifier is implemented by simulated pollers, which can call a function whenever they
// may have become ready (a descriptor became ready, or a Wake).
type readyNotifier interface{ SetOnReady(func()) }

// SetRunnableHook sets fn to be called whenever Pending may have turned true without the
// clock moving: a callback posted to an empty queue, a time event created or moved to a time
// already come, Stop, or (with a poller that can tell, as simulated ones do) a file event
// ready. A timer that becomes due because the clock moved is not reported: a caller that moves
// the clock asks every center again. The simulator's scheduler keeps its set of runnable
// centers with it. fn runs on the goroutine that caused the change; call SetRunnableHook
// before the center is driven.
func (c *Center) SetRunnableHook(fn func()) {
	c.onRunnable = fn
	if rn, ok := c.poller.(readyNotifier); ok {
		rn.SetOnReady(fn)
	}
}

// SetTimerHook sets fn to be called with at whenever a time event is created for time at or
// moved to time at: the only ways NextTimer can become earlier. Deleting or running events
// only makes it later. The simulator's scheduler keeps, with it, a lower bound of every
// center's next timer instead of asking every center whenever it moves the clock. fn runs on
// the center's goroutine; call SetTimerHook before the center is driven.
func (c *Center) SetTimerHook(fn func(at time.Duration)) { c.onTimer = fn }

// readyReporter is implemented by simulated pollers, which can tell without side effects
// whether a Wait would return events.
type readyReporter interface{ HasReady() bool }

// Pending reports whether a Step now would find work: posted callbacks, due timers or (for a
// poller that can tell, as simulated ones do) ready file events. The simulator's scheduler
// steps only centers with pending work.
func (c *Center) Pending() bool {
	if c.extLen.Load() > 0 {
		return true
	}
	if len(c.timers) > 0 {
		// The root's time first, inline: usually not yet come, and dueFrom (recursive) is
		// never inlined; the simulator asks about 15 times per message.
		if now := c.clock.Now(); c.timers[0].when <= now && c.timers.dueFrom(0, now) {
			return true
		}
	}
	if c.ready != nil {
		return c.ready.HasReady()
	}
	return false
}

// Step runs one iteration: wait up to maxWait (negative: until something happens; the wait
// is shortened to the next timer or chore and skipped when callbacks are posted) for file
// events, handle them, run due time events, then run the callbacks posted before this point,
// then the chores that are due (AddChore). It returns how many events it handled (chores do
// not count).
func (c *Center) Step(maxWait time.Duration) (int, error) {
	n, err := c.poller.Wait(c.eventBuf(), c.waitTimeout(maxWait))
	if err != nil {
		return 0, fmt.Errorf("center %s: wait: %w", c.name, err)
	}
	handled, _ := c.handle(n)
	return handled, nil
}

// handle is a step after its wait returned n events in c.evs: it reads the step's clock, runs
// the file events, the due timers, the posted callbacks and the due chores, in that order. It
// returns how many events it handled and whether the step left nothing ready that the poller
// would not report by itself (see Settled).
func (c *Center) handle(n int) (int, bool) {
	c.now = c.clock.Now()
	c.unsettled = n >= len(c.evs) // a full buffer: more may be ready
	handled := c.runFileEvents(n)
	handled += c.runTimers()
	handled += c.runExternal()
	if len(c.chores) > 0 && c.choreAt <= c.now {
		c.runChores()
	}
	return handled, !c.unsettled
}

// Settled is called by a file handler (only inside one) when it leaves its descriptor with
// nothing ready of what it was reported ready for: it read until the socket had less than it
// asked for or would block, wrote until done or blocked, or closed it. Anything that becomes
// ready later is a new event, which a poller parked in Go's netpoller is woken for. A step
// whose handlers all said so, and that changed no interest (CreateFileEvent), lets Run park
// without polling again first (see loopPoller); a handler that does not call Settled costs
// only that poll.
func (c *Center) Settled() { c.settled = true }

// Unsettled says that the running step left a watched descriptor ready without a new event
// to come (a read or write loop stopped at its cap): Run polls before it parks. On the
// center's goroutine.
func (c *Center) Unsettled() { c.unsettled = true }

// loopPoller is a poller that runs the production loop itself: next gives the buffer and
// timeout of the next wait, the time on the center's clock that the timeout runs to (-1:
// none; the same time again means the same deadline, which the poller need not arm again),
// and whether to stop; handle is the rest of the step after a wait
// returned n events and reports whether the step settled (Settled). The epoll poller parked
// in Go's netpoller implements it to stay inside one wait of the runtime across steps, which
// lets it park after a settled step without a non-blocking epoll_wait first (the runtime
// keeps every readiness reported meanwhile).
type loopPoller interface {
	RunLoop(next func() ([]netio.Event, time.Duration, time.Duration, netio.Event, bool), handle func(n int) bool) error
}

// nextWait is loopPoller's next: Step(-1)'s buffer and timeout, the time it runs to, and
// whether Stop was called. Asked right after a step (handleWaited), it measures the timeout
// from that step's clock rather than reading the clock again: one clock read per wakeup less
// (~100 instructions). The timeout then runs long by the time the step took (microseconds,
// as connHost.Now's deadlines run early by it); a timer that came due while the step ran
// gets a small timeout instead of 0, and the poller's deadline, not a poll, ends the wait
// for it. Asked otherwise (a RawRead that begins after a park), it reads the clock.
//
// With exactly one watched descriptor it also gives that descriptor and its mask: the poller
// may then hand a wakeup without a Wake to the step as that descriptor's readiness without
// polling (see the epoll stack's parker.runSteps); otherwise FD is -1.
func (c *Center) nextWait() ([]netio.Event, time.Duration, time.Duration, netio.Event, bool) {
	d, at := c.waitUntil(-1, c.stepped)
	c.stepped = false
	only := netio.Event{FD: -1}
	if len(c.files) == 1 {
		only = netio.Event{FD: c.files[0].fd, Events: c.files[0].mask}
	}
	return c.eventBuf(), d, at, only, c.stopped.Load()
}

// handleWaited is loopPoller's handle.
func (c *Center) handleWaited(n int) bool {
	_, settled := c.handle(n)
	c.stepped = true
	return settled
}

// AddChore has ch.RunChore called once, at the end of the first step whose clock (StepNow) is
// at or after at: work that may wait, such as giving back the buffers of connections gone
// idle. A chore is not a time event: it does not make Pending true, is not reported to the
// timer hook, and never makes a step happen by itself in a simulation, where it only rides on
// the steps the schedule has anyway (so adding chores changes no simulated schedule). Run, the
// production loop, does wake for it: a wait that would block (Step(-1), or longer than the
// chore's time) is shortened to it. Call it from the center's goroutine; a chore may add
// chores (they run at a later step).
func (c *Center) AddChore(at time.Duration, ch Chore) {
	if len(c.chores) == 0 || at < c.choreAt {
		c.choreAt = at
	}
	c.chores = append(c.chores, chore{at: at, ch: ch})
}

// runChores runs the chores that are due, in the order they were added, and keeps the others
// (and those added meanwhile) in order. Step calls it only when one is due (choreAt): most
// steps of a busy center have a chore 100 ms away and nothing to do here.
func (c *Center) runChores() {
	now, n, kept := c.now, len(c.chores), 0
	for i := 0; i < n; i++ {
		ch := c.chores[i] // c.chores is read again each time: a chore may append to it
		if ch.at > now {
			c.chores[kept] = ch
			kept++
			continue
		}
		ch.ch.RunChore(now)
	}
	added := copy(c.chores[kept:], c.chores[n:])
	clear(c.chores[kept+added:])
	c.chores = c.chores[:kept+added]
	if len(c.chores) > 0 {
		at := c.chores[0].at
		for _, ch := range c.chores[1:] {
			at = min(at, ch.at)
		}
		c.choreAt = at
	}
}

// nextChore is the earliest time of a pending chore.
func (c *Center) nextChore() (time.Duration, bool) {
	return c.choreAt, len(c.chores) > 0
}

// eventBuf is the buffer Wait fills: one event per watched descriptor and one more (a
// poller's own wake descriptor may take a slot; and Wait needs at least one), at most
// maxFileEventsPerStep. A poller reports at most one event per descriptor, so a Step sees what
// it would with the largest buffer, and a center watching a few descriptors (every simulated
// one; a simulation builds dozens per run) does not carry 2 KiB.
func (c *Center) eventBuf() []netio.Event {
	if need := min(maxFileEventsPerStep, len(c.files)+1); len(c.evs) < need {
		c.evs = make([]netio.Event, min(maxFileEventsPerStep, max(need, 2*len(c.evs), 4)))
	}
	return c.evs
}

func (c *Center) waitTimeout(maxWait time.Duration) time.Duration {
	d, _ := c.waitUntil(maxWait, false)
	return d
}

// waitUntil is waitTimeout, and the time of the timer or chore the timeout runs to (-1 when
// it runs to none: posted callbacks, maxWait, or nothing pending). With stepClock the
// timeout is measured from the step's clock (StepNow) instead of a new clock read (see
// nextWait).
func (c *Center) waitUntil(maxWait time.Duration, stepClock bool) (time.Duration, time.Duration) {
	if c.extLen.Load() > 0 {
		return 0, -1
	}
	c.settle()
	at, ok := c.nextChore()
	if len(c.timers) > 0 && (!ok || c.timers[0].when < at) {
		at, ok = c.timers[0].when, true
	}
	if !ok {
		return maxWait, -1
	}
	var d time.Duration
	if stepClock {
		d = at - c.now
	} else {
		d = at - c.clock.Now()
	}
	if d < 0 {
		d = 0
	}
	if maxWait >= 0 && maxWait < d {
		return maxWait, -1
	}
	return d, at
}

func (c *Center) runFileEvents(n int) int {
	for i := 0; i < n; i++ {
		ev := c.evs[i]
		k := c.file(ev.FD)
		if k < 0 {
			continue // deleted by an earlier handler of this batch
		}
		if fe := c.files[k]; ev.Events&fe.mask != 0 {
			c.settled = false
			fe.handler(ev.FD, ev.Events&fe.mask)
			if !c.settled {
				c.unsettled = true
			}
		} else {
			c.unsettled = true
		}
	}
	return n
}

func (c *Center) runTimers() int {
	now := c.now
	ran := 0
	for ran < maxTimersPerStep {
		c.settle()
		if len(c.timers) == 0 || c.timers[0].when > now {
			break
		}
		t := c.timers.pop()
		if c.byID != nil {
			delete(c.byID, t.id)
		}
		cb := t.cb
		c.recycle(t)
		cb()
		ran++
	}
	return ran
}

func (c *Center) runExternal() int {
	if c.extLen.Load() == 0 {
		// Nothing posted (most steps): no lock. A Post racing with this check wakes the
		// center's next wait, as one posted just after the lock would.
		return 0
	}
	c.mu.Lock()
	c.ext, c.extRun = c.extRun[:0], c.ext
	c.extLen.Store(0)
	c.mu.Unlock()
	for i, cb := range c.extRun {
		cb()
		c.extRun[i] = nil
	}
	return len(c.extRun)
}

// Run steps the center until Stop is called. It is the production loop. A poller that runs
// the loop itself (loopPoller) runs the same steps.
func (c *Center) Run() error {
	if lp, ok := c.poller.(loopPoller); ok {
		if err := lp.RunLoop(c.nextWait, c.handleWaited); err != nil {
			return fmt.Errorf("center %s: wait: %w", c.name, err)
		}
		return nil
	}
	for !c.stopped.Load() {
		if _, err := c.Step(-1); err != nil {
			return err
		}
	}
	return nil
}

// Stop makes Run return after its current iteration. Safe from any goroutine.
func (c *Center) Stop() {
	c.stopped.Store(true)
	_ = c.poller.Wake()
	if c.onRunnable != nil {
		c.onRunnable()
	}
}

// Stopped reports whether Stop was called.
func (c *Center) Stopped() bool { return c.stopped.Load() }

// Close releases the poller. Call it after the center stopped being driven.
func (c *Center) Close() error { return c.poller.Close() }

// Load is the number of connections assigned to the center.
func (c *Center) Load() int64 { return c.load.Load() }

// AddLoad adjusts the number of connections assigned to the center.
func (c *Center) AddLoad(delta int64) { c.load.Add(delta) }

type timer struct {
	when  time.Duration // its place in the heap: at or before its real time
	seq   uint64        // order among events due at the same instant: of creation or last move
	id    TimerID
	cb    func()
	index int // position in the heap, kept by Swap/Push

	// A move later not yet made in the heap (see ResetTimeEvent): when deferred, the event's
	// real time and seq are later and laterSeq.
	deferred bool
	later    time.Duration
	laterSeq uint64
}

// timerHeap orders by time, then by seq, so timers due at the same instant run in the order
// they were created or last moved. The heap is ordered by when and seq; an event with a
// deferred move is really due later, so every event's place is at or before its real one.
type timerHeap []*timer

// dueFrom reports whether an event in the subtree at i is really due at now, without
// settling: the subtree's events are all in place at or after its root's.
func (h timerHeap) dueFrom(i int, now time.Duration) bool {
	if i >= len(h) || h[i].when > now {
		return false
	}
	if t := h[i]; !t.deferred || t.later <= now {
		return true
	}
	return h.dueFrom(2*i+1, now) || h.dueFrom(2*i+2, now)
}

// The heap operations are container/heap's, step for step (the same layout after every
// operation), on the concrete type: through heap.Interface every comparison and swap was a
// dynamic call, and a busy connection's idle timer is settled at every step.

func (h timerHeap) less(i, j int) bool {
	if h[i].when != h[j].when {
		return h[i].when < h[j].when
	}
	return h[i].seq < h[j].seq
}

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h timerHeap) up(j int) {
	for {
		i := (j - 1) / 2 // parent
		if i == j || !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h timerHeap) down(i0, n int) bool {
	i := i0
	for {
		j1 := 2*i + 1
		if j1 >= n || j1 < 0 {
			break
		}
		j := j1
		if j2 := j1 + 1; j2 < n && h.less(j2, j1) {
			j = j2
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}

// push adds t (heap.Push).
func (h *timerHeap) push(t *timer) {
	t.index = len(*h)
	*h = append(*h, t)
	h.up(len(*h) - 1)
}

// pop removes and returns the earliest event (heap.Pop).
func (h *timerHeap) pop() *timer {
	n := len(*h) - 1
	h.swap(0, n)
	h.down(0, n)
	return h.cut()
}

// remove removes the event at i (heap.Remove).
func (h *timerHeap) remove(i int) *timer {
	n := len(*h) - 1
	if n != i {
		h.swap(i, n)
		if !h.down(i, n) {
			h.up(i)
		}
	}
	return h.cut()
}

// fix restores the order after the event at i changed its time (heap.Fix).
func (h timerHeap) fix(i int) {
	if !h.down(i, len(h)) {
		h.up(i)
	}
}

// cut removes the last element.
func (h *timerHeap) cut() *timer {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}
