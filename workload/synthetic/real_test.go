//go:build linux

package synthetic_test

// The SyntheticWorkload over real epoll loopback TCP: the environment (realEnv), a driver in
// real time (runReal), and what a run reports (realReport). The soak and parity tests use them.

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/internal/leakcheck"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/netio/inject"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/workload/synthetic"
)

// realEnv puts every messenger on its own epoll stack (wrapped for socket failure injection
// when the workload asks) and goroutine runtime, bound to 127.0.0.1.
type realEnv struct {
	seed uint64
	wc   *lockedChecker

	mu   sync.Mutex
	rts  []*event.GoRuntime
	injs []*inject.Stack
}

var quiet = slog.New(slog.DiscardHandler)

func (e *realEnv) NewMessenger(s synthetic.Spec) (*msgr.Messenger, error) {
	var stack netio.Stack = epoll.New(epoll.Options{})
	var inj *inject.Stack
	if s.SocketFailures > 0 || s.InternalDelays > 0 {
		inj = inject.New(stack, inject.Options{SocketFailures: s.SocketFailures, InternalDelays: s.InternalDelays,
			Rand: detrand.NewSeeded(e.seed*7919 + uint64(s.Node.Index))})
		stack = inj
	}
	rt := &event.GoRuntime{Logger: quiet}
	cfg := s.Config
	cfg.Stack, cfg.Runtime, cfg.Logger, cfg.Tracer = stack, rt, quiet, e.wc.Trace
	cfg.Rand = detrand.NewSeeded(e.seed*1000003 + uint64(s.Node.Index))
	m, err := msgr.New(cfg)
	if err != nil {
		return nil, err
	}
	e.wc.AddNode(s.Node, m)
	e.mu.Lock()
	e.rts = append(e.rts, rt)
	if inj != nil {
		e.injs = append(e.injs, inj)
	}
	e.mu.Unlock()
	return m, nil
}

func (e *realEnv) BindIP(*synthetic.Node) netip.Addr { return netip.MustParseAddr("127.0.0.1") }

// injected is the number of socket failures injected so far.
func (e *realEnv) injected() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n uint64
	for _, s := range e.injs {
		n += s.Injected()
	}
	return n
}

// lockedChecker serializes a synthetic.Checker over real TCP, where every messenger's workers
// call Trace while the driver sends, drops connections and drains. It never holds its lock
// while asking a messenger something (messengers trace while holding their own locks): the
// queries (PeerSessions, Stranded) run before it locks.
type lockedChecker struct {
	mu sync.Mutex
	k  *synthetic.Checker
}

func (l *lockedChecker) AddNode(n *synthetic.Node, m *msgr.Messenger) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.k.AddNode(n, m)
}

func (l *lockedChecker) Sent(from, peer *synthetic.Node, c *msgr.Connection, m *msgr.Message, lossless bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.k.Sent(from, peer, c, m, lossless)
}

func (l *lockedChecker) NotSent(from *synthetic.Node, m *msgr.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.k.NotSent(from, m)
}

func (l *lockedChecker) Dispatched(to *synthetic.Node, c *msgr.Connection, m *msgr.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.k.Dispatched(to, c, m)
}

func (l *lockedChecker) MarkedDown(by, peer *synthetic.Node, c *msgr.Connection) {
	sessions := synthetic.PeerSessions(by, peer)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.k.ForgetMarkedDown(by, peer, c, sessions)
}

func (l *lockedChecker) Violation(name, detail string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.k.Violation(name, detail)
}

func (l *lockedChecker) Trace(ev msgr.TraceEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.k.Trace(ev)
}

func (l *lockedChecker) PendingLossless() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.k.PendingLossless()
}

func (l *lockedChecker) MissingLossless(n int) []check.Missing {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.k.MissingLossless(n)
}

func (l *lockedChecker) ForgiveStranded(nodes []*synthetic.Node) int {
	stranded := synthetic.Stranded(nodes)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.k.ForgiveOrphans(stranded)
	return len(stranded)
}

// realReport is what one real-time run did and found.
type realReport struct {
	cfg        synthetic.Config
	elapsed    time.Duration
	peakConns  int // most connections available to the workload at once
	sessions   int // sessions opened (connect and accept events)
	sent       int // messages sent (PINGs, PONGs, commands)
	dispatched int
	lossless   int // lossless messages sent
	lost       int // lossless messages lost, all accounted to resets or drops
	acked      int // lossless messages acknowledged (each checked against what the peer read)
	injected   uint64
	stats      synthetic.Stats
	violations []check.Violation
	leaked     []leakcheck.Goroutine
}

// outcome names the invariants a run violated, sorted, "" when it passed.
func (r realReport) outcome() string { return outcomeOf(r.violations) }

func (r realReport) String() string {
	return fmt.Sprintf("%v: %v, %d connections made (peak %d open at once), %d sessions opened, %d messages sent (%d lossless), %d dispatched, "+
		"%d lossless lost to resets/drops (unaccounted: %d), %d socket failures injected, %d violations",
		r.cfg.String(), r.elapsed.Round(time.Millisecond), r.stats.ConnsMade, r.peakConns, r.sessions, r.sent, r.lossless, r.dispatched,
		r.lost, countOf(r.violations, check.InvLosslessLoss), r.injected, len(r.violations))
}

