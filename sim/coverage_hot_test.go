package sim

import (
	"reflect"
	"testing"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Coverage counts state changes and tags in arrays during a run and adds them to its maps
// before they are read: the same counts as counting into the maps directly, however the
// reads and the counting interleave.
func TestCoverageHotCountsMatchTheMaps(t *testing.T) {
	hot, direct := NewCoverage(), NewCoverage()
	direct.hot = nil
	n := len(proto.AllStates())
	for round := range 3 {
		for _, c := range []*Coverage{hot, direct} {
			for i := range n * n {
				from, to := proto.State(i/n), proto.State((i*7+round)%n)
				c.Observe(msgr.TraceEvent{Kind: msgr.TraceState, From: from, To: to})
			}
			c.Observe(msgr.TraceEvent{Kind: msgr.TraceState, From: proto.State(n + 3), To: 0}) // out of range
			for tag := range 256 {
				if tag%(round+2) == 0 {
					c.TagWritten(tag%3 == 0, wire.Tag(tag))
					c.TagRead(tag%5 == 0, wire.Tag(tag))
				}
			}
		}
		if got, want := hot.Summary(), direct.Summary(); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: summaries differ:\nhot    %+v\ndirect %+v", round, got, want)
		}
	}
	merged := NewCoverage()
	merged.Merge(hot)
	if !reflect.DeepEqual(merged.Transitions, direct.Transitions) || !reflect.DeepEqual(merged.FrameSent, direct.FrameSent) {
		t.Fatal("a merge lost counts kept in arrays")
	}
}
