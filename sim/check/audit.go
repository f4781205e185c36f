package check

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Auditor checks the messenger-level invariants after every simulation step that ran one of a
// messenger's centers (or a workload job, which may touch any messenger):
//
//   - registry-closed: no closed connection is still registered for its address;
//   - registry-duplicate: no two live connections of one messenger are registered for the
//     same address;
//   - throttle-negative: no throttle holds fewer than zero units;
//
// and, once a messenger has shut down completely:
//
//   - throttle-leak: every throttle is back to zero;
//   - queue-leftover: its dispatch queue is empty (Ceph's test_msgr asserts this);
//   - listener-leftover: nothing listens on its address (only with SetListening).
//
// A problem is reported once (the first step it is seen), not at every step after.
type Auditor struct {
	check *Checker
	now   func() int64
	// centers and owners list every audited center and its messenger (parallel slices): the
	// default scenario's world has a dozen centers, and a scan of their pointers is cheaper
	// than a map lookup after every step. last is the index found last (steps often repeat a
	// center). A world of more than maxScanned centers looks them up in index (rebuilt after
	// Add and Remove).
	centers  []*event.Center
	owners   []*auditee
	last     int
	index    map[*event.Center]int
	stale    bool
	all      []*auditee
	reported map[string]bool
	audits   uint64
	cov      Counter // counts the invariants evaluated (nil: none)
	// listening reports whether something listens on an address (nil: InvListenerLeftover
	// is not checked); see SetListening
	listening func(netip.AddrPort) bool
	// uncounted are the audits whose step invariants are not yet counted (FlushCounts)
	uncounted int
	// scratch, reused by every audit
	claims   map[wire.EntityAddr]uint64
	registry []msgr.Registration
	conns    []*msgr.Connection
}

type auditee struct {
	name    string
	m       *msgr.Messenger
	done    bool   // shut down and audited for leftovers
	gen     uint64 // the messenger's Generation when its registry was last audited
	audited bool   // the registry was audited at least once
	// the messenger's throttles, listed when its ThrottleGeneration was tgen
	throttles []msgr.NamedThrottle
	tgen      uint64
	listed    bool
}

// NewAuditor returns an auditor reporting to check, stamping violations with now().
func NewAuditor(check *Checker, now func() int64) *Auditor {
	return &Auditor{check: check, now: now, reported: make(map[string]bool)}
}

// Add audits m (named name in reports) from now on.
func (a *Auditor) Add(name string, m *msgr.Messenger) {
	x := &auditee{name: name, m: m}
	a.all = append(a.all, x)
	for _, c := range m.Centers() {
		if i := slices.Index(a.centers, c); i >= 0 {
			a.owners[i] = x // as a map assignment would
			continue
		}
		if a.centers == nil { // room for a small world's centers at once
			a.centers, a.owners = make([]*event.Center, 0, 16), make([]*auditee, 0, 16)
		}
		a.centers = append(a.centers, c)
		a.owners = append(a.owners, x)
	}
	a.stale = true
}

// Remove stops auditing m (it crashed: its state is gone, not leaked).
func (a *Auditor) Remove(m *msgr.Messenger) {
	for i, x := range a.all {
		if x.m == m {
			a.all = append(a.all[:i], a.all[i+1:]...)
			break
		}
	}
	for _, c := range m.Centers() {
		if i := slices.Index(a.centers, c); i >= 0 {
			a.centers = slices.Delete(a.centers, i, i+1)
			a.owners = slices.Delete(a.owners, i, i+1)
		}
	}
	a.last, a.stale = 0, true
}

// maxScanned bounds the centers the auditor finds by a scan (see Auditor.centers).
const maxScanned = 32

// owner returns the auditee that owns center c, or nil.
func (a *Auditor) owner(c *event.Center) *auditee {
	if i := a.last; i < len(a.centers) && a.centers[i] == c {
		return a.owners[i]
	}
	if len(a.centers) > maxScanned {
		if a.stale || a.index == nil {
			a.index = make(map[*event.Center]int, len(a.centers))
			for i, x := range a.centers {
				a.index[x] = i
			}
			a.stale = false
		}
		i, ok := a.index[c]
		if !ok {
			return nil
		}
		a.last = i
		return a.owners[i]
	}
	for i, x := range a.centers {
		if x == c {
			a.last = i
			return a.owners[i]
		}
	}
	return nil
}

// Count counts every invariant evaluation in c from now on (the simulator's coverage).
func (a *Auditor) Count(c Counter) {
	a.FlushCounts()
	a.cov = c
}

// stepInvariants are what every audit evaluates.
var stepInvariants = [...]string{InvRegistryClosed, InvRegistryDup, InvThrottleNeg, InvPanic}