func countOf(vs []check.Violation, name string) int {
	n := 0
	for _, v := range vs {
		if v.Name == name {
			n++
		}
	}
	return n
}

// runReal runs cfg over epoll loopback with seed: connections, operations (sleeping and
// waiting for real), a drain bounded by drain, a shutdown; then the end-of-run invariants
// and the goroutine leak check.
func runReal(t testing.TB, cfg synthetic.Config, seed uint64, drain time.Duration) realReport {
	t.Helper()
	leaks := leakcheck.Take()
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	k := check.NewChecker()
	wc := &lockedChecker{k: synthetic.NewChecker(k, now)}
	env := &realEnv{seed: seed, wc: wc}
	rep := realReport{cfg: cfg}
	wl, err := synthetic.New(cfg, env, wc, detrand.NewSeeded(seed))
	if err != nil {
		t.Fatal(err)
	}
	rep.cfg = wl.Config()
	wl.Seed(rep.cfg.InitialConns)
	rep.peakConns = operate(wl, rep.cfg, drain, wc)
	drainReal(wl, wc, drain)
	shutdownReal(t, wl, env)
	k.Finish(now())
	k.FinishFates(now()) // every messenger shut down: each message reported done exactly once
	auditReal(k, wl, now)
	rep.elapsed, rep.injected, rep.stats = time.Since(start), env.injected(), wl.Stats()
	rep.sessions = rep.stats.Connects + rep.stats.Accepts
	rep.sent, rep.dispatched = k.Counts()
	rep.lossless, rep.lost = k.LosslessCounts()
	_, rep.acked = k.AckCounts()
	rep.violations = k.Violations()
	rep.leaked = leaks.Leaked(10 * time.Second)
	return rep
}

// operate runs the workload's operations in real time; it returns the peak connection count.
func operate(wl *synthetic.Workload, cfg synthetic.Config, limit time.Duration, wc *lockedChecker) int {
	peak := wl.Connections()
	for i := 0; i < cfg.Ops; i++ {
		op := wl.Next()
		blockedSince := time.Now()
		for errors.Is(wl.Do(op), synthetic.ErrBlocked) {
			if time.Since(blockedSince) > limit {
				wc.Violation(check.InvNoProgress, fmt.Sprintf("op %d blocked for %v with %d PINGs pending", i, limit, wl.Pending()))
				return peak
			}
			time.Sleep(cfg.BlockedWait)
		}
		if op.Sleep > 0 {
			time.Sleep(op.Sleep)
		}
		peak = max(peak, wl.Connections())
	}
	return peak
}

// drainReal waits for every PING to be answered and every lossless message delivered.
func drainReal(wl *synthetic.Workload, wc *lockedChecker, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for wl.Pending() > 0 || wc.PendingLossless() > 0 {
		if wl.Pending() == 0 {
			wc.ForgiveStranded(wl.Nodes())
		}
		if time.Now().After(deadline) {
			wc.Violation(check.InvLiveness, fmt.Sprintf("drain: %d PINGs pending, %d lossless messages undelivered after %v: %s",
				wl.Pending(), wc.PendingLossless(), limit, describeMissing(wl, wc.MissingLossless(5))))
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// shutdownReal shuts every messenger down and waits for their goroutines.
func shutdownReal(t testing.TB, wl *synthetic.Workload, env *realEnv) {
	t.Helper()
	wl.Shutdown()
	for _, n := range wl.Nodes() {
		select {
		case <-n.M.Done():
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not finish shutting down", n.Name)
		}
	}
	env.mu.Lock()
	rts := append([]*event.GoRuntime(nil), env.rts...)
	env.mu.Unlock()
	for _, rt := range rts {
		rt.Wait()
	}
}

// auditReal checks what must hold once everything shut down: throttles back to zero, dispatch
// queues empty, registries empty.
func auditReal(k *check.Checker, wl *synthetic.Workload, now func() int64) {
	a := check.NewAuditor(k, now)
	for _, n := range wl.Nodes() {
		a.Add(n.Name, n.M)
	}
	a.AfterStep(nil)
}

// describeMissing says where undelivered messages are stuck: the sending connection's state.
func describeMissing(wl *synthetic.Workload, ms []check.Missing) string {
	var parts []string
	for _, m := range ms {
		where := "connection gone"
		for _, n := range wl.Nodes() {
			if n.Name != m.From {
				continue
			}
			for _, c := range n.M.Connections() {
				if c.ID() == m.Conn {
					out, in, cs, pgs := c.Seqs()
					where = fmt.Sprintf("%v peer %v out_seq %d in_seq %d cs %d pgs %d queued %d closed %v",
						c.State(), c.PeerAddr(), out, in, cs, pgs, c.Queued(), c.IsClosed())
				}
			}
		}
		parts = append(parts, fmt.Sprintf("%s->%s conn %d prio %d #%d (id %d, read by peer %v): %s",
			m.From, m.To, m.Conn, m.Prio, m.Index, m.ID, m.Received, where))
	}
	return strings.Join(parts, "; ")
}
