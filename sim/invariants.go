package sim

import "github.com/msgrsim/msgrsim/sim/check"

// The invariants a run checks are sim/check's; they are repeated here so that sim's users
// (msgr-sim, the fuzz targets, tests) name them as before.

// Violation is a broken invariant (check.Violation).
type Violation = check.Violation

// Invariant names (see check).
const (
	InvLosslessOrder     = check.InvLosslessOrder
	InvLosslessLoss      = check.InvLosslessLoss
	InvDuplicate         = check.InvDuplicate
	InvLossyOrder        = check.InvLossyOrder
	InvUnknownMessage    = check.InvUnknownMessage
	InvCorruptDelivery   = check.InvCorruptDelivery
	InvNoProgress        = check.InvNoProgress
	InvLiveness          = check.InvLiveness
	InvShutdownStalled   = check.InvShutdownStalled
	InvLossyAck          = check.InvLossyAck
	InvAckUnreceived     = check.InvAckUnreceived
	InvThrottleNeg       = check.InvThrottleNeg
	InvThrottleLeak      = check.InvThrottleLeak
	InvQueueLeftover     = check.InvQueueLeftover
	InvRegistryClosed    = check.InvRegistryClosed
	InvRegistryDup       = check.InvRegistryDup
	InvPanic             = check.InvPanic
	InvSyntheticFIFO     = check.InvSyntheticFIFO
	InvSyntheticData     = check.InvSyntheticData
	InvSyntheticPath     = check.InvSyntheticPath
	InvFIFO              = check.InvFIFO
	InvKV                = check.InvKV
	InvKVLiveness        = check.InvKVLiveness
	InvReplicaDivergence = check.InvReplicaDivergence

	// OutcomeBudget is how a run past its budget ends (Options.StepBudget, Options.Abort).
	OutcomeBudget = check.OutcomeBudget
)

// InvariantDoc explains what each invariant requires (check.InvariantDoc).
var InvariantDoc = check.InvariantDoc

// AllInvariants lists the invariants checked during a run (check.AllInvariants).
var AllInvariants = check.AllInvariants

// ViolationNames lists every name a run's violations can carry: every invariant a run can
// evaluate (check.Names) and OutcomeBudget.
func ViolationNames() []string { return append(check.Names(), OutcomeBudget) }

// FormatResetCauses renders session resets counted by attributed cause (check.FormatCauses).
func FormatResetCauses(c map[string]int) string { return check.FormatCauses(c) }
