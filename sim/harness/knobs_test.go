package harness

import (
	"reflect"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Backoff fills in the end the knobs left at its default so that initial ≤ max; Features
// drops exactly the bits the knobs drop for that node.
func TestKnobsBackoffAndFeatures(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct{ init, max, wantInit, wantMax time.Duration }{
		{0, 0, 0, 0},
		{0, 50 * ms, 50 * ms, 50 * ms},
		{0, time.Second, 200 * ms, time.Second},
		{5 * ms, 0, 5 * ms, 15 * time.Second},
		{5 * ms, 40 * ms, 5 * ms, 40 * ms},
	} {
		i, m := Knobs{InitialBackoff: c.init, MaxBackoff: c.max}.Backoff()
		if i != c.wantInit || m != c.wantMax {
			t.Errorf("Backoff(%v, %v) = %v, %v; want %v, %v", c.init, c.max, i, m, c.wantInit, c.wantMax)
		}
	}
	all := wire.FeatureReconnectSeq | wire.FeatureMsgAuth | 1
	k := Knobs{LegacyNodes: 1 << 2, OldFooterNodes: 1<<2 | 1<<3}
	for node, want := range map[int]uint64{ //lint:ordered (each case independent)
		0: all,
		2: 1,
		3: all &^ wire.FeatureMsgAuth,
	} {
		if got := k.Features(node, all); got != want {
			t.Errorf("node %d: features %#x, want %#x", node, got, want)
		}
	}
}

// Apply sets what the knobs draw and leaves the workload's own values for the knobs at their
// default; a drawn initial backoff keeps the workload's cap when that is at least as long.
func TestKnobsApplyKeepsTheWorkloadsOwn(t *testing.T) {
	ms := time.Millisecond
	own := msgr.Config{Workers: 6, DispatchThrottleBytes: 1 << 20, ReadyTimeout: time.Minute, MaxBackoff: time.Second}
	for _, c := range []struct {
		k    Knobs
		want msgr.Config
	}{
		{Knobs{}, own},
		{Knobs{Prefetch: 7, Workers: 2, DispatchBytes: 512, IdleTimeout: 100 * ms},
			msgr.Config{PrefetchSize: 7, Workers: 2, DispatchThrottleBytes: 512, ReadyTimeout: time.Minute, IdleTimeout: 100 * ms, MaxBackoff: time.Second}},
		{Knobs{InitialBackoff: 5 * ms}, msgr.Config{Workers: 6, DispatchThrottleBytes: 1 << 20, ReadyTimeout: time.Minute,
			InitialBackoff: 5 * ms, MaxBackoff: time.Second}},
		{Knobs{MaxBackoff: 50 * ms}, msgr.Config{Workers: 6, DispatchThrottleBytes: 1 << 20, ReadyTimeout: time.Minute,
			InitialBackoff: 50 * ms, MaxBackoff: 50 * ms}},
	} {
		got := own
		c.k.Apply(&got)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("knobs %v: config %+v, want %+v", c.k, got, c.want)
		}
	}
	var none msgr.Config
	Knobs{InitialBackoff: 5 * ms}.Apply(&none)
	if none.InitialBackoff != 5*ms || none.MaxBackoff != 15*time.Second {
		t.Errorf("backoff knob without a cap of the workload's: %v, %v", none.InitialBackoff, none.MaxBackoff)
	}
	p := Knobs{ThrottleBytes: 300}.Policy(0, proto.Policy{ThrottlerMessages: 9, FeaturesSupported: 1})
	if p.ThrottlerBytes != 300 || p.ThrottlerMessages != 9 || p.FeaturesSupported != 1 {
		t.Errorf("policy %+v: want the byte throttle drawn, the message throttle and features kept", p)
	}
}
