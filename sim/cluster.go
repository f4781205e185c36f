package sim

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/fault"
)

// Workloads (Options.Workload).
const (
	// WorkloadDefault: OSD-like nodes exchange lossless messages, clients send lossy ones.
	WorkloadDefault = "default"
	// WorkloadCluster: the Ceph-shaped cluster — a monitor, OSDs with six messengers each,
	// clients of a replicated key-value service — checked for linearizability.
	WorkloadCluster = "cluster"
)

// cluster is the Ceph-shaped workload, as the seed draws it: one monitor, Options.OSDs OSDs
// (at least 2), Options.Clients clients (at least 1) and a misconfigured probe. Each OSD goes
// through Ceph's lifecycle (create six messengers with Ceph's policies, bind, start, add
// dispatchers, serve; some shut down, wait, and come back as a new instance mid-run),
// heartbeats its peers on both heartbeat networks, boots with the monitor and follows its
// map. Clients run Options.Messages key-value operations each (put, get, append), sent with
// tids to the key's primary OSD, which applies each update once (deduplicating retries by
// client and tid), replicates it over the cluster messenger (lossless_peer) to its replicas,
// and answers once every replica acknowledged it. The client history is checked against the
// KV model after the run.
type cluster struct {
	s        *scenario
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

	endpoints map[wire.EntityAddr]string // every bound address any incarnation had → endpoint
	osdOfEP   map[string]int             // OSD endpoint → id
}

func newCluster(s *scenario) *cluster {
	r := s.rand
	cl := &cluster{s: s, nOSD: max(s.opts.OSDs, 2), quota: s.opts.Messages,
		tick:      time.Duration(r.Range(5, 20)) * time.Millisecond,
		retry:     time.Duration(r.Range(50, 200)) * time.Millisecond,
		endpoints: map[wire.EntityAddr]string{}, osdOfEP: map[string]int{}}
	cl.replicas = min(2, cl.nOSD-1)
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
	for i := 0; i < max(s.opts.Clients, 1); i++ {
		idx++
		cl.clients = append(cl.clients, newClient(cl, i, idx))
	}
	cl.probe = newProbe(cl, idx+1)
	return cl
}

func (cl *cluster) ipFor(idx int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 0, 1, byte(idx + 1)})
}

// primary is the OSD serving key; its replicas are the next ones by id.
func (cl *cluster) primary(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(cl.nOSD))
}

func (cl *cluster) replicasOf(p int) []int {
	rs := make([]int, cl.replicas)
	for i := range rs {
		rs[i] = (p + 1 + i) % cl.nOSD
	}
	return rs
}

func (cl *cluster) osdByEndpoint(ep string) (int, bool) {
	id, ok := cl.osdOfEP[ep]
	return id, ok
}

// objecterClient is the history's client id for an OSD's objecter.
func (cl *cluster) objecterClient(osd int) int { return len(cl.clients) + osd }

// active: the run is in its safety or liveness phase.
func (cl *cluster) active() bool { return cl.s.phase == PhaseSafety || cl.s.phase == PhaseLiveness }

// drawOp draws a client's next operation; values are unique, so a duplicated append shows.
func (cl *cluster) drawOp(client int, tid uint64) models.KVInput {
	key := cl.keys[cl.s.rand.IntN(len(cl.keys))]
	switch cl.s.rand.IntN(3) {
	case 0:
		return models.KVInput{Op: models.KVGet, Key: key}
	case 1:
		return models.KVInput{Op: models.KVPut, Key: key, Value: fmt.Sprintf("%d.%d", client, tid)}
	}
	return models.KVInput{Op: models.KVAppend, Key: key, Value: fmt.Sprintf("[%d.%d]", client, tid)}
}

// processes are the fault targets: the monitor, the OSDs and the clients.
func (cl *cluster) processes() []fault.Process {
	ps := []fault.Process{&cl.mon.cproc}
	for _, o := range cl.osds {
		ps = append(ps, &o.cproc)
	}
	for _, c := range cl.clients {
		ps = append(ps, &c.cproc)
	}
	return ps
}

func (cl *cluster) allProcs() []*cproc {
	ps := []*cproc{&cl.mon.cproc}
	for _, o := range cl.osds {
		ps = append(ps, &o.cproc)
	}
	for _, c := range cl.clients {
		ps = append(ps, &c.cproc)
	}
	return append(ps, &cl.probe.cproc)
}

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

// runCluster runs the cluster workload: safety phase (the lifecycle, client operations,
// faults) for Options.Window, liveness phase (healed: every operation answered, every
// replica caught up, every lossless message delivered), shutdown, then the model checks.
func (s *scenario) runCluster() Result {
	cl := newCluster(s)
	s.cl, s.kv = cl, &models.KVHistory{}
	if err := cl.mon.start(); err != nil {
		s.check.Violate(InvNoProgress, 0, "build: %v", err)
		return s.result()
	}
	s.w.Trace.Logf(0, "faults: %v", s.faults)
	s.w.Trace.Logf(0, "cluster: %d osds (%d replicas), %d clients × %d ops on %d keys, tick %v, retry %v, ready timeout %v, idle timeout %v",
		cl.nOSD, cl.replicas, len(cl.clients), cl.quota, len(cl.keys), cl.tick, cl.retry, cl.readyTimeout, cl.idleTimeout)
	cl.schedule()
	s.inj.Schedule()
	if err := s.w.RunUntil(func() bool { return s.w.Now() >= s.opts.Window }, s.opts.Window+time.Minute, s.opts.MaxSteps); err != nil {
		s.check.Violate(InvNoProgress, int64(s.w.Now()), "safety phase: %v", err)
		return s.result()
	}
	cl.liveness()
	s.check.Finish(int64(s.w.Now()))
	cl.checkReplicas()
	cl.shutdown()
	s.checkModels()
	return s.result()
}

