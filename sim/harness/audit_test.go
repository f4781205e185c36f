package harness

import (
	"net/netip"
	"testing"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
)

// underflow drives t below zero as a double release would (Put panics, the count stays
// negative).
func underflow(t *msgr.Throttle) {
	defer func() { _ = recover() }()
	t.Put(t.Current() + 1)
}

// The auditor lists a messenger's throttles only when ThrottleGeneration moved, but reads
// their counts at every audit: a count that goes negative in an unchanged list is reported,
// and so is one in a throttle that replaced another after the last listing.
func TestAuditorSeesThrottleChanges(t *testing.T) {
	r, _ := newRun(1)
	m, err := msgr.New(msgr.Config{Name: wire.NewName(wire.EntityOSD, 0), Stack: r.W.AddHost("osd.0", netip.MustParseAddr("10.0.0.1")),
		Runtime: r.W, Rand: r.W.Rand(), ClusterProtocol: 10})
	if err != nil {
		t.Fatal(err)
	}
	m.SetPolicyThrottlers(wire.EntityClient, 1<<20, 10)
	r.Audit.Add("osd.0", m)
	r.Audit.AfterStep(nil)
	negative := func() int {
		n := 0
		for _, v := range r.Check.Violations() {
			if v.Name == check.InvThrottleNeg {
				n++
			}
		}
		return n
	}
	if n := negative(); n != 0 {
		t.Fatalf("%d throttle-negative reports on fresh throttles", n)
	}
	find := func(name string) *msgr.Throttle {
		for _, x := range m.Throttles() {
			if x.Name == name {
				return x.Throttle
			}
		}
		t.Fatalf("no throttle %s", name)
		return nil
	}
	underflow(find("client/messages")) // the list unchanged, a count negative
	r.Audit.AfterStep(nil)
	if n := negative(); n != 1 {
		t.Fatalf("%d throttle-negative reports after client/messages went negative, want 1", n)
	}
	m.SetPolicyThrottlers(wire.EntityOSD, 1<<20, 10) // the list changed since it was last read
	underflow(find("osd/bytes"))
	r.Audit.AfterStep(nil)
	if n := negative(); n != 2 {
		t.Fatalf("%d throttle-negative reports after a new throttle went negative, want 2: %v", n, r.Check.Violations())
	}
}

// The audits' step invariants are counted in bulk: once flushed (Drive does, as it returns)
// the counter has one evaluation of each per audit, as if each audit had counted its own.
func TestAuditorCountsEveryAudit(t *testing.T) {
	r, c := newRun(1)
	m, err := msgr.New(msgr.Config{Name: wire.NewName(wire.EntityOSD, 0), Stack: r.W.AddHost("osd.0", netip.MustParseAddr("10.0.0.1")),
		Runtime: r.W, Rand: r.W.Rand(), ClusterProtocol: 10})
	if err != nil {
		t.Fatal(err)
	}
	r.Audit.Add("osd.0", m)
	for range 5 {
		r.Audit.AfterStep(nil)
	}
	r.Audit.FlushCounts()
	r.Audit.AfterStep(nil)
	r.Audit.AfterStep(nil)
	r.Audit.FlushCounts()
	r.Audit.FlushCounts()
	for _, inv := range []string{check.InvRegistryClosed, check.InvRegistryDup, check.InvThrottleNeg, check.InvPanic} {
		if c.evaluated[inv] != 7 || r.Audit.Audits() != 7 {
			t.Errorf("%s evaluated %d times in %d audits, want 7", inv, c.evaluated[inv], r.Audit.Audits())
		}
	}
}
