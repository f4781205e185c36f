// Package leakcheck finds goroutines a test leaves behind, the way go.uber.org/goleak does,
// with the runtime's own goroutine dump: take a Snapshot before the code under test starts
// goroutines, and after it should have stopped them all, Check waits (bounded) for every
// goroutine not in the snapshot to exit and reports the stacks of those that do not.
package leakcheck
