//go:build linux

package epoll

import "github.com/msgrsim/msgrsim/msgr/netio"

// DefaultWriteChunk is Options.WriteChunk's default: a quarter of a 1 MiB L2 cache, so that
// the chunk being copied and the one summed next to it both stay there. Measured on
// msgr-bench's 4 MiB one-way cell against the whole crc at encode time (BENCHMARKS.md,
// Issue 18): more messages per second, paired with rawframed, in a loaded run. It applies to
// messages whose footer the protocol core computes: Messenger.SendMessage computes the crcs of
// a data section of 64 KiB or more itself, on the sender's goroutine (as Ceph's send_message
// does), which costs the event loop no crc and no write per chunk (BENCHMARKS.md, "4 MiB:
// where the CPU went").
const DefaultWriteChunk = 256 << 10

var _ netio.ChunkedWriter = (*Stack)(nil)

// WriteChunk is Options.WriteChunk, 0 when turned off (netio.ChunkedWriter).
func (s *Stack) WriteChunk() int { return max(s.opts.WriteChunk, 0) }
