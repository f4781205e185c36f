package inject

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/netio"
)

// Source decides which socket operations fail: Uint64N returns a uniformly random number in
// [0, n). A *math/rand/v2.Rand is one; the simulator passes its recorded random source.
type Source interface {
	Uint64N(n uint64) uint64
}

// Options configure a Stack.
type Options struct {
	// SocketFailures N > 0 fails one read or send attempt in N (ms_inject_socket_failures).
	SocketFailures uint64
	// Seed seeds the decisions when Rand is nil: with the same seed, the same sequence of
	// socket operations fails at the same places.
	Seed uint64
	// Rand, if not nil, decides which attempts fail instead of a source seeded with Seed.
	Rand Source
	// Controllable keeps the wrapper even with SocketFailures 0, so CutAll can be used.
	Controllable bool
	// InternalDelays > 0 blocks the messenger's center for that long at each internal delay
	// point (ms_inject_internal_delays; see netio.InternalDelayer). At DelayLearnedAddr the
	// delay happens only one time in SocketFailures, and never when SocketFailures is 0.
	InternalDelays time.Duration
	// Sleep blocks for a delay (nil: time.Sleep). Tests replace it to observe delays.
	Sleep func(time.Duration)
}

// Stack is a netio.Stack whose sockets fail on purpose.
type Stack struct {
	netio.Stack
	opts Options

	mu       sync.Mutex // guards rand, socks and delaysAt
	rand     Source
	socks    []*socket
	delaysAt map[string]uint64
	injected atomic.Uint64
	rate     atomic.Uint64 // current 1-in-N rate (0: off)
	delay    atomic.Int64  // current internal delay (0: off)
	delays   atomic.Uint64
}

// Wrap returns s with injection, or s itself when nothing is to be injected.
func Wrap(s netio.Stack, opts Options) netio.Stack {
	if opts.SocketFailures == 0 && !opts.Controllable && opts.InternalDelays == 0 {
		return s
	}
	return New(s, opts)
}

// New always wraps s.
func New(s netio.Stack, opts Options) *Stack {
	var r Source = detrand.NewSeeded(opts.Seed)
	if opts.Rand != nil {
		r = opts.Rand
	}
	if opts.Sleep == nil {
		opts.Sleep = time.Sleep
	}
	st := &Stack{Stack: s, opts: opts, rand: r}
	st.rate.Store(opts.SocketFailures)
	st.delay.Store(int64(opts.InternalDelays))
	return st
}

// SetInternalDelays changes the internal delay (0 turns it off).
func (s *Stack) SetInternalDelays(d time.Duration) { s.delay.Store(int64(d)) }

// InternalDelays is the current internal delay (netio.InternalDelayer).
func (s *Stack) InternalDelays() time.Duration { return time.Duration(s.delay.Load()) }

// WriteChunk is the wrapped stack's (netio.ChunkedWriter), 0 when it has none: the messenger
// writes over injected failures as it would over the stack itself.
func (s *Stack) WriteChunk() int {
	if w, ok := s.Stack.(netio.ChunkedWriter); ok {
		return w.WriteChunk()
	}
	return 0
}

// Delays is the number of internal delays injected so far.
func (s *Stack) Delays() uint64 { return s.delays.Load() }

// DelaysAt is the number of internal delays injected so far at point.
func (s *Stack) DelaysAt(point string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delaysAt[point]
}

// InternalDelay blocks for the internal delay, if one is set (netio.InternalDelayer).
func (s *Stack) InternalDelay(point string) {
	d := time.Duration(s.delay.Load())
	if d <= 0 {
		return
	}
	if point == netio.DelayLearnedAddr && !s.fail() {
		return
	}
	s.delays.Add(1)
	s.mu.Lock()
	if s.delaysAt == nil {
		s.delaysAt = make(map[string]uint64)
	}
	s.delaysAt[point]++
	s.mu.Unlock()
	s.opts.Sleep(d)
}

// SetSocketFailures changes the failure rate to 1 in n (0 turns random failures off).
func (s *Stack) SetSocketFailures(n uint64) { s.rate.Store(n) }

// Injected is the number of failures injected so far (random ones and cuts).
func (s *Stack) Injected() uint64 { return s.injected.Load() }

// Listen wraps the sockets the listener accepts.
func (s *Stack) Listen(addr netip.AddrPort, backlog int) (netio.Listener, error) {
	l, err := s.Stack.Listen(addr, backlog)
	if err != nil {
		return nil, err
	}
	return &listener{Listener: l, s: s}, nil
}

// Connect wraps the connecting socket.
func (s *Stack) Connect(addr netip.AddrPort) (netio.Socket, error) {
	so, err := s.Stack.Connect(addr)
	if err != nil {
		return nil, err
	}
	return s.track(so), nil
}

// CutAll shuts down every live socket now: each connection faults on its next I/O.
func (s *Stack) CutAll() int {
	s.mu.Lock()
	socks := s.socks
	s.socks = nil
	s.mu.Unlock()
	n := 0
	for _, so := range socks {
		if so.cut() {
			n++
		}
	}
	return n
}

func (s *Stack) track(so netio.Socket) *socket {
	w := &socket{Socket: so, s: s}
	s.mu.Lock()
	s.socks = append(s.socks, w)
	s.mu.Unlock()
	return w
}

func (s *Stack) untrack(w *socket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.socks {
		if x == w {
			s.socks = append(s.socks[:i], s.socks[i+1:]...)
			return
		}
	}
}

// fail reports whether this attempt should fail (one in SocketFailures).
func (s *Stack) fail() bool {
	n := s.rate.Load()
	if n == 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rand.Uint64N(n) == n-1 // word 0: no failure
}

type listener struct {
	netio.Listener
	s *Stack
}

func (l *listener) Accept() (netio.Socket, error) {
	so, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.s.track(so), nil
}

type socket struct {
	netio.Socket
	s *Stack

	// mu orders a cut (CutAll runs on any goroutine) against Close on the owner's: once the
	// descriptor is closed its number may belong to another socket, which a late shutdown
	// would break.
	mu     sync.Mutex
	closed bool
	broken bool
}

// cut shuts the socket down in both directions, once, unless it is already closed.
func (w *socket) cut() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.broken {
		return false
	}
	w.broken = true
	w.s.injected.Add(1)
	_ = w.Socket.Shutdown(netio.ShutReadWrite)
	return true
}

func (w *socket) Read(p []byte) (int, error) {
	if w.s.fail() {
		w.cut()
	}
	return w.Socket.Read(p)
}

func (w *socket) Writev(bufs [][]byte) (int, error) {
	if w.s.fail() {
		w.cut()
	}
	return w.Socket.Writev(bufs)
}

func (w *socket) Close() error {
	w.s.untrack(w)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return w.Socket.Close()
}
