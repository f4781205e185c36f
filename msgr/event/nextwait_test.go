package event

import (
	"net/netip"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/simnet"
)

// TestNextWaitAfterStepUsesStepClock: the run loop's next wait, asked right after a step,
// measures the timeout to the next timer from that step's clock (no second clock read per
// wakeup); asked again without a step in between (a RawRead that begins after a park), it
// reads the clock. Reading the clock both times, or the step's clock both times, fails it.
func TestNextWaitAfterStepUsesStepClock(t *testing.T) {
	clock := simnet.NewClock()
	n := simnet.New(clock, detrand.NewSeeded(1), simnet.Config{})
	h := n.AddHost("h", netip.MustParseAddr("10.0.0.1"))
	c, err := NewCenter(0, "h/w0", h, detrand.NewSeeded(2))
	if err != nil {
		t.Fatal(err)
	}
	c.CreateTimeEventAt(10*time.Millisecond, func() {})
	c.handleWaited(0) // the step's clock: 0
	clock.AdvanceTo(3 * time.Millisecond)
	if _, d, at, _, _ := c.nextWait(); d != 10*time.Millisecond || at != 10*time.Millisecond {
		t.Fatalf("after a step: timeout %v to %v, want 10ms to 10ms (from the step's clock)", d, at)
	}
	if _, d, at, _, _ := c.nextWait(); d != 7*time.Millisecond || at != 10*time.Millisecond {
		t.Fatalf("no step since: timeout %v to %v, want 7ms to 10ms (from the clock)", d, at)
	}
	clock.AdvanceTo(12 * time.Millisecond)
	if _, d, _, _, _ := c.nextWait(); d != 0 {
		t.Fatalf("timer past due: timeout %v, want 0", d)
	}
}

// TestNextWaitOnlyDescriptor: the run loop's next wait names the center's watched descriptor
// and its mask while it watches exactly one, and none (FD -1) while it watches none or two,
// so that the poller never hands a wakeup to one descriptor when another may have caused it.
func TestNextWaitOnlyDescriptor(t *testing.T) {
	clock := simnet.NewClock()
	n := simnet.New(clock, detrand.NewSeeded(1), simnet.Config{})
	h := n.AddHost("h", netip.MustParseAddr("10.0.0.1"))
	c, err := NewCenter(0, "h/w0", h, detrand.NewSeeded(2))
	if err != nil {
		t.Fatal(err)
	}
	only := func() netio.Event {
		_, _, _, o, _ := c.nextWait()
		return o
	}
	if o := only(); o.FD != -1 {
		t.Fatalf("no descriptor watched: only %+v, want FD -1", o)
	}
	l, err := h.Listen(netip.MustParseAddrPort("10.0.0.1:7000"), 0)
	if err != nil {
		t.Fatal(err)
	}
	nop := func(int, netio.Events) {}
	if err := c.CreateFileEvent(l.FD(), netio.Read, nop); err != nil {
		t.Fatal(err)
	}
	if o := only(); o.FD != l.FD() || o.Events != netio.Read {
		t.Fatalf("one descriptor watched: only %+v, want fd %d for r", o, l.FD())
	}
	s, err := h.Connect(netip.MustParseAddrPort("10.0.0.1:7000"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateFileEvent(s.FD(), netio.Read|netio.Write, nop); err != nil {
		t.Fatal(err)
	}
	if o := only(); o.FD != -1 {
		t.Fatalf("two descriptors watched: only %+v, want FD -1", o)
	}
	if err := c.DeleteFileEvent(l.FD(), netio.Read); err != nil {
		t.Fatal(err)
	}
	if o := only(); o.FD != s.FD() || o.Events != netio.Read|netio.Write {
		t.Fatalf("one left: only %+v, want fd %d for rw", o, s.FD())
	}
}
