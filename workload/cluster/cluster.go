package cluster

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/sim/harness"
)

// Workload is the Ceph-shaped workload on one run, as the seed draws it: one monitor,
// Config.OSDs OSDs (at least 2), Config.Clients clients (at least 1) and a misconfigured
// probe. Each OSD goes through Ceph's lifecycle (create six messengers with Ceph's policies,
// bind, start, add dispatchers, serve; some shut down, wait, and come back as a new instance
// mid-run), heartbeats its peers on both heartbeat networks, boots with the monitor and
// follows its map. Clients run Config.Messages key-value operations each (put, get, append), sent with
// tids to the key's primary OSD, which applies each update once (deduplicating retries by
// client and tid), replicates it over the cluster messenger (lossless_peer) to its replicas,
// and answers once every replica acknowledged it. The client history is checked against the
// KV model after the run.
type Workload struct {
	h        *harness.Run
	cfg      Config
	nOSD     int
	replicas int
	quota    int
	keys     []string
	tick     time.Duration // heartbeat / map refresh / replication period
	retry    time.Duration // client retry timeout
	ticking  bool
	// Messenger timeouts: Ceph's defaults, or (as the seed draws it) short ones, as an
	// operator may set ms_connection_ready_timeout and ms_connection_idle_timeout.
	readyTimeout, idleTimeout time.Duration

	mon     *monNode
	osds    []*osdNode
	clients []*clientNode
	probe   *probeNode

	replOf    [][]int                    // OSD → its replicas (replicasOf)
	procs     []*cproc                   // every process, the probe last (allProcs)
	endpoints map[wire.EntityAddr]string // every bound address any incarnation had → endpoint
	gone      map[wire.EntityAddr]bool   // the addresses of stopped incarnations (until one is bound again)
	osdOfEP   map[string]int             // OSD endpoint → id
	names     map[string]string          // sender names received (cmsg.decode)
	auth      *clusterAuth               // cephx (Config.Auth), or nil

	// rx is the message being dispatched, decoded in place (rxMsg): a handler reads it and
	// keeps none of it but its strings. rxOSDs is the storage of its map entries (kept while
	// it decodes messages without a map). rxBusy: rx is taken (a dispatch within a dispatch
	// decodes into a message of its own).
	rx     cmsg
	rxOSDs []osdInfo
	rxBusy bool
}

// rxMsg is a message to decode a received front into (cmsg.decode): rx, unless it is taken.
func (cl *Workload) rxMsg() *cmsg {
	if cl.rxBusy {
		return &cmsg{}
	}
	cl.rxBusy = true
	cl.rx.osds = cl.rxOSDs
	return &cl.rx
}

// rxDone gives back a message rxMsg returned.
func (cl *Workload) rxDone(m *cmsg) {
	if m == &cl.rx {
		cl.rxBusy = false
		if m.osds != nil {
			cl.rxOSDs = m.osds
		}
	}
}

// Config is the cluster's shape.
type Config struct {
	OSDs     int           // at least 2
	Clients  int           // at least 1
	Messages int           // key-value operations per client
	Window   time.Duration // the safety phase
	// Auth is "" (auth none) or AuthCephx: keys from the seed, an in-process monitor,
	// authorizers with the challenge round and signed sessions to OSDs (see clusterAuth).
	Auth string
}

// New is the workload cfg on h (harness.Run.Drive runs it).
func New(h *harness.Run, cfg Config) *Workload { return &Workload{h: h, cfg: cfg} }

