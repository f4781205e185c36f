package simnet

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
)

// Defaults for the zero fields of a Config.
const (
	defaultBuf     = 64 << 10
	defaultBacklog = 128
)

// Config sets the shape of a Network. Zero fields take their defaults.
type Config struct {
	// SendBuf is how many written-but-undelivered bytes one direction of a connection holds
	// before writes become short or fail with EAGAIN (default 64 KiB).
	SendBuf int
	// RecvBuf is how many delivered-but-unread bytes a socket's receive buffer holds
	// (default 64 KiB).
	RecvBuf int
	// Latency is the base one-way latency of every link: bytes written at t are deliverable
	// from t+Latency at the earliest, and a connect attempt is decided at t+Latency plus the
	// connection's spread (default 0).
	Latency time.Duration
	// LatencySpread widens latency per connection: each connection adds to Latency an extra
	// drawn at Connect uniformly in [0, LatencySpread] (default 0: no draw).
	LatencySpread time.Duration
	// Jitter varies latency per write: each Writev (and each FIN) adds a delay drawn uniformly
	// in [0, Jitter] (default 0: no draw). Jitter never reorders a stream: bytes are never
	// deliverable before the bytes written before them.
	Jitter time.Duration
	// Backlog is the listen backlog used when Listen is given 0 or less (default 128).
	Backlog int
}

func (c Config) withDefaults() Config {
	if c.SendBuf <= 0 {
		c.SendBuf = defaultBuf
	}
	if c.RecvBuf <= 0 {
		c.RecvBuf = defaultBuf
	}
	c.Latency = max(c.Latency, 0)
	c.LatencySpread = max(c.LatencySpread, 0)
	c.Jitter = max(c.Jitter, 0)
	if c.Backlog <= 0 {
		c.Backlog = defaultBacklog
	}
	return c
}

// Stats counts what a network did. All counters only grow.
type Stats struct {
	Transfers      uint64 // transfers performed by Run
	BytesWritten   uint64 // bytes accepted by Writev
	BytesDelivered uint64 // bytes moved to a receiver by Run (including bytes a shut-down reader discards)
	BytesRead      uint64 // bytes returned by Read
	Connects       uint64 // sockets returned by Connect
	Established    uint64 // connect attempts that reached a listener
	Refused        uint64 // connect attempts that were refused
	Resets         uint64 // connections reset (each counted once), whatever the cause

	// Injected faults (see the package documentation, Faults).
	Corruptions            uint64 // bits flipped by Corrupt, counted when delivered
	Tampered               uint64 // byte ranges rewritten in flight by Tamper
	Clogged                uint64 // transfers found due but held back by a clog (once per hold)
	Partitioned            uint64 // transfers found due but held back by a partition (once per hold)
	ConnectRefusedInjected uint64 // connect attempts refused by ConnectRefuse
	ConnectHung            uint64 // connect attempts parked by ConnectHang
	Crashes                uint64 // Host.Crash calls
}

// Network is a simulated TCP network of hosts sharing one virtual clock and one random
// source. It is not safe for concurrent use: the whole simulation runs on one goroutine.
type Network struct {
	clock *Clock
	rng   *detrand.Rand
	cfg   Config
	pool  chunkPool

	hosts []*Host // in creation order
	byIP  map[netip.Addr]*Host

	nextConn uint64
	active   []*conn // connections that may have work, sorted by id (see schedule.go)
	conns    []*conn // every connection that may be live, sorted by id (pruned lazily)
	live     int     // live connections at the last pruning of conns

	// Hooks and faults (hooks.go, faults.go).
	chunker      Chunker
	observer     Observer
	connectFault func(from, to netip.AddrPort) ConnectFault
	hung         []*conn // connect attempts parked by ConnectHang, in the order they hung
	clogs        []clog  // in the order they were first set
	parts        []link  // blocked directions, in the order they were set
	isolated     []netip.Addr
	epoch        uint64             // bumped whenever clogs or partitions change (see conn.linkFaults)
	ports        map[netip.Addr]int // next ephemeral port of removed hosts' addresses

	// Cache of the runnable transfers, valid while !dirty and the clock reads cacheNow. Each
	// active connection also keeps its last scan (conn.tasks and what follows), so a refresh
	// rescans only the connections that changed (touched) or whose wake time came (wakes),
	// unless allStale; futs gives the earliest future time (see schedule.go).
	// nrunnable counts the runnable transfers: the task bits of the active connections (Run
	// finds the i-th by walking the active list, which is in id order, as Runnable numbers
	// them; a sorted list of tasks patched at every change cost more than the walk).
	nrunnable int
	touched   []*conn
	wakes     timeHeap
	futs      timeHeap
	dirty     bool
	allStale  bool
	// checkScans is a self-check for tests: refresh scans again every connection whose kept
	// scan it uses, and panics if the scan finds anything else.
	checkScans bool
	cacheNow   time.Duration
	nextDue    time.Duration
	hasNext    bool

	stats  Stats
	tracer func(Transfer)

	// Blocks new sockets, connections and pollers are taken from (one allocation per block,
	// not per object; a block lives as long as any object in it).
	initial struct {
		hosts   [4]*Host
		active  [8]*conn
		conns   [16]*conn
		touched [8]*conn
		wakes   [8]timeOf
		futs    [8]timeOf
	}
	sockBuf   []Socket
	connBuf   []conn
	pollerBuf []Poller
}

