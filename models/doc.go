// Package models holds porcupine linearizability models for histories recorded by the
// simulator: (a) a lossless session as a FIFO queue (send = enqueue, dispatch = dequeue) and
// (b) a small key-value service built on the messenger, whose client histories must be
// linearizable through resets and reconnects. Models are checked after a run, never inside
// the deterministic loop (porcupine's checker is concurrent).
package models
