package check

import (
	"net/netip"
	"testing"
)

// listener-leftover fails a shut-down messenger whose address is still listened on (what a
// messenger whose shutdown forgot to stop its processor leaves), and only when the auditor
// was told how to ask.
func TestListenerLeftoverIsCaught(t *testing.T) {
	bound := netip.MustParseAddrPort("10.0.0.2:6800")
	listening := func(a netip.AddrPort) bool { return a == bound }

	k := NewChecker()
	a := NewAuditor(k, func() int64 { return 0 })
	a.auditListener("osd.0", bound) // no SetListening: not checked (real TCP)
	if len(k.Violations()) != 0 {
		t.Fatalf("checked without a way to ask: %v", k.Violations())
	}
	a.SetListening(listening)
	a.auditListener("client.1", netip.MustParseAddrPort("10.0.0.1:6800")) // closed
	a.auditListener("client.2", netip.AddrPort{})                         // never bound
	if len(k.Violations()) != 0 {
		t.Fatalf("a closed or never-bound listener fails: %v", k.Violations())
	}
	a.auditListener("osd.0", bound)
	if v := violated(k); v[InvListenerLeftover] != 1 || len(k.Violations()) != 1 {
		t.Fatalf("a listener left open passes: %v", k.Violations())
	}
}
