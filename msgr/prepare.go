package msgr

import "github.com/msgrsim/msgrsim/msgr/wire"

// prepareMin is the shortest data section whose crcs SendMessage computes itself, on the
// caller's goroutine, before handing the message to its connection's event loop.
const prepareMin = 64 << 10

// prepare computes the footer's crcs of a message with a long data section on the sending
// goroutine, as Ceph's send_message encodes a message (prepare_send_message, crcs included)
// on the caller's thread before queueing it. The event loop then only writes it (the core
// keeps a complete footer), and the crc of the next message runs beside the write of this
// one: at 4 MiB the loop's crc, computed a chunk at a time between the chunks' writes, made
// the writing loop the bottleneck and cost a dozen more sendmsg calls and reader wakeups per
// message (BENCHMARKS.md, Issue 18, "4 MiB: where the CPU went"). The header crc, which
// covers the sequence number, stays the loop's, as do the signature and the encoding.
func (c *Connection) prepare(msg *Message) {
	if len(msg.Data) < prepareMin || c.m.cfg.NoCRCData || msg.Footer.Flags&wire.FooterComplete != 0 {
		return
	}
	msg.SealFooter(!c.m.cfg.NoCRCHeader, true)
}