// schedule plans the safety phase: staggered boots, periodic ticks, clean restarts, probes.
func (cl *cluster) schedule() {
	s := cl.s
	w := s.opts.Window
	cl.ticking = true
	start := func(p *cproc) func() {
		return func() {
			if err := p.restart(); err != nil {
				s.check.Violate(InvNoProgress, int64(s.w.Now()), "start %s: %v", p.name, err)
			}
		}
	}
	for _, o := range cl.osds {
		s.w.Schedule(time.Duration(s.rand.Uint64N(uint64(w/8))), start(&o.cproc))
		cl.every(time.Duration(s.rand.Uint64N(uint64(cl.tick))), o.tick)
		if s.rand.IntN(4) == 0 {
			s.w.Schedule(w/4+time.Duration(s.rand.Uint64N(uint64(w/2))), o.cleanRestart)
		}
	}
	for _, c := range cl.clients {
		s.w.Schedule(time.Duration(s.rand.Uint64N(uint64(w/4))), start(&c.cproc))
		cl.every(time.Duration(s.rand.Uint64N(uint64(cl.tick))), c.tick)
	}
	s.w.Schedule(0, start(&cl.probe.cproc))
	for k := 0; k < 3; k++ {
		k := k
		s.w.Schedule(w/8+time.Duration(s.rand.Uint64N(uint64(w/2))), func() { cl.probe.try(k) })
	}
}

// every runs fn at offset and then every tick while the cluster ticks.
func (cl *cluster) every(offset time.Duration, fn func()) {
	var run func()
	run = func() {
		if !cl.ticking {
			return
		}
		fn()
		cl.s.w.Schedule(cl.s.w.Now()+cl.tick, run)
	}
	cl.s.w.Schedule(offset, run)
}

// liveness heals every fault; then every client operation must be answered, every replica
// caught up and every lossless message delivered within the bound.
func (cl *cluster) liveness() {
	s := cl.s
	s.heal()
	if err := s.w.RunUntil(cl.settled, s.w.Now()+s.opts.Liveness, s.opts.MaxSteps); err != nil {
		now := int64(s.w.Now())
		if n := cl.unfinishedClients(); n > 0 {
			s.check.Violate(InvKVLiveness, now, "%d clients still have operations to finish after healing: %v", n, err)
		}
		if n := s.check.PendingLossless(); n > 0 || !cl.replicated() {
			s.check.Violate(InvLiveness, now, "%d lossless messages undelivered, replicas caught up: %v, after healing: %v",
				n, cl.replicated(), err)
		}
	}
	s.cov.Evaluated(InvKVLiveness, 1)
}

func (cl *cluster) settled() bool {
	return cl.unfinishedClients() == 0 && cl.replicated() && cl.s.check.PendingLossless() == 0
}

func (cl *cluster) unfinishedClients() int {
	n := 0
	for _, c := range cl.clients {
		if !c.alive || !c.done() {
			n++
		}
	}
	return n
}

func (cl *cluster) replicated() bool {
	for _, o := range cl.osds {
		if !o.Running() || !o.caughtUp() {
			return false
		}
	}
	return true
}

// checkReplicas: once caught up, every replica holds exactly its primary's values.
func (cl *cluster) checkReplicas() {
	s := cl.s
	for _, key := range cl.keys {
		p := cl.primary(key)
		for _, r := range cl.replicasOf(p) {
			s.cov.Evaluated(InvReplicaDivergence, 1)
			if got, want := cl.osds[r].data[key], cl.osds[p].data[key]; got != want {
				s.check.Violate(InvReplicaDivergence, int64(s.w.Now()), "key %s: replica osd.%d has %q, primary osd.%d %q",
					key, r, got, p, want)
			}
		}
	}
}

// shutdown stops the ticks and every messenger of every live node, and runs until all are done.
func (cl *cluster) shutdown() {
	s := cl.s
	s.phase = PhaseShutdown
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
	if err := s.w.RunUntil(done, s.w.Now()+time.Minute, s.opts.MaxSteps); err != nil {
		s.check.Violate(InvShutdownStalled, int64(s.w.Now()), "%v", err)
		return
	}
	s.phase = PhaseDone
}

// summary renders the workload's own numbers for Result.Summary.
func (cl *cluster) summary() string {
	var b strings.Builder
	answered, unknown := 0, 0
	for _, op := range cl.s.kv.Ops() {
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
		cl.nOSD, len(cl.clients), len(cl.keys), cl.s.kv.Len(), answered, unknown, entries, cl.replicas)
	return b.String()
}