// draw draws the cluster from the workload's random source.
func (cl *Workload) draw() {
	r := cl.h.Rand
	cl.nOSD, cl.quota = max(cl.cfg.OSDs, 2), cl.cfg.Messages
	cl.tick = time.Duration(r.Range(5, 20)) * time.Millisecond
	cl.retry = time.Duration(r.Range(50, 200)) * time.Millisecond
	cl.endpoints, cl.osdOfEP, cl.names = map[wire.EntityAddr]string{}, map[string]int{}, map[string]string{}
	cl.gone = map[wire.EntityAddr]bool{}
	cl.replicas = min(2, cl.nOSD-1)
	cl.replOf = make([][]int, cl.nOSD)
	for p := range cl.replOf {
		for i := range cl.replicas {
			cl.replOf[p] = append(cl.replOf[p], (p+1+i)%cl.nOSD)
		}
	}
	if r.Bool() {
		cl.readyTimeout = time.Duration(r.Range(100, 1000)) * time.Millisecond
	}
	if r.Bool() {
		cl.idleTimeout = time.Duration(r.Range(20, 200)) * time.Millisecond
	}
	for i := range r.Range(2, 6) {
		cl.keys = append(cl.keys, fmt.Sprintf("k%d", i))
	}
	idx := 0
	cl.mon = newMon(cl, idx)
	for i := 0; i < cl.nOSD; i++ {
		idx++
		o := newOSD(cl, i, idx)
		cl.osds = append(cl.osds, o)
		for _, x := range o.all {
			cl.osdOfEP[x.endpoint()] = i
		}
	}
	for i := 0; i < max(cl.cfg.Clients, 1); i++ {
		idx++
		cl.clients = append(cl.clients, newClient(cl, i, idx))
	}
	cl.probe = newProbe(cl, idx+1)
	cl.procs = []*cproc{&cl.mon.cproc}
	for _, o := range cl.osds {
		cl.procs = append(cl.procs, &o.cproc)
	}
	for _, c := range cl.clients {
		cl.procs = append(cl.procs, &c.cproc)
	}
	cl.procs = append(cl.procs, &cl.probe.cproc)
}

func (cl *Workload) ipFor(idx int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 0, 1, byte(idx + 1)})
}

// primary is the OSD serving key (FNV-1a of the key, as hash/fnv's New32a computes it,
// modulo the OSDs); its replicas are the next ones by id.
func (cl *Workload) primary(key string) int {
	const offset, prime = 2166136261, 16777619
	h := uint32(offset)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * prime
	}
	return int(h % uint32(cl.nOSD))
}

// replicasOf is OSD p's replicas (shared: not to be changed).
func (cl *Workload) replicasOf(p int) []int { return cl.replOf[p] }

func (cl *Workload) osdByEndpoint(ep string) (int, bool) {
	id, ok := cl.osdOfEP[ep]
	return id, ok
}

// objecterClient is the history's client id for an OSD's objecter.
func (cl *Workload) objecterClient(osd int) int { return len(cl.clients) + osd }

// active: the run is in its safety or liveness phase.
func (cl *Workload) active() bool {
	return cl.h.Phase == harness.PhaseSafety || cl.h.Phase == harness.PhaseLiveness
}

// drawOp draws a client's next operation; values are unique, so a duplicated append shows.
func (cl *Workload) drawOp(client int, tid uint64) models.KVInput {
	key := cl.keys[cl.h.Rand.IntN(len(cl.keys))]
	switch cl.h.Rand.IntN(3) {
	case 0:
		return models.KVInput{Op: models.KVGet, Key: key}
	case 1:
		return models.KVInput{Op: models.KVPut, Key: key, Value: fmt.Sprintf("%d.%d", client, tid)}
	}
	return models.KVInput{Op: models.KVAppend, Key: key, Value: fmt.Sprintf("[%d.%d]", client, tid)}
}

// Processes implements harness.Workload: the monitor, the OSDs and the clients.
func (cl *Workload) Processes() []fault.Process {
	ps := []fault.Process{&cl.mon.cproc}
	for _, o := range cl.osds {
		ps = append(ps, &o.cproc)
	}
	for _, c := range cl.clients {
		ps = append(ps, &c.cproc)
	}
	return ps
}

// allProcs is every process, the probe included (built once: Shutdown's condition asks for
// it at every step).
func (cl *Workload) allProcs() []*cproc { return cl.procs }

// perm is a seeded permutation of [0, n).
func perm(r *detrand.Rand, n int) []int {
	p := make([]int, n)
	for i := range p {
		j := r.IntN(i + 1)
		p[i] = p[j]
		p[j] = i
	}
	return p
}

