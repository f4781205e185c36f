//go:build linux

package epoll

import "golang.org/x/sys/unix"

// DefaultStreamLowat is Options.StreamLowat's default: in the middle of the range (64–112 KiB)
// where TCP_NOTSENT_LOWAT cut msgr-bench's one-way 4 KiB CPU per message on this kernel's
// loopback (BENCHMARKS.md, "4 KiB one-way with one connection").
const DefaultStreamLowat = 96 << 10

// streamBuffers is how many buffers a Writev must be handed, with the send buffer full, for
// its socket to count as carrying a stream of small messages: more than a request train of
// 128 messages (two buffers each) that rr keeps in flight.
const streamBuffers = 512

// noteFull is called after a write that left bytes unwritten because the send buffer was
// full. On the first such write handed at least streamBuffers buffers it sets the socket's
// TCP_NOTSENT_LOWAT to streamLowat; either way a socket tries at most once. A failure is
// ignored: the socket works as before, without the limit.
func (s *Socket) noteFull(buffers int) {
	if s.streamLowat <= 0 || buffers < streamBuffers {
		return
	}
	lowat := s.streamLowat
	s.streamLowat = 0
	_ = unix.SetsockoptInt(s.fd, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, lowat)
}
