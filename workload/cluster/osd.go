package cluster

import (
	"fmt"
	"time"

	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// osdNode is an OSD-like node: six messengers (public, cluster, hb_client, hb_back_server,
// hb_front_server, objecter) with Ceph's policies; the primary of some keys, a replica of
// others.
type osdNode struct {
	cproc
	id                                int
	public, cluster, hbClient, hbBack *cmsgr
	hbFront, objecter                 *cmsgr
	all                               []*cmsgr
	registeredServer                  bool // public messenger: stateless_registered_server (newer Ceph)

	// Durable state (an OSD's disk): it survives crashes and restarts.
	data    map[string]string // every key this OSD holds, as primary or replica
	applied map[reqKey]uint64 // primary: client request → log index of its effect (dedupe)
	log     []logEntry        // primary: the updates it applied, in order (index = position+1)
	next    []uint64          // replica: next log index expected from each primary

	// Volatile state, lost with the incarnation.
	view    osdView
	acked   []uint64            // primary: highest index each replica acknowledged
	sentTo  []uint64            // primary: highest index sent to each replica on this session
	ackedAt []time.Duration     // primary: when each replica last made progress (or sending began)
	waiters map[uint64][]waiter // primary: log index → answers due once it is replicated
	objTid  uint64
	objOps  map[uint64]int // objecter reads in flight: tid → history operation
}

// reqKey identifies a client request across retries (Ceph's osd_reqid_t: client and tid).
type reqKey struct {
	client string
	tid    uint64
}

type logEntry struct {
	op         models.KVOpKind
	key, value string
}

// waiter is a client to answer once a log entry is replicated.
type waiter struct {
	c   *msgr.Connection
	to  string
	tid uint64
}

// OSD messenger roles, in Ceph's order.
var osdRoles = []string{"public", "cluster", "hb_client", "hb_back_server", "hb_front_server", "objecter"}

func newOSD(cl *Workload, id, idx int) *osdNode {
	o := &osdNode{id: id, data: map[string]string{}, applied: map[reqKey]uint64{}, next: make([]uint64, cl.nOSD)}
	o.cproc = cproc{cl: cl, sockets: cl.h.NewSockets(), name: fmt.Sprintf("osd.%d", id), ename: wire.NewName(wire.EntityOSD, int64(id)), idx: idx,
		ip: cl.ipFor(idx)}
	for i := range o.next {
		o.next[i] = 1
	}
	for i, role := range osdRoles {
		x := &cmsgr{p: &o.cproc, role: role, slot: i, bind: role != "hb_client" && role != "objecter", fast: cl.h.Rand.Bool()}
		o.all = append(o.all, x)
	}
	o.public, o.cluster, o.hbClient, o.hbBack, o.hbFront, o.objecter = o.all[0], o.all[1], o.all[2], o.all[3], o.all[4], o.all[5]
	o.public.handle, o.cluster.handle = o.handlePublic, o.handleCluster
	o.hbBack.handle, o.hbFront.handle = o.handlePing, o.handlePing
	o.hbClient.handle, o.objecter.handle = func(*msgr.Connection, *cmsg) {}, o.handleObjecterReply
	o.cluster.onReset = o.clusterReset
	o.registeredServer = cl.h.Rand.Bool()
	o.restart = o.start
	return o
}

// start runs an incarnation through Ceph's lifecycle, in an order the seed draws: create the
// six messengers and set their policies, bind and start them, add the dispatchers (ready),
// then boot (tell the monitor our addresses).
//
// A restarted OSD announces new nonces, except now and then one that gets the same ones (a
// containerized OSD whose nonce comes from its pid): its peers then reach the new instance
// at the old addresses, with the sessions it forgot (RESETSESSION, a peer restart).
func (o *osdNode) start() error {
	h := o.cl.h
	keep := o.inc > 0 && h.Rand.IntN(4) == 0
	o.newHost()
	o.resetVolatile()
	base := h.W.Rand().Uint32() &^ 0xff
	if keep {
		h.W.Trace.Logf(h.W.Now(), "%s keeps its nonces (pid-based, as in a container)", o.incName())
	}
	for _, i := range perm(h.Rand, len(o.all)) {
		x := o.all[i]
		if !keep {
			x.nonce = base | uint32(i+1)
		}
		if err := x.create(o.ename, wire.ProtoOSDPeer, 1+h.Rand.IntN(2)); err != nil {
			return err
		}
		o.setPolicies(x)
	}
	for _, i := range perm(h.Rand, len(o.all)) {
		if err := o.all[i].bindAndStart(); err != nil {
			return err
		}
	}
	for _, i := range perm(h.Rand, len(o.all)) {
		o.all[i].init(h.Rand.Bool(), h.Rand.IntN(4) == 0)
	}
	h.W.Trace.Logf(h.W.Now(), "%s up: public %v cluster %v hb_back %v hb_front %v", o.incName(),
		o.public.m.MyAddr(), o.cluster.m.MyAddr(), o.hbBack.m.MyAddr(), o.hbFront.m.MyAddr())
	o.boot()
	return nil
}

func (o *osdNode) resetVolatile() {
	n := o.cl.nOSD
	o.view = osdView{}
	o.acked, o.sentTo, o.ackedAt = make([]uint64, n), make([]uint64, n), make([]time.Duration, n)
	o.waiters, o.objOps = map[uint64][]waiter{}, map[uint64]int{}
}

// setPolicies gives each messenger Ceph's policies (msgr1-protocol.md §7.2).
func (o *osdNode) setPolicies(x *cmsgr) {
	switch x.role {
	case "public":
		def := proto.StatelessServer(0)
		if o.registeredServer {
			def = proto.StatelessRegisteredServer(0) // newer revisions
		}
		x.setPolicies(def, map[wire.EntityType]proto.Policy{
			wire.EntityMon: proto.LossyClient(featOSDPeer), wire.EntityMgr: proto.LossyClient(featOSDPeer)})
		x.m.SetPolicyThrottlers(wire.EntityClient, 500<<20, 256)
	case "cluster":
		x.setPolicies(proto.StatelessServer(0), map[wire.EntityType]proto.Policy{
			wire.EntityMon: proto.LossyClient(0), wire.EntityOSD: proto.LosslessPeer(featOSDPeer),
			wire.EntityClient: proto.StatelessServer(0)})
	case "hb_client":
		x.setPolicies(proto.LossyClient(0), nil)
	case "hb_back_server", "hb_front_server":
		x.setPolicies(proto.StatelessServer(0), nil)
	case "objecter":
		x.setPolicies(proto.LossyClient(wire.FeatureOSDReplyMux), nil)
	}
}

func (o *osdNode) myAddrs() osdAddrs {
	return osdAddrs{o.public.m.MyAddr(), o.cluster.m.MyAddr(), o.hbBack.m.MyAddr(), o.hbFront.m.MyAddr()}
}

// boot tells the monitor our addresses (MOSDBoot), over the public messenger.
func (o *osdNode) boot() {
	mon := o.cl.mon
	if c := o.public.connect(wire.EntityMon, mon.addr()); c != nil {
		o.public.send(c, mon.public.endpoint(), false, &cmsg{kind: ckBoot, osd: int32(o.id), tid: uint64(o.inc), addrs: o.myAddrs()})
	}
}

// tick is the OSD's periodic work: heartbeat every peer on both networks, refresh the map
// (booting again if the monitor does not have our addresses), push replication, and now and
// then read a key through the objecter.
func (o *osdNode) tick() {
	if !o.Running() {
		return
	}
	if me, ok := o.view.get(o.id); !ok || !me.up || me.inc != uint32(o.inc) || !sameAddrs(me.addrs, o.myAddrs()) {
		o.boot()
	} else {
		o.askMap()
	}
	o.heartbeat()
	o.resendStalled()
	o.replicateAll()
	if o.cl.h.Rand.IntN(4) == 0 {
		o.objecterRead()
	}
}

func (o *osdNode) askMap() {
	mon := o.cl.mon
	if c := o.public.connect(wire.EntityMon, mon.addr()); c != nil {
		o.public.send(c, mon.public.endpoint(), false, &cmsg{kind: ckGetMap})
	}
}

func (o *osdNode) heartbeat() {
	for _, q := range o.cl.osds {
		info, ok := o.view.get(q.id)
		if q == o || !ok || !info.up {
			continue
		}
		for _, a := range []struct {
			i    int
			role *cmsgr
		}{{addrHBBack, q.hbBack}, {addrHBFront, q.hbFront}} {
			if c := o.hbClient.connect(wire.EntityOSD, info.addrs[a.i]); c != nil {
				o.hbClient.send(c, a.role.endpoint(), false, &cmsg{kind: ckPing, osd: int32(o.id), tid: uint64(o.cl.h.W.Now())})
			}
		}
	}
}

// handlePing answers a heartbeat on the connection it came on.
func (o *osdNode) handlePing(c *msgr.Connection, m *cmsg) {
	if m.kind != ckPing {
		return
	}
	x := o.hbBack
	if c.Messenger() == o.hbFront.m {
		x = o.hbFront
	}
	x.send(c, m.from, false, &cmsg{kind: ckPingReply, osd: int32(o.id), tid: m.tid})
}

// handlePublic serves the public messenger: client operations and monitor maps.
func (o *osdNode) handlePublic(c *msgr.Connection, m *cmsg) {
	switch m.kind {
	case ckOp:
		o.handleOp(c, m)
	case ckMap:
		o.learnMap(m)
	}
}

// handleOp executes a client operation as the key's primary. A read is answered at once; an
// update is applied once — a retried request (same client and tid) finds its log index —
// replicated, and answered when every replica has it.
func (o *osdNode) handleOp(c *msgr.Connection, m *cmsg) {
	if o.cl.primary(m.key) != o.id {
		return
	}
	if m.op == models.KVGet {
		o.public.send(c, m.from, false, &cmsg{kind: ckOpReply, tid: m.tid, key: m.key, value: o.data[m.key]})
		return
	}
	rk := reqKey{m.from, m.tid}
	idx, seen := o.applied[rk]
	if !seen || canaryNoDedupe() {
		idx = o.apply(rk, logEntry{op: m.op, key: m.key, value: m.value})
	}
	if o.replicated(idx) {
		o.public.send(c, m.from, false, &cmsg{kind: ckOpReply, tid: m.tid, key: m.key})
		return
	}
	o.waiters[idx] = append(o.waiters[idx], waiter{c: c, to: m.from, tid: m.tid})
	o.replicateAll()
}

// apply appends an update to the log and applies it to our copy.
func (o *osdNode) apply(rk reqKey, e logEntry) uint64 {
	o.log = append(o.log, e)
	idx := uint64(len(o.log))
	o.applied[rk] = idx
	applyEntry(o.data, e)
	return idx
}

func applyEntry(data map[string]string, e logEntry) {
	switch e.op {
	case models.KVPut:
		data[e.key] = e.value
	case models.KVAppend:
		data[e.key] += e.value
	}
}

// replicated reports whether every replica acknowledged log index idx.
func (o *osdNode) replicated(idx uint64) bool {
	for _, r := range o.cl.replicasOf(o.id) {
		if o.acked[r] < idx {
			return false
		}
	}
	return true
}

// replicateAll sends each replica the log entries it lacks, at most replWindow beyond what
// it acknowledged, each once per session (a reset makes them due again).
func (o *osdNode) replicateAll() {
	if !o.Running() {
		return
	}
	for _, r := range o.cl.replicasOf(o.id) {
		o.replicateTo(r)
	}
}

const replWindow = 32

func (o *osdNode) replicateTo(r int) {
	info, ok := o.view.get(r)
	if !ok || !info.up {
		return
	}
	to := o.cl.osds[r].cluster.endpoint()
	if o.sentTo[r] == o.acked[r] {
		o.ackedAt[r] = o.cl.h.W.Now()
	}
	for o.sentTo[r] < uint64(len(o.log)) && o.sentTo[r] < o.acked[r]+replWindow {
		c := o.cluster.connect(wire.EntityOSD, info.addrs[addrCluster])
		if c == nil {
			return
		}
		o.sentTo[r]++
		e := o.log[o.sentTo[r]-1]
		o.cluster.send(c, to, true, &cmsg{kind: ckRepl, osd: int32(o.id), tid: o.sentTo[r], op: e.op, key: e.key, value: e.value})
	}
}

// handleCluster serves the cluster messenger: log entries from primaries, and their
// acknowledgements from our replicas.
func (o *osdNode) handleCluster(c *msgr.Connection, m *cmsg) {
	p := int(m.osd)
	if p < 0 || p >= o.cl.nOSD {
		return
	}
	switch m.kind {
	case ckRepl:
		if m.tid == o.next[p] {
			applyEntry(o.data, logEntry{op: m.op, key: m.key, value: m.value})
			o.next[p]++
		}
		o.cluster.send(c, o.cl.osds[p].cluster.endpoint(), true, &cmsg{kind: ckReplAck, osd: m.osd, tid: o.next[p] - 1})
	case ckReplAck:
		o.handleAck(m)
	}
}

// handleAck records a replica's progress and answers the clients whose updates are now
// replicated everywhere.
func (o *osdNode) handleAck(m *cmsg) {
	r, ok := o.cl.osdByEndpoint(m.from)
	if !ok || int(m.osd) != o.id || m.tid > uint64(len(o.log)) {
		return
	}
	if m.tid > o.acked[r] {
		o.acked[r], o.ackedAt[r] = m.tid, o.cl.h.W.Now()
	}
	o.sentTo[r] = max(o.sentTo[r], o.acked[r])
	o.answerWaiters()
	o.replicateTo(r)
}

func (o *osdNode) answerWaiters() {
	for idx := uint64(1); idx <= uint64(len(o.log)); idx++ {
		ws, ok := o.waiters[idx]
		if !ok || !o.replicated(idx) {
			continue
		}
		delete(o.waiters, idx)
		for _, w := range ws {
			o.public.send(w.c, w.to, false, &cmsg{kind: ckOpReply, tid: w.tid})
		}
	}
}

// replStall is how long a replica may leave entries unacknowledged before they are sent
// again: an acknowledgement can be lost without this side hearing of a reset (the replica
// restarted at the same address, its answers lost with its old instance).
const replStall = 200 * time.Millisecond

// resendStalled sends again what a replica has not acknowledged for replStall.
func (o *osdNode) resendStalled() {
	now := o.cl.h.W.Now()
	for _, r := range o.cl.replicasOf(o.id) {
		if o.sentTo[r] > o.acked[r] && now-o.ackedAt[r] > replStall {
			o.cl.h.W.Trace.Logf(now, "%s: replica osd.%d acknowledged nothing since %v: resend from %d", o.incName(), r, o.ackedAt[r], o.acked[r]+1)
			o.sentTo[r] = o.acked[r]
		}
	}
}

// clusterReset: a session with a peer was reset, so what we sent it may be lost: send again
// from what it acknowledged.
func (o *osdNode) clusterReset(c *msgr.Connection) {
	q, ok := o.cl.osdByEndpoint(o.cl.endpoints[c.PeerAddr()])
	if !ok {
		return
	}
	o.sentTo[q] = o.acked[q]
	o.replicateTo(q)
}

// learnMap takes a newer map: sessions with an OSD's previous instance are marked down (it is
// gone, even if the new one has the same addresses), what it had not acknowledged is due
// again, and replication goes on to the new instance.
func (o *osdNode) learnMap(m *cmsg) {
	old, changed := o.view.update(m)
	for _, q := range changed {
		if q == o.id || !old[q].addrs[addrPublic].Addr.IsValid() {
			continue
		}
		o.cluster.markDown(wire.EntityOSD, old[q].addrs[addrCluster])
		o.hbClient.markDown(wire.EntityOSD, old[q].addrs[addrHBBack])
		o.hbClient.markDown(wire.EntityOSD, old[q].addrs[addrHBFront])
		o.objecter.markDown(wire.EntityOSD, old[q].addrs[addrPublic])
		o.sentTo[q] = o.acked[q]
	}
	o.replicateAll()
}

// objecterRead reads a random key from its primary, as an OSD's Objecter does for its own
// purposes; the read is part of the checked history (no retry: if no answer comes, it is
// unknown).
func (o *osdNode) objecterRead() {
	cl := o.cl
	key := cl.keys[cl.h.Rand.IntN(len(cl.keys))]
	p := cl.primary(key)
	info, ok := o.view.get(p)
	if p == o.id || !ok || !info.up {
		return
	}
	c := o.objecter.connect(wire.EntityOSD, info.addrs[addrPublic])
	if c == nil {
		return
	}
	o.objTid++
	tid := o.objTid
	o.objOps[tid] = cl.h.KV.Invoke(cl.objecterClient(o.id), models.KVInput{Op: models.KVGet, Key: key}, int64(cl.h.W.Now()))
	o.objecter.send(c, cl.osds[p].public.endpoint(), false, &cmsg{kind: ckOp, op: models.KVGet, key: key, tid: tid})
}

func (o *osdNode) handleObjecterReply(_ *msgr.Connection, m *cmsg) {
	if h, ok := o.objOps[m.tid]; ok && m.kind == ckOpReply {
		delete(o.objOps, m.tid)
		o.cl.h.KV.Return(h, m.value, int64(o.cl.h.W.Now()))
	}
}

// caughtUp reports whether every replica has the whole log and no client waits.
func (o *osdNode) caughtUp() bool {
	return o.replicated(uint64(len(o.log))) && len(o.waiters) == 0
}
