//go:build canary_doublerelease

package msgr

// canaryDoubleRelease turns on a deliberately broken messenger, to prove the simulator's checkers catch
// it: a dispatched message returns its throttle units twice (quirk Q3's double release). Only for the canary tests (go test -tags canary_doublerelease).
const canaryDoubleRelease = true
