package msgr

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Errors returned by the Messenger API.
var (
	ErrNotStarted   = errors.New("msgr: messenger not started")
	ErrShutdown     = errors.New("msgr: messenger is shut down")
	ErrAlreadyBound = errors.New("msgr: messenger already bound")
	ErrNoFreePort   = errors.New("msgr: no free port in the bind range")
	ErrNotBound     = errors.New("msgr: messenger not bound")
	// ErrConnectionClosed: a message was sent on a connection that is closed.
	ErrConnectionClosed = errors.New("msgr: connection closed")
	// ErrTooManyConnections: an accepted socket was closed at once because the messenger
	// already had Config.MaxConnections live connections (logged and counted, never returned).
	ErrTooManyConnections = errors.New("msgr: too many connections")
)

type lifecycle uint8

const (
	stateCreated lifecycle = iota
	stateStarted
	stateReady
	stateShutdown
)

// Messenger is Ceph's AsyncMessenger: it owns the listener, the worker centers, the session
// registry, the policies and the dispatch queue.
type Messenger struct {
	cfg    Config
	log    *slog.Logger
	pcfg   proto.Config
	pool   *event.Pool
	shared bool // pool is Config.Pool: started and stopped by its owner
	dq     *dispatchQueue
	dqMem  dispatchQueue // what dq points to (one allocation with the messenger)
	dthrot *Throttle

	counters counters
	delayer  netio.InternalDelayer // the stack's internal delay injection, nil when off

	mu        rankedMutex // guards everything below (and Connection.regAddr); never held while calling a dispatcher
	state     lifecycle
	myAddr    wire.EntityAddr // legacy
	bound     bool
	learned   bool
	listener  *processor
	conns     map[wire.EntityAddr]*Connection // registered sessions by peer address
	all       []*Connection                   // every live connection, by id (the order they were created in)
	gen       atomic.Uint64                   // bumped when conns, all or a connection's closed state change (Generation)
	tgen      atomic.Uint64                   // bumped when the set of throttles changes (ThrottleGeneration)
	nextID    uint64
	globalSeq uint32
	policies  map[wire.EntityType]proto.Policy
	defPolicy proto.Policy
	throttles map[wire.EntityType]proto.Throttles
	// throttleTypes: the keys of throttles, sorted (introspection without allocating)
	throttleTypes []wire.EntityType
	dispatchers   []Dispatcher
	fast          []Dispatcher
	// The first backing arrays of dispatchers and fast, and the first dispatcherSet: a
	// messenger usually has one or two dispatchers. Appending in place is safe for the
	// snapshots: a snapshot never sees past its own length.
	dispatchArr [2]Dispatcher
	fastArr     [2]Dispatcher
	firstSet    dispatcherSet
	local       *Connection
	done        chan struct{}
	finished    atomic.Bool // set as done is closed: Finished, read after every simulator step, without a select
	bufCaches   []bufCache  // the free list of each worker center, by its index in the pool
	stopLeft    int         // workers yet to stop (stopCenters); guarded by mu

	rxFree   msgFree // released messages (see Release)
	dispatch atomic.Pointer[dispatcherSet]

	made []*Connection // every connection ever created, the local one too, when Config.Recycler is set
}

// dispatcherSet is an immutable snapshot of the dispatchers, read on every delivery without
// taking the messenger's lock.
type dispatcherSet struct {
	all, fast []Dispatcher
}

