//go:build canary_lossyack

package proto

// canaryLossyAck turns on a deliberately broken protocol core, to prove the simulator's checkers
// catch it: lossy sessions send ACKs (Ceph PR #13700). Only for the canary tests (go test -tags canary_lossyack).
const canaryLossyAck = true
