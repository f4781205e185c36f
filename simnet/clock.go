package simnet

import (
	"fmt"
	"time"
)

// wallEpochUnix is the calendar time, in Unix seconds, at which every virtual clock starts.
const wallEpochUnix = 1700000000

// Clock is the virtual clock of a simulation. It implements netio.Clock. Time moves only when
// the simulator calls AdvanceTo, so a run's timing is a pure function of its seed.
type Clock struct {
	now time.Duration
}

// NewClock returns a clock at virtual time zero.
func NewClock() *Clock { return &Clock{} }

// Now returns the virtual time since the start of the simulation.
func (c *Clock) Now() time.Duration { return c.now }

// Wall returns the calendar time: time.Unix(1700000000, 0) plus Now.
func (c *Clock) Wall() time.Time { return time.Unix(wallEpochUnix, 0).Add(c.now) }

// AdvanceTo moves the clock forward to t. It panics if t is before Now: virtual time is
// monotonic, and a simulator that moves it backwards has a bug.
func (c *Clock) AdvanceTo(t time.Duration) {
	if t < c.now {
		panic(fmt.Sprintf("simnet: AdvanceTo(%v) before Now() %v", t, c.now))
	}
	c.now = t
}
