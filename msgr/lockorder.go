package msgr

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
)

// The messenger's lock protocol (see the package documentation): every mutex has a rank, and a
// goroutine holding a lock may only take locks of a higher rank. The one exception is the
// accept decision: an acceptor's center, holding the acceptor's connection lock, takes the
// lock of the session registered for the peer's address (Ceph's handle_connect_message
// locking "existing"), through lockExisting.
type lockRank uint8

const (
	rankConn      lockRank = iota + 1 // Connection.mu: protocol core and socket state
	rankMessenger                     // Messenger.mu: lifecycle, registry, policies
	rankDispatch                      // dispatchQueue.mu: the queued messages and events
	rankPending                       // Connection.pmu: messages sent, not yet in the core
)

func (r lockRank) String() string {
	switch r {
	case rankConn:
		return "Connection.mu"
	case rankMessenger:
		return "Messenger.mu"
	case rankDispatch:
		return "dispatchQueue.mu"
	case rankPending:
		return "Connection.pmu"
	}
	return "lock(" + strconv.Itoa(int(r)) + ")"
}

// rankedMutex is a sync.Mutex with a rank. While lockOrderCheck is on (tests), every
// acquisition is checked against the locks its goroutine holds; otherwise it costs one
// predictable branch.
type rankedMutex struct {
	mu   sync.Mutex
	rank lockRank
}

// lockOrderCheck turns the lock-order checker on. Tests set it before starting any goroutine.
var lockOrderCheck bool

func (l *rankedMutex) Lock() {
	if lockOrderCheck {
		order.acquire(l, false)
	}
	l.mu.Lock()
}

func (l *rankedMutex) Unlock() {
	if lockOrderCheck {
		order.release(l)
	}
	l.mu.Unlock()
}

// tryLock takes l if it is free and reports whether it did. It never waits, so it cannot be
// part of a deadlock: the checker records it without checking its rank (a sender holding
// another connection's lock from a Tracer may try a connection's lock).
func (l *rankedMutex) tryLock() bool {
	if !l.mu.TryLock() {
		return false
	}
	if lockOrderCheck {
		order.record(l)
	}
	return true
}

// lockExisting takes the lock of the registered session while the acceptor's is held.
func (l *rankedMutex) lockExisting() {
	if lockOrderCheck {
		order.acquire(l, true)
	}
	l.mu.Lock()
}

// lockOrder records, per goroutine, the ranked locks it holds.
type lockOrder struct {
	mu   sync.Mutex
	held map[uint64][]*rankedMutex
	buf  [64]byte // goroutineID's scratch (guarded by mu: the checker does not allocate)
}

var order = lockOrder{held: map[uint64][]*rankedMutex{}}

// acquire checks that the calling goroutine may take l now, and records it. A violation
// panics: it is a bug of the messenger, found whether or not a deadlock happened this time.
func (o *lockOrder) acquire(l *rankedMutex, existing bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	g := o.goroutineID()
	held := o.held[g]
	if err := mayAcquire(held, l, existing); err != nil {
		panic(fmt.Sprintf("msgr: lock order: %v", err))
	}
	o.held[g] = append(held, l)
}

// record notes that the calling goroutine holds l, taken without waiting (tryLock).
func (o *lockOrder) record(l *rankedMutex) {
	o.mu.Lock()
	defer o.mu.Unlock()
	g := o.goroutineID()
	o.held[g] = append(o.held[g], l)
}

// mayAcquire states the lock protocol: ranks strictly increase, except that an acceptor
// holding its own connection lock (and nothing else) may take the lock of one other
// connection, the existing session.
func mayAcquire(held []*rankedMutex, l *rankedMutex, existing bool) error {
	top := lockRank(0)
	for _, h := range held {
		if h == l {
			return fmt.Errorf("%v taken twice by one goroutine", l.rank)
		}
		top = max(top, h.rank)
	}
	switch {
	case existing && (l.rank != rankConn || len(held) != 1 || held[0].rank != rankConn):
		return fmt.Errorf("the existing session's %v taken while holding %v (only an acceptor holding its own connection lock, and nothing else, may)", l.rank, ranks(held))
	case existing:
		return nil
	case l.rank <= top:
		return fmt.Errorf("%v taken while holding %v", l.rank, ranks(held))
	}
	return nil
}

func (o *lockOrder) release(l *rankedMutex) {
	o.mu.Lock()
	defer o.mu.Unlock()
	g := o.goroutineID()
	held := o.held[g]
	for i := len(held) - 1; i >= 0; i-- {
		if held[i] == l {
			held = append(held[:i], held[i+1:]...)
			break
		}
	}
	o.held[g] = held // kept when empty: the checker does not allocate on a goroutine's next lock
}

func ranks(held []*rankedMutex) []string {
	out := make([]string, len(held))
	for i, h := range held {
		out[i] = h.rank.String()
	}
	return out
}

// goroutineID parses the calling goroutine's number from its stack header ("goroutine 18
// [running]:"); o.mu is held. Only the lock-order checker uses it, in tests.
func (o *lockOrder) goroutineID() uint64 {
	b := o.buf[:runtime.Stack(o.buf[:], false)]
	const prefix = "goroutine "
	if len(b) <= len(prefix) {
		return 0
	}
	b = b[len(prefix):]
	var id uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}
