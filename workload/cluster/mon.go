package cluster

import (
	"net/netip"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// monNode is the monitor-like node: it keeps the OSD map (which addresses each OSD
// incarnation has), learns it from the OSDs' boot messages and hands it to whoever asks,
// pushing each new epoch to the sessions that asked before. A monitor keeps its address
// (nonce 0) across restarts, and the map is durable.
type monNode struct {
	cproc
	public  *cmsgr
	monAddr wire.EntityAddr

	// Durable.
	epoch uint64
	osds  []osdInfo

	// Volatile: sessions to push new maps to.
	subs []monSub
}

type monSub struct {
	c  *msgr.Connection
	to string
}

// monPort is Ceph's msgr1 monitor port.
const monPort = 6789

func newMon(cl *Workload, idx int) *monNode {
	mon := &monNode{osds: make([]osdInfo, cl.nOSD)}
	mon.cproc = cproc{cl: cl, sockets: cl.h.NewSockets(), name: "mon.a", ename: wire.NewName(wire.EntityMon, 0), idx: idx, ip: cl.ipFor(idx), keepNonce: true}
	mon.public = &cmsgr{p: &mon.cproc, role: "", bind: true, port: monPort, fast: cl.h.Rand.Bool()}
	mon.public.handle, mon.public.onReset = mon.handle, mon.dropSub
	mon.monAddr = wire.EntityAddr{Type: wire.AddrLegacy, Addr: netip.AddrPortFrom(mon.ip, monPort)}
	mon.restart = mon.start
	return mon
}

// start: create, set Ceph's monitor policies, bind, start, add the dispatcher (ready).
func (mon *monNode) start() error {
	h := mon.cl.h
	mon.newHost()
	mon.subs = nil
	x := mon.public
	if err := x.create(mon.ename, wire.ProtoMonPeer, 1+h.Rand.IntN(2)); err != nil {
		return err
	}
	x.setPolicies(proto.StatelessServer(0), map[wire.EntityType]proto.Policy{
		wire.EntityMon: proto.LosslessPeerReuse(wire.FeatureMaskServerLuminous),
		wire.EntityOSD: proto.StatelessServer(wire.FeatureMaskServerLuminous), wire.EntityClient: proto.StatelessServer(0)})
	if err := x.bindAndStart(); err != nil {
		return err
	}
	x.init(h.Rand.Bool(), h.Rand.IntN(4) == 0)
	mon.monAddr = x.m.MyAddr()
	h.W.Trace.Logf(h.W.Now(), "%s up at %v (map epoch %d)", mon.incName(), mon.monAddr, mon.epoch)
	return nil
}

func (mon *monNode) addr() wire.EntityAddr { return mon.monAddr }

func (mon *monNode) handle(c *msgr.Connection, m *cmsg) {
	switch m.kind {
	case ckBoot:
		mon.boot(int(m.osd), uint32(m.tid), m.addrs)
		mon.sendMap(c, m.from)
	case ckGetMap:
		mon.subscribe(c, m.from)
		mon.sendMap(c, m.from)
	}
}

// boot records an OSD incarnation's addresses; a new incarnation is a new epoch (even at the
// same addresses), pushed to every subscriber.
func (mon *monNode) boot(id int, inc uint32, addrs osdAddrs) {
	if id < 0 || id >= len(mon.osds) {
		return
	}
	if e := mon.osds[id]; e.up && e.inc == inc && sameAddrs(e.addrs, addrs) {
		return
	}
	mon.epoch++
	mon.osds[id] = osdInfo{up: true, addrs: addrs, inc: inc, upFrom: mon.epoch}
	for _, sub := range mon.subs {
		mon.sendMap(sub.c, sub.to)
	}
}

func (mon *monNode) sendMap(c *msgr.Connection, to string) {
	mon.public.send(c, to, false, &cmsg{kind: ckMap, tid: mon.epoch, osds: mon.osds}) // encoded at once: no copy
}

func (mon *monNode) subscribe(c *msgr.Connection, to string) {
	for _, sub := range mon.subs {
		if sub.c == c {
			return
		}
	}
	mon.subs = append(mon.subs, monSub{c: c, to: to})
}

func (mon *monNode) dropSub(c *msgr.Connection) {
	kept := mon.subs[:0]
	for _, sub := range mon.subs {
		if sub.c != c {
			kept = append(kept, sub)
		}
	}
	mon.subs = kept
}

// osdView is what a node knows of the OSD map.
type osdView struct {
	epoch uint64
	osds  []osdInfo // nil: no map yet
	spare []osdInfo // the storage of the map before osds (update's old), reused by the next update
}

func (v *osdView) get(id int) (osdInfo, bool) {
	if id < 0 || id >= len(v.osds) {
		return osdInfo{}, false
	}
	return v.osds[id], true
}

// update takes map m if it is newer (a copy of its entries: m is the message being
// dispatched); it returns the previous entries, valid until the next update, and which OSDs
// changed.
func (v *osdView) update(m *cmsg) (old []osdInfo, changed []int) {
	if m.tid <= v.epoch && v.osds != nil {
		return nil, nil
	}
	old = v.osds
	for i, o := range m.osds {
		if i >= len(old) || old[i].up != o.up || old[i].upFrom != o.upFrom || !sameAddrs(old[i].addrs, o.addrs) {
			changed = append(changed, i)
		}
	}
	var osds []osdInfo
	if len(m.osds) > 0 {
		osds = append(v.spare[:0], m.osds...)
	}
	v.epoch, v.osds, v.spare = m.tid, osds, old
	if len(old) < len(m.osds) {
		old = append(old, make([]osdInfo, len(m.osds)-len(old))...)
	}
	return old, changed
}

// sameAddr compares addresses by what identifies an instance: IP, port and nonce.
func sameAddr(a, b wire.EntityAddr) bool { return a.Addr == b.Addr && a.Nonce == b.Nonce }

func sameAddrs(a, b osdAddrs) bool {
	for i := range a {
		if !sameAddr(a[i], b[i]) {
			return false
		}
	}
	return true
}
