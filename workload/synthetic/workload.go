package synthetic

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Node is one messenger of the workload.
type Node struct {
	Index  int    // servers first, then clients
	Name   string // "srv3", "cli7": unique within the workload
	Server bool
	M      *msgr.Messenger
}

// Spec is what an Env needs to create a node's messenger.
type Spec struct {
	Node           *Node
	Config         msgr.Config // name, nonce, throttles, delays: the Env adds stack, runtime, rand, tracer
	SocketFailures uint64      // fail 1 in N socket operations (0: none)
	// InternalDelays blocks the messenger's center this long at each internal delay point
	// (ms_inject_internal_delays): for environments in real time; a simulator ignores it.
	InternalDelays time.Duration
}

// Env is where the workload runs: it creates the messengers (their stacks, runtimes, random
// sources and tracers are its business) and says which IP each binds.
type Env interface {
	NewMessenger(s Spec) (*msgr.Messenger, error)
	BindIP(n *Node) netip.Addr
}

// PolicyEnv is an Env that adjusts each node's default policy before the workload sets it
// (the simulator's configuration swarm: the feature bits a node advertises, receive
// throttles). An Env without it runs the configuration's policies as they are.
type PolicyEnv interface {
	Env
	Policy(n *Node, p proto.Policy) proto.Policy
}

// Observer is told what the workload does, for invariant checkers. Calls may come from any
// goroutine (over epoll, the messengers' workers); an Observer must be safe for that.
type Observer interface {
	// Sent: from is about to send m on c to peer (nil when unknown); lossless is the sender's
	// policy for the peer. Called before the messenger sees m.
	Sent(from, peer *Node, c *msgr.Connection, m *msgr.Message, lossless bool)
	// NotSent: the messenger refused m (its connection was closed).
	NotSent(from *Node, m *msgr.Message)
	// Dispatched: m reached the workload's dispatcher on to's connection c.
	Dispatched(to *Node, c *msgr.Connection, m *msgr.Message)
	// MarkedDown: by dropped its connection c with peer (Connection.MarkDown, no reset event).
	MarkedDown(by, peer *Node, c *msgr.Connection)
	// Violation: one of the workload's own checks failed.
	Violation(name, detail string)
}

// Names of the workload's own checks (Ceph's assertions in SyntheticDispatcher).
const (
	InvFIFO     = "synthetic-fifo"     // a PONG overtook the PONG of an earlier PING on its connection
	InvPayload  = "synthetic-payload"  // a PONG's data differs from its PING's, or does not decode
	InvDispatch = "synthetic-dispatch" // a message took the normal dispatch path (Ceph aborts)
)

// ErrBlocked: the operation waits until at most MaxInFlight PINGs are pending; retry it later.
var ErrBlocked = errors.New("synthetic: too many PINGs in flight")

// Workload is one SyntheticWorkload. Its methods are safe for concurrent use with the
// messengers' callbacks; operations themselves (Next, Do, Seed) come from one driver.
type Workload struct {
	cfg  Config
	env  Env
	obs  Observer
	disp dispatcher

	mu       sync.Mutex // guards everything below
	rand     *detrand.Rand
	nodes    []*Node
	byMsgr   map[*msgr.Messenger]*Node
	byNonce  map[uint32]*Node
	conns    []*msgr.Connection // available_connections, in creation order
	pairs    map[*msgr.Connection][2]*Node
	sent     map[uint64][]byte             // pending PING seq -> its data
	connSent map[*msgr.Connection][]uint64 // pending PING seqs per connection, in send order
	seq      uint64                        // Payload seq (Ceph's index)
	data     [][]byte
	stats    Stats

	msgID atomic.Uint64 // message ids (header tid), for observers
}

// New builds the workload's messengers in env and readies them: servers bind; clients bind
// when their policy has standby (as Ceph's test does); every messenger gets the workload's
// dispatcher. rand drives every decision of the workload.
func New(cfg Config, env Env, obs Observer, rand *detrand.Rand) (*Workload, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if obs == nil {
		obs = nopObserver{}
	}
	w := &Workload{cfg: cfg, env: env, obs: obs, rand: rand, byMsgr: make(map[*msgr.Messenger]*Node),
		byNonce: make(map[uint32]*Node), pairs: make(map[*msgr.Connection][2]*Node),
		sent: make(map[uint64][]byte), connSent: make(map[*msgr.Connection][]uint64)}
	w.disp.w = w
	w.makePayloads()
	for i := 0; i < cfg.Servers+cfg.Clients; i++ {
		if err := w.addNode(i, i < cfg.Servers); err != nil {
			w.Shutdown()
			return nil, err
		}
	}
	return w, nil
}

