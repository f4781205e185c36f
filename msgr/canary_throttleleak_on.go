//go:build canary_throttleleak

package msgr

// canaryThrottleLeak turns on a deliberately broken messenger, to prove the simulator's checkers catch
// it: fast-dispatched messages keep their dispatch-throttle reservation (PR #8963's leak class). Only for the canary tests (go test -tags canary_throttleleak).
const canaryThrottleLeak = true