// New creates a messenger (Ceph's Messenger::create). Nothing runs until it is ready.
func New(cfg Config) (*Messenger, error) {
	if cfg.Stack == nil {
		return nil, errors.New("msgr: Config.Stack is required")
	}
	cfg.setDefaults()
	if cfg.Nonce == 0 && !cfg.ExplicitNonce {
		cfg.Nonce = cfg.Rand.Uint32() | 1
	}
	name := cfg.Name.String()
	log := cfg.Logger
	if log.Handler() != slog.DiscardHandler {
		log = log.With("msgr", name) // a discarding logger stays as it is: With would allocate
	}
	m := newMessengerMem() // zero, or recycled (Recycler): cleared, with its maps and slices
	m.cfg, m.log, m.pcfg = cfg, log, cfg.protoConfig()
	if m.conns == nil {
		m.conns = make(map[wire.EntityAddr]*Connection)
		m.policies = make(map[wire.EntityType]proto.Policy)
		m.throttles = make(map[wire.EntityType]proto.Throttles)
	}
	m.defPolicy = proto.DefaultPolicy()
	m.done = make(chan struct{})
	m.myAddr = wire.EntityAddr{Type: wire.AddrLegacy, Nonce: cfg.Nonce}
	m.mu.rank = rankMessenger
	m.dispatchers, m.fast = m.dispatchArr[:0], m.fastArr[:0]
	switch {
	case cfg.DispatchThrottleBytes <= 0:
		m.dthrot = nil
	case m.dthrot != nil: // a recycled messenger's
		*m.dthrot = Throttle{max: cfg.DispatchThrottleBytes}
	default:
		m.dthrot = NewThrottle(cfg.DispatchThrottleBytes)
	}
	m.delayer, _ = cfg.Stack.(netio.InternalDelayer)
	pool, err := m.workerPool(name)
	if err != nil {
		return nil, fmt.Errorf("msgr %v: %w", cfg.Name, err)
	}
	m.pool, m.shared = pool, cfg.Pool != nil
	n := len(pool.Centers())
	if cap(m.counters.traffic) >= n+1 { // a recycled messenger's, cleared
		m.counters.traffic = m.counters.traffic[:n+1]
	} else {
		m.counters.traffic = make([]trafficShard, n+1) // workers, then the dispatch center
	}
	if cap(m.bufCaches) >= n {
		m.bufCaches = m.bufCaches[:n]
	} else {
		m.bufCaches = make([]bufCache, n)
	}
	for i, c := range pool.Centers() {
		b := &m.bufCaches[i]
		b.center, b.holders = c, b.holdArr[:0]
	}
	dqc, err := event.NewCenter(len(pool.Centers()), name+"/dispatch", cfg.Stack, cfg.Rand.Fork())
	if err != nil {
		return nil, fmt.Errorf("msgr %v: %w", cfg.Name, err)
	}
	m.dq = initDispatchQueue(&m.dqMem, m, dqc)
	m.local = newLocalConnection(m)
	if cfg.Recycler != nil {
		cfg.Recycler.add(m)
	}
	return m, nil
}

// workerPool returns the shared pool of the configuration, or creates the messenger's own.
func (m *Messenger) workerPool(name string) (*event.Pool, error) {
	if m.cfg.Pool != nil {
		return m.cfg.Pool, nil
	}
	return event.NewPool(name, m.cfg.Workers, m.cfg.Stack, noRuntime{}, m.cfg.Rand)
}

// noRuntime defers starting centers until the messenger is ready.
type noRuntime struct{}

func (noRuntime) Start(*event.Center) {}
func (noRuntime) Stop(*event.Center)  {}

// Name is the messenger's entity name.
func (m *Messenger) Name() wire.EntityName { return m.cfg.Name }

// Config returns the messenger's configuration (with defaults filled in).
func (m *Messenger) Config() Config { return m.cfg }

// MyAddr is the messenger's legacy (v1) address.
func (m *Messenger) MyAddr() wire.EntityAddr {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.myAddr
}

// Centers lists the messenger's event centers (workers, then the dispatch center).
func (m *Messenger) Centers() []*event.Center {
	workers := m.pool.Centers()
	return append(append(make([]*event.Center, 0, len(workers)+1), workers...), m.dq.center)
}

// SetPolicy sets the policy for peers of type t. Call before Start.
func (m *Messenger) SetPolicy(t wire.EntityType, p proto.Policy) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.policies[t] = p
	m.setThrottlesLocked(t, p)
}

// SetDefaultPolicy sets the policy for peer types without their own.
func (m *Messenger) SetDefaultPolicy(p proto.Policy) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.defPolicy = p
}

