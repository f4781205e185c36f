package msgr

import "sync/atomic"

// Throttle is a non-blocking counting throttle with Ceph's admission rule: a request that
// fits is admitted; one larger than the maximum is admitted while the count is at most the
// maximum (so it is serialised rather than refused). A maximum of 0 means unlimited. Safe for
// concurrent use.
type Throttle struct {
	max int64
	cur atomic.Int64
	_   [48]byte // a cache line of its own: the dispatch throttle is taken and put for every message by every center
}

// NewThrottle returns a throttle with the given maximum (0: unlimited).
func NewThrottle(max int64) *Throttle { return &Throttle{max: max} }

// TryGet takes n units if Ceph's rule admits them now.
func (t *Throttle) TryGet(n int64) bool {
	for {
		cur := t.cur.Load()
		if t.shouldWait(cur, n) {
			return false
		}
		if t.cur.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

func (t *Throttle) shouldWait(cur, n int64) bool {
	if t.max == 0 {
		return false
	}
	return (n <= t.max && cur+n > t.max) || (n >= t.max && cur > t.max)
}

// Put returns n units. Returning more than was taken is a bug and panics.
func (t *Throttle) Put(n int64) {
	if t.cur.Add(-n) < 0 {
		panic("msgr: throttle released more than it held")
	}
}

// Current is the number of units held.
func (t *Throttle) Current() int64 { return t.cur.Load() }

// Max is the throttle's maximum (0: unlimited).
func (t *Throttle) Max() int64 { return t.max }
