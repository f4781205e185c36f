// Package lint holds the project's own lint tests, enforced on every `go test ./...`: the
// determinism rules of the packages below the seam (msgr/proto, msgr/wire, simnet, and the
// simulator's: sim, sim/world, sim/check, sim/fault, sim/harness, the workloads), and the
// simulator's import order (TestSimulatorLayers: sim → workload/… → sim/harness → sim/fault →
// sim/world, sim/check; sim/check imports no world, no network and no lock).
//
// Forbidden there: `go` statements; time.Now, time.Since, time.Until, time.Sleep, time.After,
// time.Tick, time.NewTimer, time.NewTicker, time.AfterFunc; importing math/rand,
// math/rand/v2 or crypto/rand (use internal/detrand); `select` with more than one case; and
// ranging over a map unless the loop carries a `//lint:ordered` comment explaining why the
// order cannot leak (for example, keys collected and then sorted).
package lint