// SetPolicyThrottlers sets the receive throttles for peers of type t (0: unlimited).
func (m *Messenger) SetPolicyThrottlers(t wire.EntityType, bytes, messages int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.policyLocked(t)
	p.ThrottlerBytes, p.ThrottlerMessages = bytes, messages
	m.policies[t] = p
	m.setThrottlesLocked(t, p)
}

func (m *Messenger) setThrottlesLocked(t wire.EntityType, p proto.Policy) {
	th := proto.Throttles{}
	if p.ThrottlerMessages > 0 {
		th.Messages = NewThrottle(p.ThrottlerMessages)
	}
	if p.ThrottlerBytes > 0 {
		th.Bytes = NewThrottle(p.ThrottlerBytes)
	}
	if _, seen := m.throttles[t]; !seen {
		i, _ := slices.BinarySearch(m.throttleTypes, t)
		m.throttleTypes = slices.Insert(m.throttleTypes, i, t)
	}
	m.throttles[t] = th
	m.tgen.Add(1)
}

func (m *Messenger) policyLocked(t wire.EntityType) proto.Policy {
	if p, ok := m.policies[t]; ok {
		return p
	}
	return m.defPolicy
}

// Policy returns the policy for peers of type t.
func (m *Messenger) Policy(t wire.EntityType) proto.Policy {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.policyLocked(t)
}

func (m *Messenger) policyAndThrottles(t wire.EntityType) (proto.Policy, proto.Throttles) {
	m.mu.Lock()
	defer m.mu.Unlock()
	th := m.throttles[t]
	if m.dthrot != nil {
		th.Dispatch = m.dthrot
	}
	return m.policyLocked(t), th
}

// Bind listens on addr (Ceph's bind). Port 0 picks the first free port of
// [BindPortMin, BindPortMax].
func (m *Messenger) Bind(addr netip.AddrPort) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.bound {
		return ErrAlreadyBound
	}
	if m.state == stateShutdown {
		return ErrShutdown
	}
	l, err := m.listen(addr)
	if err != nil {
		return fmt.Errorf("msgr %v: bind %v: %w", m.cfg.Name, addr, err)
	}
	m.listener = newProcessor(m, l)
	m.bound = true
	m.myAddr.Addr = l.Addr()
	return nil
}

// RebindNonceStep is what Rebind adds to the nonce (Ceph's rebind: nonce += 1,000,000).
const RebindNonceStep = 1_000_000

// Rebind moves the messenger to a new port on the same IP, as a restarted daemon would
// (Ceph's rebind): it stops listening, marks every connection down with a reset event, adds
// RebindNonceStep to the nonce, and binds again at the first free port of the bind range
// that is neither the current one nor in avoid. Peers see a new instance.
func (m *Messenger) Rebind(avoid ...uint16) error {
	m.mu.Lock()
	if !m.bound {
		m.mu.Unlock()
		return ErrNotBound
	}
	if m.state == stateShutdown {
		m.mu.Unlock()
		return ErrShutdown
	}
	old := m.listener
	avoid = append(avoid, m.myAddr.Port())
	m.mu.Unlock()
	old.stop()
	m.MarkDownAll()

	m.mu.Lock()
	defer m.mu.Unlock()
	ip := m.myAddr.Addr.Addr()
	l, err := m.listen(netip.AddrPortFrom(ip, 0), avoid...)
	if err != nil {
		m.bound, m.listener = false, nil
		return fmt.Errorf("msgr %v: rebind: %w", m.cfg.Name, err)
	}
	m.myAddr.Nonce += RebindNonceStep
	m.myAddr.Addr = l.Addr()
	m.listener = newProcessor(m, l)
	if m.state == stateReady {
		m.listener.start()
	}
	return nil
}

// listen listens on addr; port 0 takes the first free port of the bind range not in avoid.
func (m *Messenger) listen(addr netip.AddrPort, avoid ...uint16) (netio.Listener, error) {
	if addr.Port() != 0 {
		return m.cfg.Stack.Listen(addr, 0)
	}
	for port := m.cfg.BindPortMin; port <= m.cfg.BindPortMax && port != 0; port++ {
		if slices.Contains(avoid, port) {
			continue
		}
		l, err := m.cfg.Stack.Listen(netip.AddrPortFrom(addr.Addr(), port), 0)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, netio.ErrAddrInUse) {
			return nil, err
		}
	}
	return nil, ErrNoFreePort
}

