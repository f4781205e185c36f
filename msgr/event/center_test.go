package event_test

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/simnet"
)

func newSimCenter(t *testing.T) (*event.Center, *simnet.Clock, *simnet.Network, *simnet.Host) {
	t.Helper()
	return newSimCenterTB(t)
}

func newSimCenterTB(t testing.TB) (*event.Center, *simnet.Clock, *simnet.Network, *simnet.Host) {
	t.Helper()
	clock := simnet.NewClock()
	n := simnet.New(clock, detrand.NewSeeded(1), simnet.Config{})
	h := n.AddHost("h", netip.MustParseAddr("10.0.0.1"))
	c, err := event.NewCenter(0, "h/w0", h, detrand.NewSeeded(2))
	if err != nil {
		t.Fatal(err)
	}
	return c, clock, n, h
}

func TestTimersRunInOrderAndCancel(t *testing.T) {
	c, clock, _, _ := newSimCenter(t)
	var got []int
	c.CreateTimeEvent(3*time.Millisecond, func() { got = append(got, 3) })
	id := c.CreateTimeEvent(2*time.Millisecond, func() { got = append(got, 2) })
	c.CreateTimeEvent(1*time.Millisecond, func() { got = append(got, 1) })
	c.CreateTimeEvent(1*time.Millisecond, func() { got = append(got, 11) }) // same instant: creation order
	c.DeleteTimeEvent(id)
	c.DeleteTimeEvent(12345) // unknown: ignored
	if at, ok := c.NextTimer(); !ok || at != time.Millisecond {
		t.Fatalf("NextTimer = %v %v", at, ok)
	}
	if c.Pending() {
		t.Fatal("pending before any timer is due")
	}
	clock.AdvanceTo(5 * time.Millisecond)
	if !c.Pending() {
		t.Fatal("not pending with due timers")
	}
	if _, err := c.Step(0); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != 1 || got[1] != 11 || got[2] != 3 {
		t.Fatalf("timers ran as %v, want [1 11 3]", got)
	}
	if _, ok := c.NextTimer(); ok {
		t.Fatal("timers left after all ran")
	}
}

func TestPostRunsInOrderOnStep(t *testing.T) {
	c, _, _, _ := newSimCenter(t)
	var got []int
	for i := 0; i < 5; i++ {
		c.Post(func() {
			got = append(got, i)
			if i == 0 {
				c.Post(func() { got = append(got, 100) }) // posted during a step: next step
			}
		})
	}
	if !c.Pending() {
		t.Fatal("posted work not pending")
	}
	if _, err := c.Step(0); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("after one step: %v", got)
	}
	if _, err := c.Step(0); err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 || got[5] != 100 {
		t.Fatalf("after two steps: %v", got)
	}
}

