package sim

import (
	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/sim/fault"
)

// The faults a run injects are sim/fault's; they are repeated here under their former names
// so that sim's users (msgr-sim, the fuzz targets, tests) name them as before.

// Fault is one kind of fault the simulator can inject (fault.Kind).
type Fault = fault.Kind

// Faults is which faults a run injects and how hard (fault.Mix).
type Faults = fault.Mix

// Fault kinds (see fault).
const (
	FaultCuts           = fault.Cuts
	FaultLatency        = fault.Latency
	FaultClog           = fault.Clog
	FaultReset          = fault.Reset
	FaultRefuse         = fault.Refuse
	FaultHang           = fault.Hang
	FaultAcceptReset    = fault.AcceptReset
	FaultPartition      = fault.Partition
	FaultCorrupt        = fault.Corrupt
	FaultCrash          = fault.Crash
	FaultPause          = fault.Pause
	FaultDispatchDelay  = fault.DispatchDelay
	FaultSocketFailures = fault.SocketFailures
	FaultTamper         = fault.Tamper
	NumFaults           = fault.NumKinds
)

// NoFaults injects nothing (fault.None).
func NoFaults() Faults { return fault.None() }

// SwarmFaults draws a fault mix from r (fault.Swarm).
func SwarmFaults(r *detrand.Rand) Faults { return fault.Swarm(r) }

// AllFaults turns every fault kind on, with intensities drawn from r (fault.All).
func AllFaults(r *detrand.Rand) Faults { return fault.All(r) }

// ParseFaults reads a -faults flag (fault.Parse).
func ParseFaults(spec string, r *detrand.Rand) (Faults, error) { return fault.Parse(spec, r) }

// ParseFaultsFor is ParseFaults for a run with authentication auth: with cephx (signed
// sessions) the swarm also draws the tamper fault (Faults.DrawTamper), so "swarm" means every
// fault the run can meet; with auth none, and for any other spec, it is ParseFaults.
func ParseFaultsFor(spec string, r *detrand.Rand, auth string) (Faults, error) {
	f, err := fault.Parse(spec, r)
	if err == nil && spec == "swarm" && auth == AuthCephx {
		f.DrawTamper(r)
	}
	return f, err
}

// ParseFault parses a fault name (fault.ParseKind).
func ParseFault(s string) (Fault, bool) { return fault.ParseKind(s) }
