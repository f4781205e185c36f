package cluster

import (
	"errors"
	"io"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/harness"
)

// probeNode is a misconfigured machine that tries to join the cluster now and then, so the
// accept side's rejections are exercised: an OSD of an incompatible release (cluster
// protocol 9: BADPROTOVER), an OSD lacking CEPH_FEATURE_OSDENC (FEATURES), and a client
// whose authorizer is garbage (BADAUTHORIZER) — with cephx, a client holding a ticket from a
// foreign monitor (auth.go), refused the same way. Each is a lossy connector, so a rejection
// ends its connection.
type probeNode struct {
	cproc
	badProto, noFeatures, badAuth *cmsgr
}

func newProbe(cl *Workload, idx int) *probeNode {
	p := &probeNode{}
	p.cproc = cproc{cl: cl, sockets: cl.h.NewSockets(), name: "probe", ename: wire.NewName(wire.EntityOSD, 100), idx: idx, ip: cl.ipFor(idx)}
	p.badProto = &cmsgr{p: &p.cproc, role: "bad-protocol", slot: 0}
	p.noFeatures = &cmsgr{p: &p.cproc, role: "no-osdenc", slot: 1}
	p.badAuth = &cmsgr{p: &p.cproc, role: "bad-authorizer", slot: 2, auth: garbageAuth{}}
	p.restart = p.start
	return p
}

func (p *probeNode) start() error {
	h := p.cl.h
	p.newHost()
	for _, m := range []struct {
		x     *cmsgr
		name  wire.EntityName
		proto uint32
		pol   proto.Policy
	}{
		{p.badProto, wire.NewName(wire.EntityOSD, 100), wire.ProtoOSDPeer - 1, proto.LossyClient(0)},
		{p.noFeatures, wire.NewName(wire.EntityOSD, 101), wire.ProtoOSDPeer, noOSDEnc(proto.LossyClient(0))},
		{p.badAuth, wire.NewName(wire.EntityClient, 100), 0, proto.LossyClient(0)},
	} {
		m.x.nonce = h.W.Rand().Uint32() | 1
		if err := m.x.create(m.name, m.proto, 1); err != nil {
			return err
		}
		m.x.setPolicies(m.pol, nil)
		if err := m.x.bindAndStart(); err != nil {
			return err
		}
		m.x.init(false, false)
	}
	return nil
}

func noOSDEnc(p proto.Policy) proto.Policy {
	p.FeaturesSupported &^= wire.FeatureOSDEnc
	return p
}

// try makes probe k (0 bad protocol, 1 missing features, 2 bad authorizer) connect to a
// running OSD: to its cluster messenger for the first two, its public one for the last.
func (p *probeNode) try(k int) {
	cl := p.cl
	if !p.Running() || cl.h.Phase != harness.PhaseSafety {
		return
	}
	o := cl.osds[cl.h.Rand.IntN(len(cl.osds))]
	if !o.Running() {
		return
	}
	x, target := []*cmsgr{p.badProto, p.noFeatures, p.badAuth}[k], o.cluster
	if k == 2 {
		target = o.public
	}
	cl.h.W.Trace.Logf(cl.h.W.Now(), "probe: %s connects to %s", x.role, target.endpoint())
	x.connect(wire.EntityOSD, target.m.MyAddr())
}

// garbageAuth sends an authorizer that claims to be auth none but does not decode, and
// accepts none.
type garbageAuth struct{}

func (garbageAuth) Client(wire.EntityType, io.Reader) msgr.ClientAuth { return garbageAuth{} }
func (garbageAuth) Server(io.Reader) msgr.ServerAuth                  { return garbageAuth{} }
func (garbageAuth) Authorizer() (uint32, []byte)                      { return wire.AuthNone, []byte{0xff, 0xff} }
func (garbageAuth) Challenge([]byte) error                            { return errGarbageAuth }
func (garbageAuth) Done([]byte) (msgr.AuthSession, error)             { return nil, nil }

func (garbageAuth) Verify(wire.EntityType, uint32, []byte, uint64) msgr.AuthVerdict {
	return msgr.AuthVerdict{Result: -1, Reason: errGarbageAuth}
}

var errGarbageAuth = errors.New("probe: garbage authorizer")