// blockSize is how many objects a block holds: from 4, doubling up to 64, so that a small
// network allocates little and a large one few blocks.
func blockSize(prev int) int { return min(64, max(4, 2*prev)) }

// newSocket returns a zeroed socket from the current block.
func (n *Network) newSocket() *Socket {
	if len(n.sockBuf) == cap(n.sockBuf) {
		n.sockBuf = make([]Socket, 0, blockSize(cap(n.sockBuf)))
	}
	n.sockBuf = n.sockBuf[:len(n.sockBuf)+1]
	return &n.sockBuf[len(n.sockBuf)-1]
}

// newPoller returns a zeroed poller from the current block.
func (n *Network) newPoller() *Poller {
	if len(n.pollerBuf) == cap(n.pollerBuf) {
		n.pollerBuf = make([]Poller, 0, blockSize(cap(n.pollerBuf)))
	}
	n.pollerBuf = n.pollerBuf[:len(n.pollerBuf)+1]
	return &n.pollerBuf[len(n.pollerBuf)-1]
}

// New returns an empty network on clock that draws every random choice from rng.
func New(clock *Clock, rng *detrand.Rand, cfg Config) *Network {
	n := &Network{
		clock:    clock,
		rng:      rng,
		cfg:      cfg.withDefaults(),
		byIP:     make(map[netip.Addr]*Host),
		ports:    make(map[netip.Addr]int),
		dirty:    true,
		allStale: true,
	}
	// The scheduling lists start in arrays of the network itself: a small simulation never
	// grows them.
	n.hosts = n.initial.hosts[:0]
	n.active = n.initial.active[:0]
	n.conns = n.initial.conns[:0]
	n.touched = n.initial.touched[:0]
	n.wakes = n.initial.wakes[:0]
	n.futs = n.initial.futs[:0]
	return n
}

// Clock returns the network's virtual clock.
func (n *Network) Clock() *Clock { return n.clock }

// Config returns the configuration in effect, defaults filled in.
func (n *Network) Config() Config { return n.cfg }

// AddHost adds a host with the given name and IP address. It panics if ip is invalid,
// unspecified or already taken: building the topology wrongly is a bug in the simulator. An
// address freed by RemoveHost may be taken again: the new host has fresh descriptors (from 3)
// and takes ephemeral ports from where the removed host stopped.
func (n *Network) AddHost(name string, ip netip.Addr) *Host {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsUnspecified() {
		panic(fmt.Sprintf("simnet: AddHost(%q, %v): invalid address", name, ip))
	}
	if n.byIP[ip] != nil {
		panic(fmt.Sprintf("simnet: AddHost(%q, %v): address taken by %q", name, ip, n.byIP[ip].name))
	}
	h := newHost(n, name, ip)
	if p, ok := n.ports[ip]; ok {
		h.nextPort = p // A restarted host does not reuse its predecessor's ports at once.
	}
	n.hosts = append(n.hosts, h)
	n.byIP[ip] = h
	return h
}

// Host returns the host with address ip, or nil if there is none.
func (n *Network) Host(ip netip.Addr) *Host { return n.byIP[ip.Unmap()] }

// Release gives the network's free buffer chunks to the networks created later in the
// process. A simulation calls it when its run is over; the network stays usable (it allocates
// chunks again when it needs them), and nothing it does depends on where chunks come from.
func (n *Network) Release() { n.pool.release() }

// Stats returns the counters so far.
func (n *Network) Stats() Stats { return n.stats }

// SetTracer installs fn to be called with every transfer Run performs, after it is performed.
// A nil fn removes the tracer.
func (n *Network) SetTracer(fn func(Transfer)) { n.tracer = fn }

// chunk draws how many of limit available bytes one operation moves: all of them with
// probability 1/2 (and on word 0), otherwise a uniform count in [1, limit]. It draws nothing
// when limit <= 1.
func (n *Network) chunk(limit int) int {
	if limit <= 1 || !n.rng.Bool() {
		return limit
	}
	return limit - n.rng.IntN(limit)
}

// spread draws a new connection's extra latency, uniform in [0, Config.LatencySpread]. It
// draws nothing when the spread is 0.
func (n *Network) spread() time.Duration {
	if n.cfg.LatencySpread <= 0 {
		return 0
	}
	return time.Duration(n.rng.Uint64N(uint64(n.cfg.LatencySpread) + 1))
}

// jitter draws the extra delay of one write or FIN, uniform in [0, Config.Jitter]. It draws
// nothing when Jitter is 0.
func (n *Network) jitter() time.Duration {
	if n.cfg.Jitter <= 0 {
		return 0
	}
	return time.Duration(n.rng.Uint64N(uint64(n.cfg.Jitter) + 1))
}

// now is the current virtual time.
func (n *Network) now() time.Duration { return n.clock.now }
