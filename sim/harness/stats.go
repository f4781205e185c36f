package harness

import "github.com/msgrsim/msgrsim/sim/fault"

// Stats count what happened in a run.
type Stats struct {
	Injected       [fault.NumKinds]int
	ConnFaults     int // connection faults the messengers reported
	SessionResets  int // reset and remote reset events
	Reconnects     int // sessions re-established on a connection that had been open
	BytesCorrupted int // corrupted bytes delivered by the network
	Crashes        int
	// TamperedDispatched counts messages rewritten in flight (tamper) and dispatched on an
	// unsigned session; Tampered, the messages rewritten.
	TamperedDispatched int
	Tampered           int
	// ResetCauses counts the session resets of the run by attributed cause (check.Cause*;
	// "unattributed" for spurious ones).
	ResetCauses map[string]int
	// Excused counts the duplicate dispatches the checker excused, by named case
	// (check.CaseRedelivery).
	Excused map[string]int
}

// Counts are the run's Stats with the faults injected: the discrete and connect faults the
// injector counted, and the ones that act all the time (chunks cut at frame boundaries,
// connections with their own latency, messages held back, socket operations failed).
func (r *Run) Counts() Stats {
	st := r.Stats
	st.Injected, st.Crashes = r.Injector.Injected, r.Injector.Crashes
	st.ResetCauses = r.Sessions.Causes()
	st.Excused = r.Check.Excused()
	st.Injected[fault.Cuts] = r.Injector.Cuts()
	if r.Faults.On[fault.Latency] {
		st.Injected[fault.Latency] = int(r.W.Net.Stats().Connects)
	}
	st.Injected[fault.DispatchDelay] = r.held
	st.Tampered = r.Check.TamperedCount()
	for _, s := range r.sockets {
		st.Injected[fault.SocketFailures] += int(s.Injected())
	}
	return st
}
