// Package models holds porcupine linearizability models for histories recorded by the
// simulator:
//
//   - FIFO: a lossless session as a FIFO queue (send = enqueue, dispatch = dequeue),
//     partitioned per stream (sender → receiver). A message may be missing from the dequeue
//     order only when its loss is accounted for (a reset was reported after it was sent, an
//     end crashed, or the messenger said it dropped it); nothing is ever dequeued twice by one
//     receiver incarnation, nor out of send order.
//   - KV: the key-value service of the simulator's Ceph-shaped cluster (put, get, append),
//     partitioned per key; client histories must be linearizable through resets, reconnects
//     and retries.
//
// Histories are recorded by a Recorder while the simulation runs: each event gets the virtual
// time it happened at and a logical timestamp (its position among every recorded event), so
// events at one virtual instant keep the order in which they happened. Checks run after the
// run, never inside the deterministic loop: porcupine's checker is concurrent. When a history
// is not linearizable, Check writes porcupine's HTML visualization and names its path.
package models
