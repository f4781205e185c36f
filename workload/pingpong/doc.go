// Package pingpong is the simulator's default workload: OSD-like nodes exchanging lossless
// messages with each other (lossless_peer; simultaneous connects race), and clients sending
// lossy messages to every OSD, which answers each one. Every send is scheduled at a seeded
// time of the safety window; every message carries its id and a pattern derived from it, so
// the receiver can tell whether it arrived intact. A node survives crashes as a sequence of
// incarnations (a new messenger each time, with a new nonce or, like a monitor, the same
// one); its peers mark the old instance down, as an OSD map update would tell them.
//
// After the heal every lossless message must arrive (liveness); then every messenger shuts
// down; the lossless sessions are model-checked as FIFO queues.
//
// Place in the import order (each package imports only those to its right; internal/lint's
// TestSimulatorLayers checks it):
//
//	sim → workload/… → sim/harness → sim/fault → sim/world, sim/check
package pingpong
