package cluster

import (
	"fmt"
	"strconv"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/auth/cephx"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/harness"
)

// AuthCephx is Config.Auth for a cluster that runs cephx.
const AuthCephx = "cephx"

// cephxEpoch is the wall time of virtual time 0 for the cluster's cephx (ticket times).
var cephxEpoch = time.Unix(1_750_000_000, 0)

// clusterAuth is the cluster's cephx (Config.Auth = "cephx"): every key comes from the seed
// (a detrand.Reader), an in-process cephx.Monitor is the auth service (each node runs the
// cephx.Client handshake against it directly, not over the network), service tickets live
// TTL (80–200 ms of virtual time, as the seed draws it) and the service secrets rotate every
// TTL, so a ticket stops opening one to two TTLs after it was issued. Nodes renew their
// tickets before that, except now and then during the safety phase one renews late (2–3
// TTLs), and its new connections get BADAUTHORIZER until it does. OSDs open tickets with the
// monitor's current secrets (a daemon's rotating keys). Sessions to OSDs carry authorizers
// with the CEPHX_V2 challenge round and are signed; sessions to the monitor carry none and are
// not (Ceph's msgr1 clients authenticate with MAuth there, fact 1 of docs/cephx.md). The probe's
// bad-authorizer connector holds a ticket from a foreign monitor: its authorizer is refused.
type clusterAuth struct {
	cl      *Workload
	rnd     *detrand.Rand
	mon     *cephx.Monitor
	ttl     time.Duration
	nodes   []*authNode
	renewed int // renewals
	late    int // renewals made late
	rotated int // rotations
}

// authNode is one node's cephx: its entity, key and the messengers' cephx.
type authNode struct {
	p    *cproc
	name wire.AuthEntityName
	key  cephx.Key
	m    *cephx.Messenger
}

func (a *clusterAuth) reader() detrand.Reader { return detrand.Reader{R: a.rnd} }

func (a *clusterAuth) now() time.Time { return cephxEpoch.Add(a.cl.h.W.Now()) }

// setupAuth builds the cluster's cephx after the nodes are drawn: keys, the monitor, each
// node's cephx, the probe's foreign ticket.
func (cl *Workload) setupAuth() error {
	a := &clusterAuth{cl: cl, rnd: cl.h.Rand.Fork()}
	a.ttl = time.Duration(a.rnd.Range(80, 200)) * time.Millisecond
	kr := &cephx.Keyring{}
	add := func(p *cproc, t wire.EntityType) (*authNode, error) {
		n := &authNode{p: p, name: wire.AuthEntityName{Type: uint32(t), ID: strconv.FormatInt(p.ename.Num, 10)},
			m: cephx.NewMessenger(t)}
		var err error
		if n.key, err = cephx.NewAESKey(a.reader(), cephx.UtimeOf(cephxEpoch)); err != nil {
			return nil, err
		}
		kr.Entries = append(kr.Entries, cephx.KeyringEntry{Name: n.name, Key: n.key, Caps: map[string]string{"osd": "allow *"}})
		return n, nil
	}
	monAuth := cephx.NewMessenger(wire.EntityMon)
	cl.mon.public.auth = monAuth
	for _, o := range cl.osds {
		n, err := add(&o.cproc, wire.EntityOSD)
		if err != nil {
			return err
		}
		for _, x := range o.all {
			x.auth = n.m
		}
		a.nodes = append(a.nodes, n)
	}
	for _, c := range cl.clients {
		n, err := add(&c.cproc, wire.EntityClient)
		if err != nil {
			return err
		}
		c.x.auth = n.m
		a.nodes = append(a.nodes, n)
	}
	mon, err := cephx.NewMonitor(kr, a.reader(), 4100, cephxEpoch)
	if err != nil {
		return err
	}
	mon.SetServiceTicketTTL(a.ttl)
	a.mon = mon
	monAuth.SetServiceKeys(mon)
	for _, n := range a.nodes {
		if n.name.Type == uint32(wire.EntityOSD) {
			n.m.SetServiceKeys(mon)
		}
	}
	// The probe: a client of another cluster, with a ticket its monitor issued.
	foreignKr := &cephx.Keyring{}
	probe := &authNode{p: &cl.probe.cproc, name: wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "100"},
		m: cephx.NewMessenger(wire.EntityClient)}
	if probe.key, err = cephx.NewAESKey(a.reader(), cephx.UtimeOf(cephxEpoch)); err != nil {
		return err
	}
	foreignKr.Entries = []cephx.KeyringEntry{{Name: probe.name, Key: probe.key}}
	foreign, err := cephx.NewMonitor(foreignKr, a.reader(), 4100, cephxEpoch)
	if err != nil {
		return err
	}
	if err := a.authenticate(foreign, probe); err != nil {
		return err
	}
	cl.probe.badAuth.auth = probe.m
	for _, n := range a.nodes {
		if err := a.authenticate(mon, n); err != nil {
			return err
		}
	}
	cl.auth = a
	return nil
}

