//go:build canary_norequeue

package proto

// canaryNoRequeue turns on a deliberately broken protocol core, to prove the simulator's checkers
// catch it: unacknowledged messages are dropped at a fault instead of requeued. Only for the canary tests (go test -tags canary_norequeue).
const canaryNoRequeue = true
