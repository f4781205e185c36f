package cluster

import (
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/sim/harness"
)

// drive runs the cluster cfg on a harness of its own (sim.Run does the same, and more).
func drive(seed uint64, faults fault.Mix, cfg Config) (*harness.Run, *Workload) {
	h := harness.New(harness.Config{Seed: seed, Root: detrand.NewSeeded(seed), Faults: faults, Window: cfg.Window,
		Liveness: 10 * time.Minute, MaxSteps: 5_000_000, Models: models.CheckOptions{NoVisualize: true}})
	wl := New(h, cfg)
	h.Drive(wl)
	return h, wl
}

// Each OSD runs its six messengers with Ceph's policies per peer type (msgr1-protocol.md
// §7.2), bound where Ceph binds, on one host.
func TestClusterOSDMessengers(t *testing.T) {
	h, cl := drive(2, fault.None(), Config{OSDs: 3, Clients: 2, Messages: 40, Window: 200 * time.Millisecond})
	if h.Check.Failed() {
		t.Fatal(h.Check.Violations())
	}
	checked := 0
	for _, o := range cl.osds {
		if len(o.all) != 6 || len(o.msgrs) != 6 {
			t.Fatalf("%s has %d messengers (%d live)", o.name, len(o.all), len(o.msgrs))
		}
		want := map[string]map[wire.EntityType]proto.Policy{
			"public": {wire.EntityMon: proto.LossyClient(featOSDPeer), wire.EntityMgr: proto.LossyClient(featOSDPeer)},
			"cluster": {wire.EntityOSD: proto.LosslessPeer(featOSDPeer), wire.EntityMon: proto.LossyClient(0),
				wire.EntityClient: proto.StatelessServer(0)},
			"hb_client":       {wire.EntityOSD: proto.LossyClient(0)},
			"hb_back_server":  {wire.EntityOSD: proto.StatelessServer(0)},
			"hb_front_server": {wire.EntityOSD: proto.StatelessServer(0)},
			"objecter":        {wire.EntityOSD: proto.LossyClient(wire.FeatureOSDReplyMux)},
		}
		for _, x := range o.all {
			for typ, p := range want[x.role] {
				got := x.m.Policy(typ)
				got.ThrottlerBytes, got.ThrottlerMessages = 0, 0
				if got != p {
					t.Errorf("%s %s: policy for %v is %+v, want %+v", o.name, x.role, typ, got, p)
				}
			}
			if bound := x.m.MyAddr().Port() != 0; bound != x.bind || x.m.MyAddr().Addr.Addr() != o.ip && bound {
				t.Errorf("%s %s: address %v (should bind: %v)", o.name, x.role, x.m.MyAddr(), x.bind)
			}
			checked++
		}
		if p := o.public.m.Policy(wire.EntityClient); p.ThrottlerMessages != 256 || p.ThrottlerBytes != 500<<20 || !p.Lossy || !p.Server {
			t.Errorf("%s public: client policy %+v", o.name, p)
		}
	}
	if checked != 18 {
		t.Fatalf("checked %d messengers", checked)
	}
}

// BenchmarkKVCheckClusterHistory measures the KV model check on the history of a large
// cluster run (8 clients × 300 operations, 4 OSDs, swarm faults).
func BenchmarkKVCheckClusterHistory(b *testing.B) {
	h, _ := drive(7, fault.Swarm(detrand.NewSeeded(7)), Config{OSDs: 4, Clients: 8, Messages: 300, Window: 200 * time.Millisecond})
	if h.Check.Failed() {
		b.Fatal(h.Check.Violations())
	}
	ops := h.KV.Ops()
	for b.Loop() {
		if rep := models.CheckKV(ops, models.CheckOptions{NoVisualize: true}); !rep.OK() {
			b.Fatal(rep)
		}
	}
	b.ReportMetric(float64(len(ops)), "history-ops")
}
