package proto

import "github.com/msgrsim/msgrsim/msgr/wire"

// The read side of a Conn is a "need exactly N bytes, then continue with a handler" machine
// that tolerates any chunking of its input. Small structures are gathered into a scratch
// array; large sections (front, middle, data, authorizer) are filled in place, and once the
// prefetch buffer is empty the driver reads straight into them (no copy for big payloads).

// maxSmall is the largest structure gathered into scratch (the acceptor's 281-byte greeting).
const maxSmall = 281

// directMin is the smallest remaining section length for which ReadBuf hands out the section
// itself rather than the prefetch buffer; below it, one prefetch read can pick up what follows
// (and, with a large prefetch buffer, many small messages come in with one read).
func (c *Conn) directMin() int { return max(minDirect, c.cfg.PrefetchSize) }

// minDirect is directMin with the default prefetch size.
const minDirect = 4096

type handler func(c *Conn, data []byte) error

// A need is written field by field (expect, process) rather than as a whole struct: it holds
// pointers, and while the garbage collector marks, a whole-struct store or clear of the
// heap-allocated Conn goes through a bulk write barrier, several times per message.
type need struct {
	n      int     // bytes wanted
	dst    []byte  // section destination (len n), or nil to gather into scratch
	filled int     // bytes gathered so far
	then   handler // called with the n bytes once complete; nil when nothing is wanted
	sum    *uint32 // running crc32c of dst[:filled], kept as bytes arrive (nil: none)
}

// inbuf is the prefetch buffer: buf[r:w] is received but not yet consumed.
type inbuf struct {
	buf  []byte
	r, w int
}

func (b *inbuf) buffered() int { return b.w - b.r }

// space returns the free tail, compacting first when the buffer is drained or mostly consumed.
func (b *inbuf) space() []byte {
	if b.r == b.w {
		b.r, b.w = 0, 0
	} else if b.r > len(b.buf)/2 {
		n := copy(b.buf, b.buf[b.r:b.w])
		b.r, b.w = 0, n
	}
	return b.buf[b.w:]
}

// take consumes up to n buffered bytes.
func (b *inbuf) take(n int) []byte {
	if avail := b.w - b.r; n > avail {
		n = avail
	}
	p := b.buf[b.r : b.r+n]
	b.r += n
	return p
}

// expect sets what the reader needs next: n bytes gathered into scratch.
func (c *Conn) expect(n int, then handler) {
	c.setNeed(n, nil, then, nil)
}

// expectInto sets what the reader needs next: len(dst) bytes read into dst.
func (c *Conn) expectInto(dst []byte, then handler) {
	c.setNeed(len(dst), dst, then, nil)
}

// setNeed replaces the need, field by field (see need).
func (c *Conn) setNeed(n int, dst []byte, then handler, sum *uint32) {
	nd := &c.need
	nd.n, nd.dst, nd.filled, nd.then, nd.sum = n, dst, 0, then, sum
}

// expectSection is expectInto that also keeps the crc32c of the bytes in *sum as they arrive,
// while they are still in cache: a 4 MiB section checksummed after the fact is read back from
// memory, several times slower.
func (c *Conn) expectSection(dst []byte, sum *uint32, then handler) {
	if sum != nil { // nil: the section's crc is not checked (ms_crc_header/ms_crc_data off)
		*sum = 0
	}
	c.setNeed(len(dst), dst, then, sum)
}

// added records that the current need received dst[from:to], updating its running crc.
func (nd *need) added(from, to int) {
	nd.filled = to
	if nd.sum != nil {
		*nd.sum = wire.CRC32C(*nd.sum, nd.dst[from:to])
	}
}

// fill moves buffered input into the current need and reports whether it is complete.
func (c *Conn) fill() bool {
	nd := &c.need
	for nd.filled < nd.n && c.in.buffered() > 0 {
		p := c.in.take(nd.n - nd.filled)
		if nd.dst != nil {
			copy(nd.dst[nd.filled:], p)
			nd.added(nd.filled, nd.filled+len(p))
			continue
		}
		copy(c.scratch[nd.filled:], p)
		nd.filled += len(p)
	}
	return nd.filled == nd.n
}

// process runs handlers for as long as their needs can be met from buffered input. A small
// structure that lies whole in the prefetch buffer is handed to its handler in place; one
// that arrived in pieces is gathered into scratch first. (Handlers never keep the bytes they
// are given: both are overwritten by later input.)
func (c *Conn) process() {
	for c.reading() {
		nd := &c.need // read in place: copying the need cost more than the rest of the loop
		then := nd.then
		var data []byte
		switch {
		case nd.dst == nil && nd.filled == 0 && c.in.buffered() >= nd.n:
			data = c.in.take(nd.n)
		case !c.fill():
			return
		case nd.dst != nil:
			data = nd.dst
		default:
			data = c.scratch[:nd.n]
		}
		nd.then = nil // consumed; the handler sets the next need, if any (see need)
		if err := then(c, data); err != nil {
			c.fault(err)
			return
		}
	}
}

// reading reports whether the core currently wants input.
func (c *Conn) reading() bool {
	return c.need.then != nil && !c.readPaused
}
