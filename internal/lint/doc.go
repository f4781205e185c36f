// Package lint holds the project's own lint tests, enforced on every `go test ./...`: the
// determinism rules of the code that runs inside the simulator (msgr, msgr/event, msgr/proto,
// msgr/wire, msgr/auth/cephx, simnet, sim and its rooms sim/world, sim/check, sim/fault,
// sim/harness, and the workloads), and the simulator's import order (TestSimulatorLayers: sim →
// workload/… → sim/harness → sim/fault → sim/world, sim/check; sim/check imports no world, no
// network and no lock).
//
// Forbidden there: `go` statements; time.Now, time.Since, time.Until, time.Sleep, time.After,
// time.Tick, time.NewTimer, time.NewTicker, time.AfterFunc; importing math/rand,
// math/rand/v2 or crypto/rand (use internal/detrand); `select` over more than one channel (a
// single channel with a default is a non-blocking poll and allowed); and ranging over a map
// unless the loop carries a `//lint:ordered` comment explaining why the order cannot leak
// (for example, keys collected and then sorted). The test Host of proto.Conn
// (msgr/proto/prototest) and the fuzz harnesses of the core (fuzz/protofuzz, fuzz/wirefuzz,
// fuzz/cephxfuzz) follow the same rules.
//
// The production runtime is the one exception (event.GoRuntime starts a goroutine per event
// center); the test's allowed list names it with the reason, and an entry that no longer
// excuses anything fails the test.
//
// A second rule keeps test machinery out of production: no non-test file under msgr/
// imports internal/fuzzing or a package under fuzz/ (whatever its build tags), and only tests
// and the fuzz harnesses import msgr/proto/prototest.
package lint
