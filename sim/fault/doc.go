// Package fault is what can go wrong in a simulated run, and the machinery that makes it go
// wrong: the fault kinds (Kind) and a run's mix of them (Mix: drawn per seed by Swarm —
// TigerBeetle's swarm testing —, all of them, none, or parsed from a -faults flag), and the
// Injector that applies a mix to a world:
//
//   - discrete faults at seeded times of the safety phase (Schedule): clogged links, reset
//     connections, partitions, corrupted bytes, crashed and paused processes;
//   - connect faults decided per connect attempt: refused, hanging, reset right after accept;
//   - the msgr1 frame tracker (boundary.go), which follows the msgr1 structure of every
//     stream as it is written and cuts chunks at frame boundaries ±1 byte, where parsers get
//     partial reads wrong, and knows which bytes a crc protects, where corruption must be
//     caught. It also checks the one wire-level invariant it can see: no ACK on a lossy
//     session.
//
// Processes to crash, pause or partition are the workload's (Process); restarting a crashed
// one is the workload's job too. The injector counts what it injected; the faults that act
// continuously (latency, dispatch delays, socket failures) are configured by whoever builds
// the network and the messengers (sim/harness).
//
// Place in the import order (each package imports only those to its right; internal/lint's
// TestSimulatorLayers checks it):
//
//	sim → workload/… → sim/harness → sim/fault → sim/world, sim/check
package fault
