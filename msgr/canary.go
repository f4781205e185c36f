package msgr

import "github.com/msgrsim/msgrsim/internal/canary"

// The messenger's deliberate bugs (internal/canary), for the canary tests. Each helper is a
// constant false without -tags canary, and its branch compiles away.

// canaryNoForget: a closed connection stays in the session registry (PR #25755's bug class: a
// CLOSED connection left registered blocks new sessions).
func canaryNoForget() bool { return canary.Enabled && canary.On(canary.NoForget) }

// canaryDupRegister: connect_to ignores the registry and registers a second connection for an
// address it already has one for (the registry inconsistencies of PRs #19013, #15645).
func canaryDupRegister() bool { return canary.Enabled && canary.On(canary.DupRegister) }

// canaryThrottleLeak: fast-dispatched messages keep their dispatch-throttle reservation (PR
// #8963's leak class).
func canaryThrottleLeak() bool { return canary.Enabled && canary.On(canary.ThrottleLeak) }

// canaryDoubleRelease: a dispatched message returns its throttle units twice (quirk Q3's
// double release).
func canaryDoubleRelease() bool { return canary.Enabled && canary.On(canary.DoubleRelease) }
