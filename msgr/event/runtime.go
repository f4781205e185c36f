package event

import (
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/netio"
)

// Runtime decides who drives a center. The messenger hands every center it creates to its
// runtime and never steps one itself.
type Runtime interface {
	// Start begins driving c.
	Start(c *Center)
	// Stop ends driving c after its current step. It must not block: it may be called from
	// c's own goroutine.
	Stop(c *Center)
}

// GoRuntime is the production runtime: one goroutine per center, running Center.Run.
type GoRuntime struct {
	// Logger receives loop errors; nil means slog.Default().
	Logger *slog.Logger
	wg     sync.WaitGroup
}

// Start runs c on a new goroutine until Stop.
func (r *GoRuntime) Start(c *Center) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := c.Run(); err != nil {
			r.logger().Error("event loop stopped", "center", c.Name(), "err", err)
		}
		if err := c.Close(); err != nil {
			r.logger().Error("close poller", "center", c.Name(), "err", err)
		}
	}()
}

// Stop asks c's goroutine to return; it closes c's poller on its way out.
func (r *GoRuntime) Stop(c *Center) { c.Stop() }

// Wait blocks until every center started by r has stopped.
func (r *GoRuntime) Wait() { r.wg.Wait() }

func (r *GoRuntime) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// Pool is a fixed set of centers (Ceph's workers, ms_async_op_threads of them).
type Pool struct {
	centers []*Center
	// The name the centers' names were built from, and all of them in one string
	// ("osd.0/w0osd.0/w1..."): a recycled pool reuses them for a pool of the same name.
	name, names string
}

// DefaultWorkers is Ceph's default ms_async_op_threads.
const DefaultWorkers = 3

// NewPool creates n centers named "<name>/w<i>" on stack, each with a random source forked from
// rand, and starts them on rt.
func NewPool(name string, n int, stack netio.Stack, rt Runtime, rand *detrand.Rand) (*Pool, error) {
	if n <= 0 {
		n = DefaultWorkers
	}
	// The centers in one array, their names in one string: a simulation builds pools by the
	// dozen per run. A recycled pool of as many centers (Pool.Recycle) is taken first.
	p := sparePool(n)
	if p == nil {
		p = &Pool{centers: make([]*Center, n)}
		mem := make([]Center, n)
		for i := range mem {
			p.centers[i] = &mem[i]
		}
	}
	if p.name != name || p.names == "" {
		names := make([]byte, 0, n*(len(name)+4))
		for i := range n {
			names = append(append(append(names, name...), "/w"...), strconv.Itoa(i)...)
		}
		p.name, p.names = name, string(names)
	}
	start := 0
	for i, c := range p.centers {
		cname := p.names[start : start+len(name)+2+len(strconv.Itoa(i))]
		start += len(cname)
		r := rand.Fork() // before the poller, as NewCenter's arguments are
		poller, err := stack.NewPoller()
		if err != nil {
			for _, c := range p.centers[:i] {
				_ = c.Close()
			}
			return nil, fmt.Errorf("event center %s: %w", cname, err)
		}
		c.init(i, cname, poller, stack.Clock(), r)
		c.pooled = true
	}
	for _, c := range p.centers {
		rt.Start(c)
	}
	return p, nil
}

// Centers lists the pool's centers in index order.
func (p *Pool) Centers() []*Center { return p.centers }

// Pick returns the least-loaded center (lowest index among equals) and counts one more
// connection on it; release it with AddLoad(-1).
func (p *Pool) Pick() *Center {
	best := p.centers[0]
	for _, c := range p.centers[1:] {
		if c.Load() < best.Load() {
			best = c
		}
	}
	best.AddLoad(1)
	return best
}

// Stop stops driving every center.
func (p *Pool) Stop(rt Runtime) {
	for _, c := range p.centers {
		rt.Stop(c)
	}
}

// Close releases every center's poller; call after the centers stopped.
func (p *Pool) Close() error { return p.closeAll() }

func (p *Pool) closeAll() error {
	var first error
	for _, c := range p.centers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
