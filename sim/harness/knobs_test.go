package harness

import (
	"testing"
	"time"

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
