package harness

import "github.com/msgrsim/msgrsim/msgr/wire"

// SendMemory hands out the messages a workload sends and their small sections, carved out of
// blocks (64 messages, 64 KiB of bytes) instead of allocated one by one: the simulator sends
// thousands of messages per run, and two allocations per message were a large part of its
// garbage. Each message and each byte slice is its own element of a block (a slice's
// capacity ends with it, so an append cannot reach the next one); a block lives as long as
// any of its elements is referenced. The zero value is ready; not safe for concurrent use
// (a run is driven by one goroutine).
type SendMemory struct {
	msgs  []wire.Message
	bytes []byte
	// the sizes of the next blocks
	nextMsgs, nextBytes int
}

// Block sizes of SendMemory: blocks double from the first size up to the last (a short run,
// such as a fuzzed input's few dozen messages, does not allocate and clear 64 KiB); a byte
// slice longer than MaxSlabBytes is allocated on its own.
const (
	firstMsgBlock  = 8
	msgBlock       = 64
	firstByteBlock = 8 << 10
	byteBlock      = 64 << 10
	MaxSlabBytes   = 8 << 10
)

// Message is wire.NewMessage(typ, front) from a block.
func (s *SendMemory) Message(typ uint16, front []byte) *wire.Message {
	if len(s.msgs) == 0 {
		s.nextMsgs = min(msgBlock, max(firstMsgBlock, 2*s.nextMsgs))
		s.msgs = make([]wire.Message, s.nextMsgs)
	}
	m := &s.msgs[0]
	s.msgs = s.msgs[1:]
	*m = wire.Message{Header: wire.Header{Type: typ, Version: 1}, Front: front}
	return m
}

// Bytes is n zero bytes, with capacity n.
func (s *SendMemory) Bytes(n int) []byte {
	if n > MaxSlabBytes {
		return make([]byte, n)
	}
	if len(s.bytes) < n {
		s.nextBytes = min(byteBlock, max(firstByteBlock, 2*s.nextBytes))
		s.bytes = make([]byte, s.nextBytes)
	}
	b := s.bytes[:n:n]
	s.bytes = s.bytes[n:]
	return b
}
