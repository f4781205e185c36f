//go:build canary_overack

package proto

// canaryOverAck turns on a deliberately broken protocol core, to prove the simulator's checkers
// catch it: every ACK frame acknowledges one message more than was received. Only for the
// canary tests (go test -tags canary_overack).
const canaryOverAck = 1