// authenticate runs node n's cephx handshake with monitor mon now and gives its messengers
// the tickets.
func (a *clusterAuth) authenticate(mon *cephx.Monitor, n *authNode) error {
	now := a.now()
	c := cephx.NewClient(cephx.ClientConfig{Name: n.name, Key: n.key, Rand: a.reader()})
	s := mon.NewSession()
	for req, i := c.Start(), 0; req != nil; i++ {
		if i > 8 {
			return fmt.Errorf("cephx: %s: the handshake does not end", n.p.name)
		}
		reply, err := s.Handle(req, now)
		if err != nil {
			return fmt.Errorf("cephx: %s: %w", n.p.name, err)
		}
		if req, err = c.Handle(reply, now); err != nil {
			return fmt.Errorf("cephx: %s: %w", n.p.name, err)
		}
	}
	n.m.SetTickets(c.GlobalID(), c.Tickets()...)
	return nil
}

// schedule plans the rotations (every TTL) and each node's renewals, while the cluster ticks.
func (a *clusterAuth) schedule() {
	h := a.cl.h
	var rotate func()
	rotate = func() {
		if !a.cl.ticking {
			return
		}
		if err := a.mon.Rotate(a.now()); err != nil {
			h.W.Trace.Logf(h.W.Now(), "cephx: rotate: %v", err)
			return
		}
		a.rotated++
		h.W.Trace.Logf(h.W.Now(), "cephx: service secrets rotated")
		h.W.Schedule(h.W.Now()+a.ttl, rotate)
	}
	h.W.Schedule(a.ttl, rotate)
	for _, n := range a.nodes {
		h.W.Schedule(a.nextRenewal(n), func() { a.renew(n) })
	}
}

// nextRenewal is when node n renews next: half to three quarters of a TTL from now, or,
// now and then during the safety phase, 2–3 TTLs (late: its ticket stops opening before).
func (a *clusterAuth) nextRenewal(n *authNode) time.Duration {
	h := a.cl.h
	if h.Phase == harness.PhaseSafety && a.rnd.IntN(8) == 0 {
		a.late++
		d := a.ttl*2 + time.Duration(a.rnd.Uint64N(uint64(a.ttl)))
		h.W.Trace.Logf(h.W.Now(), "cephx: %s will renew its tickets late, in %v", n.p.name, d)
		return h.W.Now() + d
	}
	return h.W.Now() + a.ttl/2 + time.Duration(a.rnd.Uint64N(uint64(a.ttl/4)))
}

func (a *clusterAuth) renew(n *authNode) {
	h := a.cl.h
	if !a.cl.ticking {
		return
	}
	if err := a.authenticate(a.mon, n); err != nil {
		h.W.Trace.Logf(h.W.Now(), "%v", err)
	} else {
		a.renewed++
	}
	h.W.Schedule(a.nextRenewal(n), func() { a.renew(n) })
}

func (a *clusterAuth) summary() string {
	return fmt.Sprintf("  cephx: ticket ttl %v, %d rotations, %d renewals (%d late)\n", a.ttl, a.rotated, a.renewed, a.late)
}
