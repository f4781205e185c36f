package msgr

import "sync"

// A simulation builds its messengers anew for every run and drops them at its end: three to a
// dozen messengers per run, each with its centers, its connections and their protocol cores,
// a few tens of kilobytes of pointers per FuzzSim execution for the allocator to clear and the
// collector to scan. A Recycler lets the program that knows when all of that is unused again
// (the simulator, once a run is over and its result taken) give the memory to the messengers
// created after it in the process. Recycled memory is cleared when it is given back, so that
// it holds nothing of the run it served (nor keeps that run from the collector), and a
// messenger or connection built from it is set up exactly as a new one: whether it is new or
// recycled cannot be told apart, and a run does not depend on the runs before it.

// Recycler collects the messengers created with it (Config.Recycler), and Recycle gives their
// memory, their connections' and their event centers' (not a shared Config.Pool's) to the
// messengers created later in the process. The zero value is ready to use; a Recycler must not
// be copied.
type Recycler struct {
	mu  sync.Mutex
	ms  []*Messenger
	arr [4]*Messenger // ms's first array
}

// add collects m.
func (r *Recycler) add(m *Messenger) {
	r.mu.Lock()
	if r.ms == nil {
		r.ms = r.arr[:0]
	}
	r.ms = append(r.ms, m)
	r.mu.Unlock()
}

// Recycle gives the memory of every messenger created with r since the last Recycle to the
// messengers created later, and forgets them. Call it only once nothing will use those
// messengers again, nor any of their connections, messages in flight, event centers or
// pollers: no goroutine runs any of their centers (a simulated runtime that no longer
// steps them, or a GoRuntime after Wait), and no pointer of the caller's refers to any of
// them. Using one afterwards is a use after free.
func (r *Recycler) Recycle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, m := range r.ms {
		m.recycle()
		r.ms[i] = nil
	}
	r.ms = r.ms[:0]
}

// spareMem keeps recycled messengers and connections, cleared, for New and newConnection.
var spareMem memSpares

type memSpares struct {
	mu    sync.Mutex
	ms    []*Messenger
	conns []*Connection
}

// Bounds on the recycled memory kept.
const (
	maxSpareMessengers = 32
	maxSpareConns      = 128
)

// recycle clears m and gives it, its connections and its centers to the spares. m keeps its
// maps and slices (cleared, and empty) and its dispatch throttle for the next messenger.
func (m *Messenger) recycle() {
	if !m.shared && m.pool != nil {
		m.pool.Recycle()
	}
	if m.dq != nil && m.dq.center != nil {
		m.dq.center.Recycle()
	}
	for _, c := range m.made {
		c.recycle()
	}
	conns, policies, throttles := m.conns, m.policies, m.throttles
	clear(conns)
	clear(policies)
	clear(throttles)
	made, all, types := m.made[:cap(m.made)], m.all[:cap(m.all)], m.throttleTypes[:cap(m.throttleTypes)]
	clear(made)
	clear(all)
	clear(types)
	bufCaches, traffic := m.bufCaches[:cap(m.bufCaches)], m.counters.traffic[:cap(m.counters.traffic)]
	clear(bufCaches)
	clear(traffic)
	dthrot := m.dthrot
	if dthrot != nil {
		*dthrot = Throttle{}
	}
	*m = Messenger{}
	m.conns, m.policies, m.throttles = conns, policies, throttles
	m.made, m.all, m.throttleTypes = made[:0], all[:0], types[:0]
	m.bufCaches, m.counters.traffic = bufCaches[:0], traffic[:0]
	m.dthrot = dthrot
	keepSpare(&spareMem.mu, &spareMem.ms, m, maxSpareMessengers)
}

// newMessengerMem is a zero messenger, possibly with the maps and slices of a recycled one
// (cleared).
func newMessengerMem() *Messenger {
	if m := popSpare(&spareMem.mu, &spareMem.ms); m != nil {
		return m
	}
	return &Messenger{}
}

// recycle clears c and gives it to the spares. c keeps its bound method values: they are
// bound to c itself, as a new connection in its place would bind them.
func (c *Connection) recycle() {
	flush, keepalive, timer, onFile, release, settle := c.flushFn, c.keepaliveFn, c.timerFn, c.onFileFn, c.releaseFn, c.settleFn
	*c = Connection{}
	c.flushFn, c.keepaliveFn, c.timerFn, c.onFileFn, c.releaseFn, c.settleFn = flush, keepalive, timer, onFile, release, settle
	keepSpare(&spareMem.mu, &spareMem.conns, c, maxSpareConns)
}

// newConnectionMem is a zero connection (but for its bound method values): a recycled one,
// or a new one.
func newConnectionMem() *Connection {
	if c := popSpare(&spareMem.mu, &spareMem.conns); c != nil {
		return c
	}
	return &Connection{}
}
