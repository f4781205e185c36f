package simnet

import (
	"syscall"
	"time"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// file is what a descriptor refers to: a *Socket or a *Listener.
type file interface {
	watchOf() *watch
	// readiness returns what the file is ready for and whether that must be reported
	// whatever the interest mask (an error or hang-up, which epoll reports unasked).
	readiness() (ev netio.Events, forced bool)
}

// watch is the descriptor and poller registration of a file.
type watch struct {
	fd     int
	poller *Poller      // nil when not watched
	mask   netio.Events // interest
	queued bool         // listed in poller.ready
}

// live returns the poller watching the file, or nil if none or it was closed.
func (w *watch) live() *Poller {
	if w.poller == nil || w.poller.closed {
		return nil
	}
	return w.poller
}

// pollEvents is what Wait reports for f: its readiness within its interest mask, or
// Read|Write for an error or hang-up.
func pollEvents(f file) netio.Events {
	ev, forced := f.readiness()
	if forced {
		return netio.Read | netio.Write
	}
	return ev & f.watchOf().mask
}

// notify brings f's membership in its poller's ready list up to date. Every state change that
// can alter a file's readiness calls it, so Wait and HasReady never scan idle files.
func notify(f file) {
	if s, ok := f.(*Socket); ok {
		s.notify()
		return
	}
	w := f.watchOf()
	p := w.live()
	if p == nil {
		return
	}
	w.update(p, f, pollEvents(f) != 0)
}

// notify is notify for a socket, without the interface calls (it runs after every read,
// write and delivery).
func (s *Socket) notify() {
	p := s.poller
	if p == nil || p.closed {
		return
	}
	ev, forced := s.readiness()
	s.update(p, s, forced || ev&s.mask != 0)
}

// update lists or unlists f, whose watch is w, in p's ready list as ready says.
func (w *watch) update(p *Poller, f file, ready bool) {
	switch {
	case ready && !w.queued:
		p.insert(f, w)
	case !ready && w.queued:
		p.remove(w)
	}
}

// Poller is a simulated epoll instance of one host. It implements netio.Poller. Readiness is
// level-triggered and computed from the socket buffers; the poller keeps the ready
// descriptors in a list sorted by fd, updated as state changes, so Wait and HasReady cost
// O(ready descriptors).
//
// Wait never blocks and ignores its timeout: in simulation the scheduler decides what runs.
// Wake is meant for the simulation goroutine itself (nothing here is safe for concurrent use).
type Poller struct {
	host    *Host
	ready   []readyFile // files with pollEvents != 0, ascending fd
	woken   bool
	closed  bool
	onReady func() // called when HasReady may have turned true (SetOnReady)
}

var _ netio.Poller = (*Poller)(nil)

// readyFile is an entry of a poller's ready list: the file and its descriptor (searched
// without calling through the interface).
type readyFile struct {
	fd int
	f  file
}

// Add starts watching fd for mask. The fd is looked up in the poller's own host, as in a
// real process: an fd not open there gives EBADF. An fd watched already, by this poller or
// another live one, gives EEXIST (a simnet socket can be watched by one poller at a time).
func (p *Poller) Add(fd int, mask netio.Events) error {
	if p.closed {
		return netio.ErrBadFD
	}
	f := p.host.file(fd)
	if f == nil {
		return netio.ErrBadFD
	}
	w := f.watchOf()
	if w.live() != nil {
		return syscall.EEXIST
	}
	w.poller, w.mask, w.queued = p, mask&(netio.Read|netio.Write), false
	notify(f)
	return nil
}

// Modify replaces the interest mask of fd. An fd that is open but not watched by this poller
// gives ENOENT; an fd not open gives EBADF.
func (p *Poller) Modify(fd int, mask netio.Events) error {
	if p.closed {
		return netio.ErrBadFD
	}
	f := p.host.file(fd)
	if f == nil {
		return netio.ErrBadFD
	}
	w := f.watchOf()
	if w.poller != p {
		return syscall.ENOENT
	}
	w.mask = mask & (netio.Read | netio.Write)
	notify(f)
	return nil
}

// Delete stops watching fd. Deleting an fd that this poller does not watch, including one
// already closed, is not an error (closing a descriptor unregisters it, as with epoll).
func (p *Poller) Delete(fd int) error {
	if p.closed {
		return netio.ErrBadFD
	}
	f := p.host.file(fd)
	if f == nil {
		return nil
	}
	w := f.watchOf()
	if w.poller != p {
		return nil
	}
	if w.queued {
		p.remove(w)
	}
	w.poller, w.mask = nil, 0
	return nil
}

// Wait stores the ready events of watched descriptors in evs, in ascending fd order, at most
// len(evs) of them, and consumes a pending Wake. It never blocks and ignores timeout. An
// empty evs gives EINVAL, as epoll_wait does.
func (p *Poller) Wait(evs []netio.Event, timeout time.Duration) (int, error) {
	_ = timeout // Deliberately ignored: the simulator decides when time passes.
	if p.closed {
		return 0, netio.ErrBadFD
	}
	if len(evs) == 0 {
		return 0, syscall.EINVAL
	}
	p.woken = false
	n := min(len(evs), len(p.ready))
	for i, r := range p.ready[:n] {
		var ev netio.Events
		if s, ok := r.f.(*Socket); ok {
			e, forced := s.readiness()
			ev = e & s.mask
			if forced {
				ev = netio.Read | netio.Write
			}
		} else {
			ev = pollEvents(r.f)
		}
		evs[i] = netio.Event{FD: r.fd, Events: ev}
	}
	return n, nil
}

// Wake makes the next Wait return even if nothing is ready (HasReady reports it). In
// simulation it must be called from the simulation goroutine.
func (p *Poller) Wake() error {
	if p.closed {
		return netio.ErrBadFD
	}
	p.woken = true
	if p.onReady != nil {
		p.onReady()
	}
	return nil
}

// SetOnReady sets fn to be called whenever HasReady may have turned true: a descriptor became
// ready or Wake was called. The simulator's scheduler keeps its set of runnable event centers
// with it instead of asking every center at every step.
func (p *Poller) SetOnReady(fn func()) { p.onReady = fn }

// HasReady reports whether Wait(evs, 0) would return at least one event, or a Wake is
// pending. The simulator uses it to find EventCenters with work.
func (p *Poller) HasReady() bool { return !p.closed && (len(p.ready) > 0 || p.woken) }

// Close releases the poller. The descriptors it watched become unwatched.
func (p *Poller) Close() error {
	if p.closed {
		return netio.ErrBadFD
	}
	p.closed = true
	for i, r := range p.ready {
		r.f.watchOf().queued = false
		p.ready[i] = readyFile{}
	}
	p.ready = nil
	return nil
}

// search returns the index of fd in the ready list, or where it would be inserted.
func (p *Poller) search(fd int) int {
	lo, hi := 0, len(p.ready)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if p.ready[mid].fd < fd {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func (p *Poller) insert(f file, w *watch) {
	i := p.search(w.fd)
	p.ready = append(p.ready, readyFile{})
	copy(p.ready[i+1:], p.ready[i:])
	p.ready[i] = readyFile{fd: w.fd, f: f}
	w.queued = true
	if p.onReady != nil {
		p.onReady()
	}
}

func (p *Poller) remove(w *watch) {
	i := p.search(w.fd)
	last := len(p.ready) - 1
	copy(p.ready[i:], p.ready[i+1:])
	p.ready[last] = readyFile{}
	p.ready = p.ready[:last]
	w.queued = false
}
