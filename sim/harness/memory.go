package harness

import (
	"sync"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// SendMemory hands out the messages a workload sends and their small sections, carved out of
// blocks (64 messages, 64 KiB of bytes) instead of allocated one by one: the simulator sends
// thousands of messages per run, and two allocations per message were a large part of its
// garbage. Each message and each byte slice is its own element of a block (a slice's
// capacity ends with it, so an append cannot reach the next one); a block lives as long as
// any of its elements is referenced. The zero value is ready; not safe for concurrent use
// (a run is driven by one goroutine).
//
// Release hands the blocks to the runs made after this one in the process (a fuzzing worker
// runs hundreds of short runs per second, each allocating its blocks anew); a block taken
// again is cleared as new.
type SendMemory struct {
	msgs  []wire.Message
	bytes []byte
	// the sizes of the next blocks
	nextMsgs, nextBytes int
	blocks              *memBlocks // every block handed out, and spare ones (nil until the first)
}

// memBlocks are the blocks of one SendMemory: those it handed out and the spare ones of an
// earlier run it takes before allocating.
type memBlocks struct {
	msgs, spareMsgs   [][]wire.Message
	bytes, spareBytes [][]byte
}

// maxSpareBlocks bounds the spare blocks of each kind a memBlocks keeps: up to 3 MiB of
// bytes, what a cluster-workload seed sends (a longer run's others are left to the garbage
// collector).
const maxSpareBlocks = 48

// spareMemory holds the memBlocks of finished runs (SendMemory.Release); the garbage
// collector empties it when idle.
var spareMemory sync.Pool

// takeBlocks makes s.blocks ready: a spare set of an earlier run's blocks, or a new one.
func (s *SendMemory) takeBlocks() {
	if s.blocks != nil {
		return
	}
	if b, ok := spareMemory.Get().(*memBlocks); ok {
		s.blocks = b
		return
	}
	s.blocks = &memBlocks{}
}

// msgBlock is a zeroed block of n messages, a spare one if there is one that size.
func (s *SendMemory) msgBlock(n int) []wire.Message {
	s.takeBlocks()
	blk := takeSpare(&s.blocks.spareMsgs, n)
	s.blocks.msgs = append(s.blocks.msgs, blk)
	return blk
}

// byteBlock is a zeroed block of n bytes, a spare one if there is one that size.
func (s *SendMemory) byteBlock(n int) []byte {
	s.takeBlocks()
	blk := takeSpare(&s.blocks.spareBytes, n)
	s.blocks.bytes = append(s.blocks.bytes, blk)
	return blk
}

// takeSpare removes a block of length n from spares and returns it cleared, or returns a new
// one if spares has none that long.
func takeSpare[T any](spares *[][]T, n int) []T {
	sp := *spares
	for i, blk := range sp {
		if len(blk) == n {
			last := len(sp) - 1
			sp[i], sp[last] = sp[last], nil
			*spares = sp[:last]
			clear(blk) // as new: a run must not depend on the runs before it, even through a bug
			return blk
		}
	}
	return make([]T, n)
}

// Release gives s's blocks to the runs made after this one: nothing may use a message or
// byte slice s handed out after it (the run is over). s is empty and usable again after it.
func (s *SendMemory) Release() {
	b := s.blocks
	if b == nil {
		return
	}
	*s = SendMemory{}
	b.spareMsgs = append(b.spareMsgs, b.msgs[:min(len(b.msgs), maxSpareBlocks-len(b.spareMsgs))]...)
	b.spareBytes = append(b.spareBytes, b.bytes[:min(len(b.bytes), maxSpareBlocks-len(b.spareBytes))]...)
	clear(b.msgs)
	clear(b.bytes)
	b.msgs, b.bytes = b.msgs[:0], b.bytes[:0]
	spareMemory.Put(b)
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
		s.msgs = s.msgBlock(s.nextMsgs)
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
		s.bytes = s.byteBlock(s.nextBytes)
	}
	b := s.bytes[:n:n]
	s.bytes = s.bytes[n:]
	return b
}
