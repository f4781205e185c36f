package event

import (
	"slices"
	"sync"
)

// A simulation builds a messenger's centers anew for every run (a pool of workers and a
// dispatch center per messenger, three to a dozen messengers per run, hundreds of runs per
// second in FuzzSim): each center is a kilobyte of pointers for the allocator to clear and
// the collector to scan. A program that knows a center is no longer used by anything (the
// simulator, once a run is over: harness.Run.Release) gives it back with Recycle, and the
// centers created later in the process take their memory from the spares instead of
// allocating. A center is cleared when it is recycled, so that a recycled one holds nothing
// of its earlier life (nor keeps it from the collector), and is set up exactly as a new one
// when it is taken: whether its memory is new or recycled cannot be told apart.
var spareCenters centerSpares

type centerSpares struct {
	mu      sync.Mutex
	centers []*Center // cleared, each allocated alone (NewCenter)
	pools   []*Pool   // cleared centers; centers and names kept for the next pool of as many
}

// Bounds on the spares kept (a FuzzSim run recycles three messengers' worth).
const (
	maxSpareCenters = 64
	maxSparePools   = 64
)

// Recycle gives the center's memory to the centers created later in the process. Call it
// only once nothing will use c again: no runtime drives it, no goroutine, handler, timer or
// pointer of the caller's refers to it. A center of a pool is recycled with its pool
// (Pool.Recycle), never alone: Recycle does nothing for it.
func (c *Center) Recycle() {
	if c.pooled {
		return
	}
	*c = Center{}
	spareCenters.mu.Lock()
	if len(spareCenters.centers) < maxSpareCenters {
		spareCenters.centers = append(spareCenters.centers, c)
	}
	spareCenters.mu.Unlock()
}

// newCenterMem is a zero center: a recycled one, or a new one.
func newCenterMem() *Center {
	s := &spareCenters
	s.mu.Lock()
	var c *Center
	if k := len(s.centers) - 1; k >= 0 {
		c, s.centers[k] = s.centers[k], nil
		s.centers = s.centers[:k]
	}
	s.mu.Unlock()
	if c == nil {
		c = &Center{}
	}
	return c
}

// Recycle gives the pool's memory, its centers with it, to the pools created later in the
// process. Call it only once nothing will use the pool or any of its centers again (see
// Center.Recycle).
func (p *Pool) Recycle() {
	if len(p.centers) == 0 {
		return
	}
	for _, c := range p.centers {
		*c = Center{}
	}
	spareCenters.mu.Lock()
	if len(spareCenters.pools) < maxSparePools {
		spareCenters.pools = append(spareCenters.pools, p)
	}
	spareCenters.mu.Unlock()
}

// sparePool is a recycled pool of n cleared centers (the most recently recycled one), or nil.
func sparePool(n int) *Pool {
	s := &spareCenters
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := len(s.pools) - 1; k >= 0; k-- {
		if p := s.pools[k]; len(p.centers) == n {
			s.pools = slices.Delete(s.pools, k, k+1)
			return p
		}
	}
	return nil
}