// Build implements harness.Workload: the cluster as the seed draws it, the monitor up, and
// the lifecycle planned.
func (cl *Workload) Build() error {
	h := cl.h
	cl.draw()
	switch cl.cfg.Auth {
	case "", "none":
	case AuthCephx:
		if err := cl.setupAuth(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("cluster: unknown auth %q", cl.cfg.Auth)
	}
	h.KV = &models.KVHistory{}
	if err := cl.mon.start(); err != nil {
		return err
	}
	h.LogFaults()
	h.W.Trace.Logf(0, "cluster: %d osds (%d replicas), %d clients × %d ops on %d keys, tick %v, retry %v, ready timeout %v, idle timeout %v",
		cl.nOSD, cl.replicas, len(cl.clients), cl.quota, len(cl.keys), cl.tick, cl.retry, cl.readyTimeout, cl.idleTimeout)
	cl.schedule()
	return nil
}

// Safety implements harness.Workload: the lifecycle, client operations and faults run for
// the window.
func (cl *Workload) Safety() bool {
	h := cl.h
	if err := h.RunUntil(func() bool { return h.W.Now() >= cl.cfg.Window }, cl.cfg.Window+time.Minute); err != nil {
		if errors.Is(err, harness.ErrBudget) || h.Panicked {
			h.StepFailed(check.InvNoProgress, err, "safety phase") // the panic, named by what panicked
			return false
		}
		h.Check.Violate(check.InvNoProgress, int64(h.W.Now()), "safety phase: %v", err)
		return false
	}
	return true
}

// Models implements harness.Workload: the lossless sessions and the clients' key-value
// history are model-checked.
func (cl *Workload) Models() (bool, *models.KVHistory) { return true, cl.h.KV }

// Report implements harness.Workload: the cluster's numbers (when it was built).
func (cl *Workload) Report() string {
	if cl.mon == nil {
		return ""
	}
	return cl.summary()
}

// schedule plans the safety phase: staggered boots, periodic ticks, clean restarts, probes.
func (cl *Workload) schedule() {
	h := cl.h
	w := cl.cfg.Window
	cl.ticking = true
	start := func(p *cproc) func() {
		return func() {
			if err := p.restart(); err != nil {
				h.Check.Violate(check.InvNoProgress, int64(h.W.Now()), "start %s: %v", p.name, err)
			}
		}
	}
	for _, o := range cl.osds {
		h.W.Schedule(time.Duration(h.Rand.Uint64N(uint64(w/8))), start(&o.cproc))
		cl.every(time.Duration(h.Rand.Uint64N(uint64(cl.tick))), o.tick)
		if h.Rand.IntN(4) == 0 {
			h.W.Schedule(w/4+time.Duration(h.Rand.Uint64N(uint64(w/2))), o.cleanRestart)
		}
	}
	for _, c := range cl.clients {
		h.W.Schedule(time.Duration(h.Rand.Uint64N(uint64(w/4))), start(&c.cproc))
		cl.every(time.Duration(h.Rand.Uint64N(uint64(cl.tick))), c.tick)
	}
	h.W.Schedule(0, start(&cl.probe.cproc))
	if cl.auth != nil {
		cl.auth.schedule()
	}
	for k := 0; k < 3; k++ {
		k := k
		h.W.Schedule(w/8+time.Duration(h.Rand.Uint64N(uint64(w/2))), func() { cl.probe.try(k) })
	}
}

// every runs fn at offset and then every tick while the cluster ticks.
func (cl *Workload) every(offset time.Duration, fn func()) {
	var run func()
	run = func() {
		if !cl.ticking {
			return
		}
		fn()
		cl.h.W.Schedule(cl.h.W.Now()+cl.tick, run)
	}
	cl.h.W.Schedule(offset, run)
}

// Liveness implements harness.Workload: heal every fault; then every client operation must be
// answered, every replica caught up and every lossless message delivered within the bound.
func (cl *Workload) Liveness() {
	h := cl.h
	h.Heal()
	if err := h.RunUntil(cl.settled, h.W.Now()+h.Cfg.Liveness); err != nil {
		if errors.Is(err, harness.ErrBudget) || h.Panicked {
			// A panic is the run's violation; the clients and replicas are not asked (a lock
			// may be held).
			h.StepFailed(check.InvLiveness, err, "liveness phase")
			return
		}
		now := int64(h.W.Now())
		if n := cl.unfinishedClients(); n > 0 {
			h.Check.Violate(check.InvKVLiveness, now, "%d clients still have operations to finish after healing: %v", n, err)
		}
		if n := h.Check.PendingLossless(); n > 0 || !cl.replicated() {
			h.Check.Violate(check.InvLiveness, now, "%d lossless messages undelivered, replicas caught up: %v, after healing: %v",
				n, cl.replicated(), err)
		}
	}
	h.Cov.Evaluated(check.InvKVLiveness, 1)
}

// settled: every client done, every replica caught up, every lossless message delivered
// (asked after every step of the liveness phase: it stops at the first client not done).
func (cl *Workload) settled() bool {
	for _, c := range cl.clients {
		if !c.alive || !c.done() {
			return false
		}
	}
	return cl.replicated() && cl.h.Check.PendingLossless() == 0
}

func (cl *Workload) unfinishedClients() int {
	n := 0
	for _, c := range cl.clients {
		if !c.alive || !c.done() {
			n++
		}
	}
	return n
}

func (cl *Workload) replicated() bool {
	for _, o := range cl.osds {
		if !o.Running() || !o.caughtUp() {
			return false
		}
	}
	return true
}

// Finish implements harness.Workload: once caught up, every replica holds exactly its
// primary's values.
func (cl *Workload) Finish() {
	h := cl.h
	for _, key := range cl.keys {
		p := cl.primary(key)
		for _, r := range cl.replicasOf(p) {
			h.Cov.Evaluated(check.InvReplicaDivergence, 1)
			if got, want := cl.osds[r].data[key], cl.osds[p].data[key]; got != want {
				h.Check.Violate(check.InvReplicaDivergence, int64(h.W.Now()), "key %s: replica osd.%d has %q, primary osd.%d %q",
					key, r, got, p, want)
			}
		}
	}
}

// Shutdown implements harness.Workload: it stops the ticks and every messenger of every live
// node, and runs until all are done.
func (cl *Workload) Shutdown() {
	h := cl.h
	h.Phase = harness.PhaseShutdown
	cl.ticking = false
	for _, p := range cl.allProcs() {
		if p.alive && !p.stopping {
			for _, x := range p.msgrs {
				x.m.Shutdown()
			}
		}
	}
	done := func() bool {
		for _, p := range cl.allProcs() {
			for _, x := range p.msgrs {
				if p.alive && !x.m.Finished() {
					return false
				}
			}
		}
		return true
	}
	if err := h.RunUntil(done, h.W.Now()+time.Minute); err != nil {
		if errors.Is(err, harness.ErrBudget) || h.Panicked {
			h.StepFailed(check.InvShutdownStalled, err, "shutdown")
			return
		}
		h.Check.Violate(check.InvShutdownStalled, int64(h.W.Now()), "%v", err)
		return
	}
	h.Phase = harness.PhaseDone
}

// summary renders the workload's own numbers for the run's summary.
func (cl *Workload) summary() string {
	var b strings.Builder
	answered, unknown := 0, 0
	for _, op := range cl.h.KV.Ops() {
		if op.Output.Unknown {
			unknown++
		} else {
			answered++
		}
	}
	entries := 0
	for _, o := range cl.osds {
		entries += len(o.log)
	}
	fmt.Fprintf(&b, "  cluster: %d osds, %d clients, %d keys: %d operations (%d answered, %d never answered), %d updates replicated ×%d\n",
		cl.nOSD, len(cl.clients), len(cl.keys), cl.h.KV.Len(), answered, unknown, entries, cl.replicas)
	if cl.auth != nil {
		b.WriteString(cl.auth.summary())
	}
	return b.String()
}
