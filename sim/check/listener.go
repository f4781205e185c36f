package check

import "net/netip"

// InvListenerLeftover: a messenger that shut down still listens. Ceph's shutdown stops the
// processor, which closes the listening socket (Processor::stop): a later connect to the
// address is refused, not accepted into a messenger that will never serve it. The mutation
// score found the gap: with the listener's stop left out, the shut-down messenger kept its
// socket bound and watched, and no check noticed.
const InvListenerLeftover = "listener-leftover"

func init() {
	InvariantDoc[InvListenerLeftover] = "once a messenger has shut down, nothing listens on its address any more (Ceph's Processor::stop closes the listening socket)"
	AllInvariants = append(AllInvariants, InvListenerLeftover)
}

// SetListening lets the auditor check InvListenerLeftover: listening reports whether a
// listening socket is bound to an address (the simulator asks its network; nil, the default,
// leaves the invariant unchecked, as over real TCP).
func (a *Auditor) SetListening(listening func(netip.AddrPort) bool) { a.listening = listening }

// auditListener checks a shut-down messenger's address: nothing listens on it.
func (a *Auditor) auditListener(name string, addr netip.AddrPort) {
	if a.listening == nil {
		return
	}
	if a.cov != nil {
		a.cov.Evaluated(InvListenerLeftover, 1)
	}
	if addr.IsValid() && a.listening(addr) {
		a.report(InvListenerLeftover, name, "%s: still listening on %v after shutdown", name, addr)
	}
}
