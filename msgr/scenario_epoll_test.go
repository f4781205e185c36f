//go:build linux

package msgr_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
)

// scEpoll runs a scenario over real loopback TCP: every messenger with its own epoll stack and
// goroutine runtime, bound to 127.0.0.1.
type scEpoll struct {
	t     *testing.T
	seed  uint64
	start time.Time
	tr    *tracer
	rng   *rand.Rand

	mu     sync.Mutex
	ms     []*msgr.Messenger
	rts    map[*msgr.Messenger]*event.GoRuntime
	stacks map[*msgr.Messenger]*faultStack
	down   map[*msgr.Messenger]bool
}

// epollWait bounds every WaitFor over real TCP.
const epollWait = 20 * time.Second

// epollSeeds numbers the epoll runs: every messenger of the process gets its own random
// source, hence its own nonce, so a messenger that takes over a port another one released
// is never mistaken for it.
var epollSeeds atomic.Uint64

func newScEpoll(t *testing.T, seed uint64) *scEpoll {
	e := &scEpoll{t: t, seed: seed, start: time.Now(), rng: rand.New(rand.NewPCG(seed, 0xe9011)),
		rts: make(map[*msgr.Messenger]*event.GoRuntime), stacks: make(map[*msgr.Messenger]*faultStack),
		down: make(map[*msgr.Messenger]bool)}
	e.tr = newTracer(t, func() time.Duration { return time.Since(e.start) })
	t.Cleanup(e.cleanup)
	return e
}

func (e *scEpoll) Desc() string {
	return fmt.Sprintf("epoll seed %d (t=%v)", e.seed, time.Since(e.start))
}
func (e *scEpoll) Sim() bool        { return false }
func (e *scEpoll) Rand() *rand.Rand { return e.rng }

func (e *scEpoll) Messenger(o msgrOpts) (*msgr.Messenger, *fakeDispatcher) {
	e.t.Helper()
	fs := newFaultStack(epoll.New(epoll.Options{}))
	rt := &event.GoRuntime{}
	cfg := o.config(o.name)
	e.mu.Lock()
	idx := uint64(len(e.ms))
	e.mu.Unlock()
	cfg.Stack, cfg.Runtime, cfg.Rand, cfg.Tracer = fs, rt, detrand.NewSeeded(e.seed*1000+idx), e.tr.trace
	m, err := msgr.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.ms = append(e.ms, m)
	e.rts[m], e.stacks[m] = rt, fs
	e.mu.Unlock()
	return m, o.setup(e.t, m, netip.MustParseAddr("127.0.0.1"), e.Desc())
}

func (e *scEpoll) Within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() { // cond may consume what it checks: true is returned at once
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Microsecond)
	}
	return true
}

func (e *scEpoll) WaitFor(what string, cond func() bool) {
	e.t.Helper()
	if !e.Within(epollWait, cond) {
		dumpConnections(e.t, e.messengers())
		e.t.Fatalf("%s: timed out waiting for %s", e.Desc(), what)
	}
}

func (e *scEpoll) Sleep(d time.Duration) { time.Sleep(d) }

func (e *scEpoll) FailSockets(a, b *msgr.Messenger) int {
	e.mu.Lock()
	sa, sb := e.stacks[a], e.stacks[b]
	e.mu.Unlock()
	return sa.failToward(sb.endpoints())
}

func (e *scEpoll) Faults(m *msgr.Messenger) []faultRec { return e.tr.faultsOf(m) }

func (e *scEpoll) messengers() []*msgr.Messenger {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*msgr.Messenger(nil), e.ms...)
}

func (e *scEpoll) Shutdown(ms ...*msgr.Messenger) {
	e.t.Helper()
	for _, m := range ms {
		m.Shutdown()
	}
	for _, m := range ms {
		select {
		case <-m.Done():
		case <-time.After(epollWait):
			dumpConnections(e.t, ms)
			e.t.Fatalf("%s: %v did not finish shutting down", e.Desc(), m.Name())
		}
		e.mu.Lock()
		rt := e.rts[m]
		e.down[m] = true
		e.mu.Unlock()
		rt.Wait()
	}
}

// cleanup shuts down what a scenario left running (after a failure, typically).
func (e *scEpoll) cleanup() {
	for _, m := range e.messengers() {
		e.mu.Lock()
		down, rt := e.down[m], e.rts[m]
		e.mu.Unlock()
		if down {
			continue
		}
		m.Shutdown()
		select {
		case <-m.Done():
			rt.Wait()
		case <-time.After(epollWait):
			e.t.Errorf("%v did not finish shutting down", m.Name())
		}
	}
}

// TestScenariosEpoll runs every test_msgr scenario once over real loopback TCP.
func TestScenariosEpoll(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			if sc.epollSkip != "" {
				t.Skip(sc.epollSkip)
			}
			t.Parallel()
			sc.run(t, newScEpoll(t, epollSeeds.Add(1)))
		})
	}
}
