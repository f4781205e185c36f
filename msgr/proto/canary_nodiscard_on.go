//go:build canary_nodiscard

package proto

// canaryNoDiscard turns on a deliberately broken protocol core, to prove the simulator's checkers
// catch it: requeued messages the peer already has are not discarded after the SEQ exchange, and get new numbers. Only for the canary tests (go test -tags canary_nodiscard).
const canaryNoDiscard = true
