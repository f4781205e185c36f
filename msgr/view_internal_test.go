package msgr

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/simnet"
)

// sliceErr is an error whose values cannot be compared with == (it holds a slice).
type sliceErr struct{ at []int }

func (e sliceErr) Error() string { return fmt.Sprint("slice error ", e.at) }

// publish skips a locked section that changed nothing the view shows, and compares the last
// fault by its generation, never by value: a fault that changes nothing else (the same state
// and sequence numbers) is still published, and errors that == cannot compare do not panic.
func TestPublishFollowsFaults(t *testing.T) {
	n := simnet.New(simnet.NewClock(), detrand.NewSeeded(1), simnet.Config{})
	h := n.AddHost("h", netip.MustParseAddr("10.0.0.1"))
	m, err := New(Config{Stack: h, Name: wire.EntityName{Type: wire.EntityClient, Num: 1}, Runtime: noRuntime{}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := m.ConnectTo(wire.EntityOSD, wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.2:6800"), 1))
	if err != nil {
		t.Fatal(err)
	}
	errA := errors.New("fault a")
	for i, fault := range []error{errA, sliceErr{[]int{1}}, sliceErr{[]int{2}}, errA, nil} {
		c.mu.Lock()
		if fault != nil {
			(*connHost)(c).Faulted(c.p.State(), fault)
		}
		c.unlock()
		want := fault
		if fault == nil { // a section that changed nothing: the view keeps the last fault
			want = errA
		}
		if got := c.LastFault(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after fault %d (%v): LastFault is %v", i, fault, got)
		}
	}
}