// Start marks the messenger started (Ceph's start()).
func (m *Messenger) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == stateShutdown {
		return ErrShutdown
	}
	if m.state == stateCreated {
		m.state = stateStarted
	}
	return nil
}

// AddDispatcherHead adds d in front of the dispatchers; the first dispatcher makes the
// messenger ready.
func (m *Messenger) AddDispatcherHead(d Dispatcher) { m.addDispatcher(d, true) }

// AddDispatcherTail adds d after the dispatchers; the first dispatcher makes the messenger ready.
func (m *Messenger) AddDispatcherTail(d Dispatcher) { m.addDispatcher(d, false) }

func (m *Messenger) addDispatcher(d Dispatcher, head bool) {
	m.mu.Lock()
	first := len(m.dispatchers) == 0
	if head {
		m.dispatchers = append([]Dispatcher{d}, m.dispatchers...)
	} else {
		m.dispatchers = append(m.dispatchers, d)
	}
	if d.CanFastDispatchAny() {
		if head {
			m.fast = append([]Dispatcher{d}, m.fast...)
		} else {
			m.fast = append(m.fast, d)
		}
	}
	set := &m.firstSet
	if m.dispatch.Load() != nil {
		set = &dispatcherSet{} // a published set is immutable
	}
	set.all, set.fast = m.dispatchers, m.fast
	m.dispatch.Store(set)
	m.mu.Unlock()
	if first {
		m.ready()
	}
}

// ready starts the centers, the listener and the dispatch queue (Ceph's ready()).
func (m *Messenger) ready() {
	m.mu.Lock()
	if m.state != stateStarted {
		m.mu.Unlock()
		return
	}
	m.state = stateReady
	l := m.listener
	m.mu.Unlock()
	if !m.shared {
		for _, c := range m.pool.Centers() {
			m.cfg.Runtime.Start(c)
		}
	}
	m.cfg.Runtime.Start(m.dq.center)
	if l != nil {
		l.start()
	}
}

// dispatcherList returns the dispatchers (a snapshot, safe to iterate without the lock).
func (m *Messenger) dispatcherList() (all, fast []Dispatcher) {
	if d := m.dispatch.Load(); d != nil {
		return d.all, d.fast
	}
	return nil, nil
}

// nextGlobalSeq is Ceph's get_global_seq(old): raise the counter to old, then increment.
func (m *Messenger) nextGlobalSeq(atLeast uint32) uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.globalSeq = max(m.globalSeq, atLeast) + 1
	return m.globalSeq
}

// learnAddr fills a blank IP of our address from what a peer saw (Ceph's learned_addr).
func (m *Messenger) learnAddr(seen wire.EntityAddr) wire.EntityAddr {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.learned || m.cfg.NoLearnAddr || !m.myAddr.IsBlankIP() || !seen.Addr.IsValid() {
		return m.myAddr
	}
	m.learned = true
	m.myAddr.Addr = netip.AddrPortFrom(seen.Addr.Addr(), m.myAddr.Port())
	return m.myAddr
}

// ConnectTo returns the session with the peer at addr, creating and starting one when there is
// none (Ceph's connect_to). A connection to our own address is the local connection.
func (m *Messenger) ConnectTo(peerType wire.EntityType, addr wire.EntityAddr) (*Connection, error) {
	addr.Type = wire.AddrLegacy
	m.mu.Lock()
	if m.state == stateShutdown {
		m.mu.Unlock()
		return nil, ErrShutdown
	}
	if m.state == stateCreated {
		m.mu.Unlock()
		return nil, ErrNotStarted
	}
	if addr == m.myAddr {
		m.mu.Unlock()
		return m.local, nil
	}
	if c, ok := m.conns[addr]; ok && !canaryDupRegister() {
		m.mu.Unlock()
		return c, nil
	}
	c := m.newConnectorLocked(peerType, addr)
	m.conns[addr] = c
	m.gen.Add(1)
	m.mu.Unlock()
	c.center.Post(c.start)
	return c, nil
}

