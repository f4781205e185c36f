//go:build canary_noforget

package msgr

// canaryNoForget turns on a deliberately broken messenger, to prove the simulator's checkers catch
// it: a closed connection stays in the session registry (PR #25755's bug class: a CLOSED connection left registered blocks new sessions). Only for the canary tests (go test -tags canary_noforget).
const canaryNoForget = true
