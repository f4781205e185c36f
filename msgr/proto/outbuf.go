package proto

// outbuf is the write side: a list of slices to write in order (a writev batch) and an arena
// holding the small encodings (tags, headers, footers, handshake structures) they point into.
// Consecutive arena writes are merged into one slice. The arena is only reset when everything
// was written, so slices handed to the driver stay valid; when it fills up mid-batch a new one
// is allocated and the old one lives on until its slices are written.
type outbuf struct {
	iov   [][]byte
	head  int // first slice not fully written
	arena []byte
	bytes int // bytes not yet written
}

const arenaSize = 16 << 10

func (o *outbuf) empty() bool { return o.bytes == 0 }

// reserve returns n bytes of arena, queued for writing after everything already queued.
func (o *outbuf) reserve(n int) []byte {
	if o.arena == nil || len(o.arena)+n > cap(o.arena) {
		size := arenaSize
		if n > size {
			size = n
		}
		o.arena = make([]byte, 0, size)
	}
	start := len(o.arena)
	o.arena = o.arena[:start+n]
	p := o.arena[start : start+n : start+n]
	o.bytes += n
	if k := len(o.iov) - 1; k >= o.head && o.adjacent(o.iov[k], start) {
		last := o.iov[k]
		o.iov[k] = o.arena[start-len(last) : start+n]
		return p
	}
	o.iov = append(o.iov, p)
	return p
}

// adjacent reports whether s ends exactly at arena offset start (so the two can merge).
func (o *outbuf) adjacent(s []byte, start int) bool {
	if len(s) == 0 || start < len(s) || cap(s) == 0 {
		return false
	}
	return &o.arena[start-1] == &s[len(s)-1]
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
}

// pending is what remains to write.
func (o *outbuf) pending() [][]byte {
	if o.bytes == 0 {
		return nil
	}
	return o.iov[o.head:]
}

// consume marks n bytes written.
func (o *outbuf) consume(n int) {
	o.bytes -= n
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
	if o.bytes == 0 {
		o.reset()
	}
}

// reset drops everything not yet written.
func (o *outbuf) reset() {
	clear(o.iov)
	o.iov, o.head, o.bytes = o.iov[:0], 0, 0
	if o.arena != nil {
		o.arena = o.arena[:0]
	}
}
