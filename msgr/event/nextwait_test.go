package event

import (
	"net/netip"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
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
