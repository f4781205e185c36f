// Package cluster is a small Ceph cluster as the seed draws it, run in the simulator on the
// messenger (msgr-sim -workload cluster): one monitor (mon.go) that keeps the OSD map, OSDs
// (osd.go) with Ceph's six messengers and policies each, going through Ceph's lifecycle —
// some shut down cleanly and come back as new instances mid-run —, heartbeating each other
// and replicating a key-value store over the cluster messenger, librados-like clients
// (client.go) running closed loops of key-value operations that retry until answered, and a
// misconfigured probe (probe.go) whose connects must be rejected. Every process is a
// simulated host with one or more messengers through a sequence of incarnations (proc.go);
// messages (msg.go) carry their own checksum, so a receiver tells an intact message
// independently of the messenger's crcs. With Config.Auth = "cephx" (auth.go) the cluster
// runs cephx: keys from the seed, an in-process cephx monitor, authorizers with the CEPHX_V2
// challenge and signed sessions to OSDs, short tickets, secret rotation, late renewals.
//
// After the heal every client operation must be answered, every replica caught up and every
// lossless message delivered; at the end every replica must hold its primary's values, and
// the clients' history must be linearizable (the KV model) as every lossless session must be
// a FIFO queue.
//
// Place in the import order (each package imports only those to its right; internal/lint's
// TestSimulatorLayers checks it):
//
//	sim → workload/… → sim/harness → sim/fault → sim/world, sim/check
package cluster
