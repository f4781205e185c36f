package epoll

import "github.com/msgrsim/msgrsim/msgr/netio"

// WriteChunk is the chunk a messenger checksums right before writing it (see
// netio.ChunkedWriter): a quarter of a 1 MiB L2 cache, so that the chunk being copied and
// the one summed next to it both stay there.
const WriteChunk = 256 << 10

var _ netio.ChunkedWriter = (*Stack)(nil)

// WriteChunk returns the WriteChunk constant (netio.ChunkedWriter).
func (s *Stack) WriteChunk() int { return WriteChunk }