// ConnectToAnon creates a new connection to addr that is not registered, so it is never
// returned by ConnectTo nor found by the accept side (Ceph's connect_to with anon=true).
func (m *Messenger) ConnectToAnon(peerType wire.EntityType, addr wire.EntityAddr) (*Connection, error) {
	addr.Type = wire.AddrLegacy
	m.mu.Lock()
	if m.state != stateStarted && m.state != stateReady {
		m.mu.Unlock()
		if m.state == stateShutdown {
			return nil, ErrShutdown
		}
		return nil, ErrNotStarted
	}
	c := m.newConnectorLocked(peerType, addr)
	c.regAddr = wire.EntityAddr{}
	m.gen.Add(1)
	m.mu.Unlock()
	c.center.Post(c.start)
	return c, nil
}

// SendTo sends m to the peer at addr (Ceph's send_to).
func (m *Messenger) SendTo(msg *Message, peerType wire.EntityType, addr wire.EntityAddr) error {
	c, err := m.ConnectTo(peerType, addr)
	if err != nil {
		return err
	}
	return c.SendMessage(msg)
}

// LocalConnection is the loopback connection to ourselves.
func (m *Messenger) LocalConnection() *Connection { return m.local }

func (m *Messenger) newIDLocked() uint64 {
	m.nextID++
	return m.nextID
}

// lookup returns the registered session for addr.
func (m *Messenger) lookup(addr wire.EntityAddr) *Connection {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.conns[addr]
}

// register records c as the session for addr (Ceph's accept_conn). It fails when another live
// connection holds the address.
func (m *Messenger) register(c *Connection, addr wire.EntityAddr) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ex, ok := m.conns[addr]; ok && ex != c && !ex.isClosed() {
		return false
	}
	m.conns[addr] = c
	c.regAddr = addr
	m.gen.Add(1)
	return true
}

// forget removes c from the registry (its connection is closed): nobody finds it any more.
// It stays in the live set until retire.
func (m *Messenger) forget(c *Connection) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unregisterLocked(c)
}

// unregisterLocked removes c from the registry if it is the session registered for its address.
func (m *Messenger) unregisterLocked(c *Connection) {
	if m.conns[c.regAddr] == c && !canaryNoForget() {
		delete(m.conns, c.regAddr)
		m.gen.Add(1)
	}
}

// retire removes a closed connection from the live set, once its owning center has queued
// everything it had for the dispatchers (its last deliveries and events): a shut-down
// messenger drains its dispatch queue when the last connection retires, and nothing may be
// queued after that drain.
func (m *Messenger) retire(c *Connection) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unregisterLocked(c)
	if i, ok := slices.BinarySearchFunc(m.all, c.id, func(x *Connection, id uint64) int { return cmp.Compare(x.id, id) }); ok {
		m.all = slices.Delete(m.all, i, i+1)
	}
	m.gen.Add(1)
	if m.state == stateShutdown && len(m.all) == 0 {
		m.finishShutdownLocked()
	}
}

// MarkDown stops the session with addr and queues a reset event (Ceph's mark_down(addr)).
func (m *Messenger) MarkDown(addr wire.EntityAddr) {
	addr.Type = wire.AddrLegacy
	if c := m.lookup(addr); c != nil {
		c.markDown(true)
	}
}

// MarkDownAll stops every connection, each with a reset event.
func (m *Messenger) MarkDownAll() {
	for _, c := range m.liveConnections() {
		c.markDown(true)
	}
}

// liveConnections lists live connections by id (deterministic order).
func (m *Messenger) liveConnections() []*Connection { return m.AppendConnections(nil) }

// Connections lists the live connections in creation order.
func (m *Messenger) Connections() []*Connection { return m.liveConnections() }

