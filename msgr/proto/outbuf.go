package proto

import "github.com/msgrsim/msgrsim/msgr/wire"

// outbuf is the write side: a list of slices to write in order (a writev batch) and an arena
// holding the small encodings (tags, headers, footers, handshake structures) they point into.
// Consecutive arena writes are merged into one slice. The arena is only reset when everything
// was written, so slices handed to the driver stay valid; when it fills up mid-batch the next
// one is taken (a spare, or a new one) and the full one is kept until its slices are written,
// then becomes a spare. A long batch therefore stops allocating once it has been seen.
type outbuf struct {
	iov   [][]byte
	head  int // first slice not fully written
	arena []byte
	full  [][]byte // arenas filled during this batch, still referenced by iov
	spare [][]byte // arenas free for reuse
	bytes int      // bytes not yet written
	bufs  Buffers  // lends arenas, if the host does
	// sums are the messages whose data crc is computed as their chunks are handed out
	// (Config.WriteChunk), in write order from sums[nsum]: pending stops before the first
	// chunk not yet summed.
	sums []dataSum
	nsum int
	// tail reports that iov's last slice (if not yet written) holds arena bytes ending at
	// len(arena), with the arena's capacity: the next reserve extends it in place.
	tail bool
}

// dataSum is the running data crc of a message queued in chunks (Conn.writeDataChunks).
type dataSum struct {
	m      *wire.Message
	at     int    // iov index of the next chunk to sum; nothing from it on is handed out
	off    int    // offset of that chunk in m.Data
	crc    uint32 // crc32c of m.Data[:off]
	footer []byte // the footer's place in the arena, encoded after the last chunk
	old    bool   // the 13-byte footer
}

const arenaSize = 16 << 10

func (o *outbuf) empty() bool { return o.bytes == 0 }

// reserve returns n bytes of arena, queued for writing after everything already queued.
// Consecutive reserves extend one slice of iov (only its length is stored: no write
// barrier); the slices in iov keep the arena's capacity for that, while the bytes returned
// are capped at n.
func (o *outbuf) reserve(n int) []byte {
	start := len(o.arena)
	if o.arena == nil || start+n > cap(o.arena) {
		o.nextArena(n)
		start = 0
	}
	o.arena = o.arena[:start+n]
	o.bytes += n
	if k := len(o.iov) - 1; o.tail && k >= o.head {
		o.iov[k] = o.iov[k][:len(o.iov[k])+n]
	} else {
		o.iov = append(o.iov, o.arena[start:start+n])
		o.tail = true
	}
	return o.arena[start : start+n : start+n]
}

// reserveAround is reserve(head), appendRef(p), reserve(foot) in one call, for a frame whose
// non-empty p is written from its own buffer between two arena encodings (a message's header
// and footer around its data): the same iov entries and arena bytes, with the arena's room
// checked once and iov grown once (one call instead of three per message). When the arena
// cannot hold both, the three calls do it, as before.
func (o *outbuf) reserveAround(head int, p []byte, foot int) (h, f []byte) {
	start := len(o.arena)
	mid, end := start+head, start+head+foot
	if o.arena == nil || end > cap(o.arena) {
		h = o.reserve(head)
		o.appendRef(p)
		return h, o.reserve(foot)
	}
	o.arena = o.arena[:end]
	o.bytes += head + len(p) + foot
	if k := len(o.iov) - 1; o.tail && k >= o.head {
		o.iov[k] = o.iov[k][:len(o.iov[k])+head]
		o.iov = append(o.iov, p, o.arena[mid:end])
	} else {
		o.iov = append(o.iov, o.arena[start:mid], p, o.arena[mid:end])
	}
	o.tail = true
	return o.arena[start:mid:mid], o.arena[mid:end:end]
}

// nextArena makes room for n bytes: the current arena (if any) is kept until the batch is
// written, and a spare one, one lent by the host, or a new one takes its place.
func (o *outbuf) nextArena(n int) {
	switch {
	case o.arena == nil:
	case len(o.arena) > 0:
		o.full = append(o.full, o.arena)
	case cap(o.arena) == arenaSize:
		o.spare = append(o.spare, o.arena)
	}
	o.arena, o.tail = nil, false
	if n <= arenaSize {
		if k := len(o.spare) - 1; k >= 0 {
			o.arena, o.spare[k] = o.spare[k][:0], nil
			o.spare = o.spare[:k]
		} else if o.bufs != nil {
			o.arena = o.bufs.GetBuffer(arenaSize)[:0]
		}
	}
	if o.arena == nil {
		o.arena = make([]byte, 0, max(arenaSize, n))
	}
}

// releaseArenas gives every arena back to the host when nothing is waiting to be written.
func (o *outbuf) releaseArenas() {
	if o.bytes != 0 || o.bufs == nil {
		return
	}
	o.reset()
	for _, a := range o.spare {
		o.putArena(a)
	}
	clear(o.spare)
	o.spare = o.spare[:0]
	if o.arena != nil {
		o.putArena(o.arena)
		o.arena = nil
	}
}

// putArena gives an arena of the standard size to the host (larger ones are dropped).
func (o *outbuf) putArena(a []byte) {
	if cap(a) == arenaSize {
		o.bufs.PutBuffer(a[:arenaSize])
	}
}

// appendCopy queues a copy of p.
func (o *outbuf) appendCopy(p []byte) {
	if len(p) > 0 {
		copy(o.reserve(len(p)), p)
	}
}

// appendRef queues p itself (zero copy); p must not change until written.
func (o *outbuf) appendRef(p []byte) {
	if len(p) == 0 {
		return
	}
	o.iov = append(o.iov, p)
	o.bytes += len(p)
	o.tail = false
}

// pending is what remains to write, up to the first chunk whose crc is not computed yet.
func (o *outbuf) pending() [][]byte {
	if o.bytes == 0 {
		return nil
	}
	if o.nsum < len(o.sums) {
		return o.iov[o.head:o.sums[o.nsum].at]
	}
	return o.iov[o.head:]
}

// ready is the number of bytes queued before iov index at, not yet written.
func (o *outbuf) ready(at int) int {
	n := 0
	for _, s := range o.iov[o.head:at] {
		n += len(s)
	}
	return n
}

// consume marks n bytes written.
func (o *outbuf) consume(n int) {
	o.bytes -= n
	if o.bytes == 0 {
		o.reset() // all written (the common case): reset clears every entry anyway
		return
	}
	for n > 0 {
		s := o.iov[o.head]
		if n < len(s) {
			o.iov[o.head] = s[n:]
			return
		}
		n -= len(s)
		o.iov[o.head] = nil
		o.head++
	}
}

// reset drops everything not yet written.
func (o *outbuf) reset() {
	clear(o.iov)
	o.iov, o.head, o.bytes, o.tail = o.iov[:0], 0, 0, false
	if o.arena != nil {
		o.arena = o.arena[:0]
	}
	for i, a := range o.full {
		if cap(a) == arenaSize {
			o.spare = append(o.spare, a[:0])
		}
		o.full[i] = nil
	}
	o.full = o.full[:0]
	clear(o.sums)
	o.sums, o.nsum = o.sums[:0], 0
}
