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
	// Latency is the one-way latency of every link: bytes written at t are deliverable
	// from t+Latency, and a connect attempt is decided at t+Latency (default 0).
	Latency time.Duration
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
	if c.Latency < 0 {
		c.Latency = 0
	}
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
	Resets         uint64 // connections reset (each counted once)
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

	// Cache of the runnable transfers, valid while !dirty and the clock reads cacheNow.
	runnable []task
	dirty    bool
	cacheNow time.Duration
	nextDue  time.Duration
	hasNext  bool

	stats  Stats
	tracer func(Transfer)
}

// New returns an empty network on clock that draws every random choice from rng.
func New(clock *Clock, rng *detrand.Rand, cfg Config) *Network {
	return &Network{
		clock: clock,
		rng:   rng,
		cfg:   cfg.withDefaults(),
		byIP:  make(map[netip.Addr]*Host),
		dirty: true,
	}
}

// Clock returns the network's virtual clock.
func (n *Network) Clock() *Clock { return n.clock }

// Config returns the configuration in effect, defaults filled in.
func (n *Network) Config() Config { return n.cfg }

// AddHost adds a host with the given name and IP address. It panics if ip is invalid,
// unspecified or already taken: building the topology wrongly is a bug in the simulator.
func (n *Network) AddHost(name string, ip netip.Addr) *Host {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsUnspecified() {
		panic(fmt.Sprintf("simnet: AddHost(%q, %v): invalid address", name, ip))
	}
	if n.byIP[ip] != nil {
		panic(fmt.Sprintf("simnet: AddHost(%q, %v): address taken by %q", name, ip, n.byIP[ip].name))
	}
	h := newHost(n, name, ip)
	n.hosts = append(n.hosts, h)
	n.byIP[ip] = h
	return h
}

// Host returns the host with address ip, or nil if there is none.
func (n *Network) Host(ip netip.Addr) *Host { return n.byIP[ip.Unmap()] }

// Stats returns the counters so far.
func (n *Network) Stats() Stats { return n.stats }

// SetTracer installs fn to be called with every transfer Run performs, after it is performed.
// A nil fn removes the tracer.
func (n *Network) SetTracer(fn func(Transfer)) { n.tracer = fn }

// chunk draws how many of limit available bytes one operation moves: all of them with
// probability 1/2, otherwise a uniform count in [1, limit]. It draws nothing when limit <= 1.
func (n *Network) chunk(limit int) int {
	if limit <= 1 || n.rng.Bool() {
		return limit
	}
	return n.rng.Range(1, limit)
}

// now is the current virtual time.
func (n *Network) now() time.Duration { return n.clock.now }
