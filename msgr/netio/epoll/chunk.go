package epoll

import "github.com/msgrsim/msgrsim/msgr/netio"

var _ netio.ChunkedWriter = (*Stack)(nil)

// WriteChunk is Options.WriteChunk, 0 when it is not positive (netio.ChunkedWriter).
func (s *Stack) WriteChunk() int { return max(s.opts.WriteChunk, 0) }
