package proto

import "github.com/msgrsim/msgrsim/internal/canary"

// The protocol core's deliberate bugs (internal/canary), for the canary tests. Each helper is a
// constant false without -tags canary, and its branch compiles away.

// canaryNoRequeue: unacknowledged messages are dropped at a fault instead of requeued.
func canaryNoRequeue() bool { return canary.Enabled && canary.On(canary.NoRequeue) }

// canaryNoDiscard: requeued messages the peer already has are not discarded after the SEQ
// exchange, and get new numbers.
func canaryNoDiscard() bool { return canary.Enabled && canary.On(canary.NoDiscard) }

// canaryLossyAck: lossy sessions send ACKs (Ceph PR #13700).
func canaryLossyAck() bool { return canary.Enabled && canary.On(canary.LossyAck) }

// canaryOverAck: every ACK frame acknowledges one message more than was received.
func canaryOverAck() bool { return canary.Enabled && canary.On(canary.OverAck) }

// canaryConnectSeq: a fault after the connect message was sent increments connect_seq (Ceph PR
// #25343's bug, inherited from SimpleMessenger's single CONNECTING state).
func canaryConnectSeq() bool { return canary.Enabled && canary.On(canary.ConnectSeq) }

// canaryNoSigCheck: a signed session's received messages are not checked against their
// signatures.
func canaryNoSigCheck() bool { return canary.Enabled && canary.On(canary.NoSigCheck) }

// canaryNoDropReport: discarded messages (queued, requeued, unacknowledged) are not reported
// to the host's Dropper.
func canaryNoDropReport() bool { return canary.Enabled && canary.On(canary.NoDropReport) }

// canaryIdleEarly: the idle deadline is not pushed back by activity.
func canaryIdleEarly() bool { return canary.Enabled && canary.On(canary.IdleEarly) }