// makePayloads draws Ceph's random payloads: zeros, with the payload's index written every
// 4 KiB, of uniform random size.
func (w *Workload) makePayloads() {
	for i := 0; i < w.cfg.Payloads; i++ {
		n := w.cfg.MinPayload + w.rand.IntN(w.cfg.MaxPayload-w.cfg.MinPayload+1)
		b := make([]byte, n)
		for j := 0; j+4 <= n; j += 4096 {
			b[j], b[j+1], b[j+2], b[j+3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
		}
		w.data = append(w.data, b)
	}
}

func (w *Workload) addNode(i int, server bool) error {
	n := &Node{Index: i, Server: server}
	ename := wire.NewName(wire.EntityClient, -1)
	policy := w.cfg.ClientPolicy
	if server {
		n.Name, ename, policy = fmt.Sprintf("srv%d", i), wire.NewName(wire.EntityOSD, 0), w.cfg.ServerPolicy
	} else {
		n.Name = fmt.Sprintf("cli%d", i-w.cfg.Servers)
	}
	cfg := msgr.Config{Name: ename, Nonce: w.freshNonce(), ClusterProtocol: wire.ProtoOSDPeer,
		DispatchThrottleBytes: w.cfg.DispatchThrottleBytes, MaxBackoff: w.cfg.MaxBackoff}
	if w.cfg.DelayProbability > 0 {
		cfg.InjectDelay = &msgr.InjectDelay{Types: []wire.EntityType{wire.EntityClient, wire.EntityOSD},
			Probability: detrand.Percent(uint64(w.cfg.DelayProbability)), Max: w.cfg.DelayMax}
	}
	m, err := w.env.NewMessenger(Spec{Node: n, Config: cfg, SocketFailures: w.cfg.SocketFailures, InternalDelays: w.cfg.InternalDelays})
	if err != nil {
		return fmt.Errorf("synthetic: messenger %s: %w", n.Name, err)
	}
	n.M = m
	w.nodes = append(w.nodes, n)
	if pe, ok := w.env.(PolicyEnv); ok {
		policy = pe.Policy(n, policy)
	}
	w.byMsgr[m], w.byNonce[cfg.Nonce] = n, n
	m.SetDefaultPolicy(policy)
	if policy.ThrottlerMessages > 0 || policy.ThrottlerBytes > 0 {
		// The messenger makes receive throttles for a peer type's own policy only: the
		// workload's peer types (servers are OSDs, clients clients) get the default one.
		for _, t := range []wire.EntityType{wire.EntityOSD, wire.EntityClient} {
			m.SetPolicy(t, policy)
		}
	}
	if server || policy.Standby {
		if err := m.Bind(netip.AddrPortFrom(w.env.BindIP(n), 0)); err != nil {
			return fmt.Errorf("synthetic: %s: %w", n.Name, err)
		}
	}
	if err := m.Start(); err != nil {
		return fmt.Errorf("synthetic: %s: %w", n.Name, err)
	}
	m.AddDispatcherHead(&w.disp)
	return nil
}

// freshNonce draws a nonce no other node of the workload has (peers are told apart by it).
func (w *Workload) freshNonce() uint32 {
	for {
		n := w.rand.Uint32() | 1
		if w.byNonce[n] == nil {
			return n
		}
	}
}

// Config is the workload's configuration, defaults filled in.
func (w *Workload) Config() Config { return w.cfg }

// Nodes lists the workload's messengers: servers, then clients.
func (w *Workload) Nodes() []*Node {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*Node(nil), w.nodes...)
}

// NodeOf returns the node whose messenger is m (nil if none).
func (w *Workload) NodeOf(m *msgr.Messenger) *Node {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.byMsgr[m]
}

// PeerOf returns the node at the other end of c (nil if unknown), told apart by nonce.
func (w *Workload) PeerOf(c *msgr.Connection) *Node {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.byNonce[c.PeerAddr().Nonce]
}

// Pending is the number of PINGs waiting for their PONG (Ceph's get_pending).
func (w *Workload) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.sent)
}

// Connections is the number of available connections.
func (w *Workload) Connections() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.conns)
}

// Shutdown shuts every messenger down; the driver waits for each to finish.
func (w *Workload) Shutdown() {
	for _, n := range w.Nodes() {
		if n.M != nil {
			n.M.Shutdown()
		}
	}
}

// Finished reports whether every messenger finished shutting down.
func (w *Workload) Finished() bool {
	for _, n := range w.Nodes() {
		if !n.M.Finished() {
			return false
		}
	}
	return true
}

func (w *Workload) nextID() uint64 { return w.msgID.Add(1) }

// sleepFor draws the sleep operation's duration.
func (w *Workload) sleepFor() time.Duration {
	span := int(w.cfg.SleepMax - w.cfg.SleepMin)
	return w.cfg.SleepMin + time.Duration(w.rand.IntN(span/int(time.Microsecond)+1))*time.Microsecond
}

type nopObserver struct{}

func (nopObserver) Sent(*Node, *Node, *msgr.Connection, *msgr.Message, bool) {}
func (nopObserver) NotSent(*Node, *msgr.Message)                             {}
func (nopObserver) Dispatched(*Node, *msgr.Connection, *msgr.Message)        {}
func (nopObserver) MarkedDown(*Node, *Node, *msgr.Connection)                {}
func (nopObserver) Violation(string, string)                                 {}