// AppendConnections appends the live connections, in creation order, to dst: Connections
// without allocating when dst has room (the simulator audits after every step).
func (m *Messenger) AppendConnections(dst []*Connection) []*Connection {
	m.mu.Lock()
	dst = append(dst, m.all...) // kept in id order
	m.mu.Unlock()
	return dst
}

// Shutdown stops listening and marks every connection down (Ceph's shutdown). Wait returns
// once all of them are closed and the dispatch queue is drained.
func (m *Messenger) Shutdown() {
	m.mu.Lock()
	if m.state == stateShutdown {
		m.mu.Unlock()
		return
	}
	wasReady := m.state == stateReady
	m.state = stateShutdown
	l := m.listener
	m.mu.Unlock()
	m.local.markClosed() // sends to ourselves are refused from now on
	if !wasReady {
		m.shutdownNeverReady(l)
		return
	}
	if l != nil {
		l.stop()
	}
	for _, c := range m.liveConnections() {
		c.markDown(true)
	}
	m.mu.Lock()
	if len(m.all) == 0 {
		m.finishShutdownLocked()
	}
	m.mu.Unlock()
}

// shutdownNeverReady ends a messenger whose centers never ran (no dispatcher was added):
// nothing posted to them will ever run, so the listener and the pollers are closed here and
// Wait returns at once.
func (m *Messenger) shutdownNeverReady(l *processor) {
	if l != nil {
		_ = l.l.Close()
	}
	for _, c := range m.liveConnections() {
		c.markDown(false)
	}
	for _, c := range m.Centers() {
		_ = c.Close()
	}
	m.finished.Store(true)
	close(m.done)
}

// finishShutdownLocked asks the dispatch queue to drain and then stop everything.
func (m *Messenger) finishShutdownLocked() {
	if m.dq.stopping {
		return
	}
	m.dq.stopping = true
	m.dq.center.Post(m.dq.drainAndStop)
}

// Done is closed once the messenger shut down completely.
func (m *Messenger) Done() <-chan struct{} { return m.done }

// Finished reports, without blocking, whether the messenger shut down completely.
func (m *Messenger) Finished() bool {
	return m.finished.Load()
}

// Wait blocks until Shutdown completed (Ceph's wait()). In simulation the simulator steps the
// centers until Done is closed instead.
func (m *Messenger) Wait() { <-m.done }

// stopCenters ends the runtime's driving of every center; runs on the dispatch center. Each
// worker stops from a posted event, so what was posted to it before (the socket closes
// mark_down posted from other goroutines) still runs: a peer always sees the close. The last
// worker to stop stops the dispatch center and ends the shutdown. Workers of a shared pool
// are not stopped, but the same posted barrier orders the end of the shutdown after them.
func (m *Messenger) stopCenters() {
	workers := m.pool.Centers()
	if len(workers) == 0 {
		m.centersStopped()
		return
	}
	m.mu.Lock()
	m.stopLeft = len(workers)
	m.mu.Unlock()
	for _, c := range workers {
		c.Post(func() {
			if !m.shared {
				m.cfg.Runtime.Stop(c)
			}
			m.mu.Lock()
			m.stopLeft--
			done := m.stopLeft == 0
			m.mu.Unlock()
			if done {
				m.centersStopped()
			}
		})
	}
}

// centersStopped ends the shutdown once every worker passed its stop (stopCenters).
func (m *Messenger) centersStopped() {
	m.cfg.Runtime.Stop(m.dq.center)
	m.recycleBuffers()
	m.finished.Store(true)
	close(m.done)
}

// injectDelay blocks for the stack's internal delay at point, when it injects one.
func (m *Messenger) injectDelay(point string) {
	if m.delayer != nil {
		m.delayer.InternalDelay(point)
	}
}

// tracing reports whether a Tracer listens. The per-message trace points check it first:
// building the event to hand to trace cost more than the check, on every message.
func (m *Messenger) tracing() bool { return m.cfg.Tracer != nil }

func (m *Messenger) trace(ev TraceEvent) {
	if m.cfg.Tracer != nil {
		ev.Msgr = m
		m.cfg.Tracer(ev)
	}
}