func TestFileEventsMaskAndDelete(t *testing.T) {
	c, clock, n, h := newSimCenter(t)
	l, err := h.Listen(netip.MustParseAddrPort("10.0.0.1:7000"), 0)
	if err != nil {
		t.Fatal(err)
	}
	var accepts int
	if err := c.CreateFileEvent(l.FD(), netio.Read, func(fd int, ev netio.Events) {
		if ev != netio.Read {
			t.Errorf("listener got %v", ev)
		}
		if _, err := l.Accept(); err == nil {
			accepts++
		}
	}); err != nil {
		t.Fatal(err)
	}
	s, err := h.Connect(netip.MustParseAddrPort("10.0.0.1:7000"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10 && n.Runnable() > 0; i++ {
		n.Run(0)
	}
	_ = clock
	if _, err := c.Step(0); err != nil {
		t.Fatal(err)
	}
	if accepts != 1 {
		t.Fatalf("accepts = %d", accepts)
	}
	var writable int
	if err := c.CreateFileEvent(s.FD(), netio.Write, func(int, netio.Events) { writable++ }); err != nil {
		t.Fatal(err)
	}
	if c.FileMask(s.FD()) != netio.Write {
		t.Fatalf("mask %v", c.FileMask(s.FD()))
	}
	c.Step(0)
	c.Step(0)
	if writable != 2 {
		t.Fatalf("level-triggered writable reported %d times in 2 steps", writable)
	}
	if err := c.DeleteFileEvent(s.FD(), netio.Write); err != nil {
		t.Fatal(err)
	}
	c.Step(0)
	if writable != 2 || c.FileMask(s.FD()) != 0 {
		t.Fatalf("deleted event still reported (%d) or mask %v", writable, c.FileMask(s.FD()))
	}
}

func TestPoolPicksLeastLoaded(t *testing.T) {
	_, _, _, h := newSimCenter(t)
	p, err := event.NewPool("osd.12", 12, h, noRuntime{}, detrand.NewSeeded(1))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range p.Centers() {
		if want := fmt.Sprintf("osd.12/w%d", i); c.Name() != want || c.ID() != i {
			t.Fatalf("center %d is %q (id %d), want %q", i, c.Name(), c.ID(), want)
		}
	}
	p, err = event.NewPool("x", 3, h, noRuntime{}, detrand.NewSeeded(1))
	if err != nil {
		t.Fatal(err)
	}
	var order []int
	for i := 0; i < 4; i++ {
		order = append(order, p.Pick().ID())
	}
	if order[0] != 0 || order[1] != 1 || order[2] != 2 || order[3] != 0 {
		t.Fatalf("picks %v, want [0 1 2 0]", order)
	}
	p.Centers()[1].AddLoad(-1)
	if got := p.Pick().ID(); got != 1 {
		t.Fatalf("after release pick %d, want 1", got)
	}
}

type noRuntime struct{}

func (noRuntime) Start(*event.Center) {}
func (noRuntime) Stop(*event.Center)  {}

// TestTimerMovesMatchDeleteAndCreate checks ResetTimeEvent against its definition: random
// creations, moves (later, as an idle deadline moves, and earlier), deletions and clock
// advances run on a center and on a model where a move deletes the event and creates it anew
// (new creation order). Which events run at each step, in which order, what NextTimer and
// Pending say, and which ids are still pending must agree. Moves later are deferred in the
// center's heap (the lazy deadline); a center that ran a deferred event at its old time, or
// kept its old place among events due at the same instant, fails here.
//
// With more creates than deletions the center holds dozens of events, past the count at which
// it indexes them by id (a map) instead of searching them: both ways are checked.
func TestTimerMovesMatchDeleteAndCreate(t *testing.T) {
	for _, creates := range []int{2, 5} {
		if most := testTimerMoves(t, creates); creates == 5 && most <= 32 {
			t.Fatalf("at most %d pending events: the indexed lookup was not exercised", most)
		}
	}
}

// testTimerMoves runs TestTimerMovesMatchDeleteAndCreate with creates in 10 operations being
// creations; it returns the most events pending at once.
func testTimerMoves(t *testing.T, creates int) (most int) {
	type modelTimer struct {
		at    time.Duration
		order int
		name  int
	}
	for seed := uint64(1); seed <= 200; seed++ {
		r := detrand.NewSeeded(seed)
		c, clock, _, _ := newSimCenter(t)
		model := map[event.TimerID]*modelTimer{}
		order := 0
		var ran []int
		names := 0
		create := func(at time.Duration) {
			names++
			name := names
			id := c.CreateTimeEventAt(at, func() { ran = append(ran, name) })
			order++
			model[id] = &modelTimer{at: at, order: order, name: name}
		}
		anyID := func() (event.TimerID, bool) {
			var ids []event.TimerID
			for id := range model {
				ids = append(ids, id)
			}
			if len(ids) == 0 {
				return 0, false
			}
			slices.Sort(ids)
			return ids[r.IntN(len(ids))], true
		}
		for op := 0; op < 300; op++ {
			now := clock.Now()
			at := now + time.Duration(r.IntN(8))*time.Millisecond
			most = max(most, len(model))
			switch k := r.IntN(10); {
			case k < creates:
				create(at)
			case k < creates+4: // a move, later or earlier
				if id, ok := anyID(); ok {
					nid, moved := c.ResetTimeEvent(id, at)
					if !moved || nid != id {
						t.Fatalf("seed %d: ResetTimeEvent(%d) = %d, %v", seed, id, nid, moved)
					}
					order++
					model[id].at, model[id].order = at, order
				}
			case k < creates+5:
				if id, ok := anyID(); ok {
					c.DeleteTimeEvent(id)
					delete(model, id)
				}
			default:
				clock.AdvanceTo(now + time.Duration(r.IntN(3))*time.Millisecond)
				now = clock.Now()
				var due []*modelTimer
				var next time.Duration = -1
				for id, m := range model {
					if m.at <= now {
						due = append(due, m)
						delete(model, id)
					} else if next < 0 || m.at < next {
						next = m.at
					}
				}
				slices.SortFunc(due, func(a, b *modelTimer) int {
					if a.at != b.at {
						return int(a.at - b.at)
					}
					return a.order - b.order
				})
				if got := c.Pending(); got != (len(due) > 0) {
					t.Fatalf("seed %d op %d: Pending %v with %d due", seed, op, got, len(due))
				}
				ran = ran[:0]
				if _, err := c.Step(0); err != nil {
					t.Fatal(err)
				}
				if len(ran) != len(due) {
					t.Fatalf("seed %d op %d: ran %v, want %d events", seed, op, ran, len(due))
				}
				for i, m := range due {
					if ran[i] != m.name {
						t.Fatalf("seed %d op %d: ran %v, event %d at %d", seed, op, ran, m.name, i)
					}
				}
				at, ok := c.NextTimer()
				if ok != (next >= 0) || (ok && at != next) {
					t.Fatalf("seed %d op %d: NextTimer %v %v, want %v", seed, op, at, ok, next)
				}
			}
		}
	}
	return most
}

// TestManyFileEvents watches more descriptors than the center searches linearly (it indexes
// them by fd beyond that), removes and re-adds some, and checks that every readiness reaches
// the handler of its own descriptor and every mask is the one set.
func TestManyFileEvents(t *testing.T) {
	c, _, n, h := newSimCenter(t)
	if _, err := h.Listen(netip.MustParseAddrPort("10.0.0.1:7000"), 0); err != nil {
		t.Fatal(err)
	}
	var socks []netio.Socket
	for range 40 {
		s, err := h.Connect(netip.MustParseAddrPort("10.0.0.1:7000"))
		if err != nil {
			t.Fatal(err)
		}
		socks = append(socks, s)
	}
	for i := 0; i < 100 && n.Runnable() > 0; i++ {
		n.Run(0)
	}
	got := map[int]int{}
	watch := func(s netio.Socket) {
		fd := s.FD()
		if err := c.CreateFileEvent(fd, netio.Write, func(at int, ev netio.Events) {
			if at != fd || ev != netio.Write {
				t.Errorf("handler of fd %d called for fd %d, %v", fd, at, ev)
			}
			got[fd]++
		}); err != nil {
			t.Fatal(err)
		}
	}
	step := func(want map[int]bool) {
		t.Helper()
		clear(got)
		if _, err := c.Step(0); err != nil {
			t.Fatal(err)
		}
		for _, s := range socks {
			fd := s.FD()
			wantMask := netio.Events(0)
			if want[fd] {
				wantMask = netio.Write
			}
			if c.FileMask(fd) != wantMask {
				t.Fatalf("fd %d: mask %v, want %v", fd, c.FileMask(fd), wantMask)
			}
			if w := map[bool]int{true: 1}[want[fd]]; got[fd] != w {
				t.Fatalf("fd %d: handled %d times in a step, want %d", fd, got[fd], w)
			}
		}
	}
	want := map[int]bool{}
	for _, s := range socks {
		watch(s)
		want[s.FD()] = true
	}
	step(want)
	for i, s := range socks {
		if i%3 != 1 {
			continue
		}
		if err := c.DeleteFileEvent(s.FD(), netio.Write); err != nil {
			t.Fatal(err)
		}
		delete(want, s.FD())
	}
	step(want)
	for i := len(socks) - 1; i >= 0; i-- { // the other way round, some re-added
		if i%3 == 1 && i%2 == 0 {
			watch(socks[i])
			want[socks[i].FD()] = true
		} else if i%5 == 0 && want[socks[i].FD()] {
			if err := c.DeleteFileEvent(socks[i].FD(), netio.Read|netio.Write); err != nil {
				t.Fatal(err)
			}
			delete(want, socks[i].FD())
		}
	}
	step(want)
	for _, s := range socks {
		if err := c.DeleteFileEvent(s.FD(), netio.Write); err != nil {
			t.Fatal(err)
		}
	}
	step(map[int]bool{})
}

type choreFunc func(now time.Duration)

func (f choreFunc) RunChore(now time.Duration) { f(now) }

// A chore runs at the end of the first step at or after its time, in the order chores were
// added; it never makes a center pending nor moves its next timer, so in a simulation it
// rides on steps that happen anyway. A chore added by a chore runs at a later step.
func TestChoresRideOnSteps(t *testing.T) {
	c, clock, _, _ := newSimCenter(t)
	var got []string
	c.AddChore(5*time.Millisecond, choreFunc(func(now time.Duration) {
		got = append(got, fmt.Sprintf("a@%v", now))
		c.AddChore(now, choreFunc(func(now time.Duration) { got = append(got, fmt.Sprintf("c@%v", now)) }))
	}))
	c.AddChore(9*time.Millisecond, choreFunc(func(now time.Duration) { got = append(got, fmt.Sprintf("late@%v", now)) }))
	c.AddChore(2*time.Millisecond, choreFunc(func(now time.Duration) { got = append(got, fmt.Sprintf("b@%v", now)) }))
	c.CreateTimeEvent(time.Millisecond, func() { got = append(got, "timer") })
	if at, ok := c.NextTimer(); !ok || at != time.Millisecond {
		t.Fatalf("NextTimer = %v %v, want the timer's 1ms", at, ok)
	}
	step := func() {
		t.Helper()
		if _, err := c.Step(0); err != nil {
			t.Fatal(err)
		}
	}
	step() // at 0: nothing due
	clock.AdvanceTo(6 * time.Millisecond)
	step() // the timer, then a and b (due), in the order added; c was added by a: not yet
	if want := []string{"timer", "a@6ms", "b@6ms"}; !slices.Equal(got, want) {
		t.Fatalf("after the step at 6ms: %v, want %v", got, want)
	}
	if c.Pending() {
		t.Fatal("a due chore made the center pending")
	}
	if _, ok := c.NextTimer(); ok {
		t.Fatal("chores show as timers")
	}
	step()
	if want := []string{"timer", "a@6ms", "b@6ms", "c@6ms"}; !slices.Equal(got, want) {
		t.Fatalf("after the next step: %v, want %v", got, want)
	}
	clock.AdvanceTo(20 * time.Millisecond)
	if c.Pending() {
		t.Fatal("a due chore made the center pending")
	}
	step()
	step()
	if want := []string{"timer", "a@6ms", "b@6ms", "c@6ms", "late@20ms"}; !slices.Equal(got, want) {
		t.Fatalf("at the end: %v, want %v (each chore once)", got, want)
	}
}
