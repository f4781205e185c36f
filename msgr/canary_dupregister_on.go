//go:build canary_dupregister

package msgr

// canaryDupRegister turns on a deliberately broken messenger, to prove the simulator's checkers catch
// it: connect_to ignores the registry and registers a second connection for an address it already has one for (the registry inconsistencies of PRs #19013, #15645). Only for the canary tests (go test -tags canary_dupregister).
const canaryDupRegister = true