// FlushCounts adds the evaluations of the audits so far to the counter: an audit runs after
// every step, and four counter calls per step were a few percent of a run, so audits count
// them in bulk. It also flushes the Checker's (Checker.FlushCounts). Call it before the
// counter is read (harness.Run.Drive does, as it returns).
func (a *Auditor) FlushCounts() {
	a.check.FlushCounts() // and those the checker's recorder and monitor tallied
	if a.cov != nil && a.uncounted > 0 {
		for _, inv := range stepInvariants {
			a.cov.Evaluated(inv, a.uncounted)
		}
	}
	a.uncounted = 0
}

// Audits is how many messenger audits ran (each evaluates every invariant above).
func (a *Auditor) Audits() uint64 { return a.audits }

// AfterStep audits the messenger that owns center c, or every messenger when c is nil.
func (a *Auditor) AfterStep(c *event.Center) {
	if c == nil {
		for _, x := range a.all {
			a.audit(x)
		}
		return
	}
	if x := a.owner(c); x != nil {
		a.audit(x)
	}
}

func (a *Auditor) audit(x *auditee) {
	if x.done {
		return
	}
	a.audits++
	a.uncounted++ // evaluations of the four step invariants, counted in bulk (FlushCounts)
	// The registry invariants depend only on what Generation covers: re-read it only when
	// that moved (the same problems are found at the same step; an unchanged registry has
	// nothing new to report, each problem being reported once).
	if g := x.m.Generation(); !x.audited || g != x.gen {
		x.gen, x.audited = g, true
		a.auditRegistry(x)
	}
	// Which throttles there are changes only with ThrottleGeneration: list them only when it
	// moved; their counts are read at every audit.
	if g := x.m.ThrottleGeneration(); !x.listed || g != x.tgen {
		x.tgen, x.listed = g, true
		x.throttles = x.m.AppendThrottles(x.throttles[:0])
	}
	for _, t := range x.throttles {
		// auditGauge's test, inline and without the interface call: this runs for every
		// throttle after every step.
		if t.Throttle.Current() < 0 {
			a.auditGauge(x.name, t.Name, t.Throttle, false)
		}
	}
	if x.m.Finished() {
		x.done = true
		if a.cov != nil {
			a.cov.Evaluated(InvThrottleLeak, 1)
			a.cov.Evaluated(InvQueueLeftover, 1)
		}
		for _, t := range x.m.Throttles() {
			a.auditGauge(x.name, t.Name, t.Throttle, true)
		}
		a.auditLeftovers(x.name, x.m.DispatchQueueLen())
		a.auditListener(x.name, x.m.MyAddr().Addr)
	}
}

// auditRegistry checks that registered connections are live and that no address has two.
func (a *Auditor) auditRegistry(x *auditee) {
	a.registry = x.m.AppendRegistry(a.registry[:0])
	for _, r := range a.registry {
		if r.Conn.IsClosed() {
			a.report(InvRegistryClosed, fmt.Sprintf("%s/%d", x.name, r.Conn.ID()),
				"%s: closed connection %d still registered for %v", x.name, r.Conn.ID(), r.Addr)
		}
	}
	if a.claims == nil {
		a.claims = make(map[wire.EntityAddr]uint64)
	}
	clear(a.claims) // only looked up, never ranged over
	a.conns = x.m.AppendConnections(a.conns[:0])
	for _, c := range a.conns {
		addr, ok := c.RegisteredAs()
		if !ok || c.IsClosed() {
			continue
		}
		if other, dup := a.claims[addr]; dup {
			a.report(InvRegistryDup, fmt.Sprintf("%s/%s", x.name, addr),
				"%s: live connections %d and %d both registered for %v", x.name, other, c.ID(), addr)
			continue
		}
		a.claims[addr] = c.ID()
	}
}

// auditLeftovers checks a shut-down messenger's dispatch queue: empty.
func (a *Auditor) auditLeftovers(name string, queued int) {
	if queued != 0 {
		a.report(InvQueueLeftover, name, "%s: %d items left in the dispatch queue after shutdown", name, queued)
	}
}

// gauge is what the auditor reads of a throttle.
type gauge interface {
	Current() int64
	Max() int64
}

// auditGauge checks a throttle: never negative; at zero once its messenger shut down (final).
func (a *Auditor) auditGauge(owner, name string, g gauge, final bool) {
	cur := g.Current()
	if cur < 0 {
		a.report(InvThrottleNeg, owner+"/"+name, "%s: throttle %s holds %d units", owner, name, cur)
	}
	if final && cur != 0 {
		a.report(InvThrottleLeak, owner+"/"+name, "%s: throttle %s still holds %d units after shutdown (max %d)",
			owner, name, cur, g.Max())
	}
}

func (a *Auditor) report(name, key string, format string, args ...any) {
	k := name + " " + key
	if a.reported[k] {
		return
	}
	a.reported[k] = true
	a.check.Violate(name, a.now(), format, args...)
}

// PanicInvariant names the invariant that a panic of the code under test with value v breaks:
// a throttle underflow (the throttle panics rather than go negative) is throttle-negative,
// any other panic is panic.
func PanicInvariant(v any) string {
	if strings.Contains(fmt.Sprint(v), "throttle released more than it held") {
		return InvThrottleNeg
	}
	return InvPanic
}
