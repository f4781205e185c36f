package sim

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
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
		for _, c := range []*Coverage{hot, direct} {
			// every invariant name and more names than the hot table keeps, some of one
			// length and first and last byte (they share a probe start)
			names := append(check.Names(), "")
			for i := range 3 * maxHotInvariants {
				names = append(names, fmt.Sprintf("inv-%c%03d-x", 'a'+i%3, i))
			}
			for i, name := range names {
				c.Evaluated(name, 1+(i+round)%4)
				if i%7 == 0 {
					c.Evaluated(names[i/2], 2)
				}
			}
			c.Evaluated("no-progress", 0)
		}
		hot.flush()
		if !reflect.DeepEqual(hot.Invariants, direct.Invariants) || len(hot.Invariants) < 3*maxHotInvariants {
			t.Fatalf("round %d: invariant counts differ (or too few):\nhot    %v\ndirect %v", round, hot.Invariants, direct.Invariants)
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
