package fault

import (
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/simnet"
)

// Start is where a msgr1 element begins in a stream: its kind, its frame and its offset.
type Start struct {
	Kind  wire.ElemKind
	Frame wire.FrameKind
	Off   uint64
}

// Starts looks ahead: it walks bufs as the next bytes to be written on stream s (not yet
// written: the frame tracker is not changed) and calls fn with every element that begins
// within them, in order, until fn returns false. A session frame's tag is reported with the
// frame its byte starts. Bytes the tracker cannot walk yet (a client waiting for the server's
// reply) begin nothing. The fault-point explorer (workload/explore) uses it to stop a write
// exactly where a frame begins.
func (in *Injector) Starts(s simnet.StreamID, bufs [][]byte, fn func(Start) bool) {
	st := &in.tracker.conn(s.Conn).s[s.Dir]
	if len(st.held) > 0 {
		return
	}
	w := st.w // a copy: the lookahead leaves the tracker's walker where it is
	for _, b := range bufs {
		for len(b) > 0 {
			kind, frame, start, ok := w.Pending()
			if !ok {
				return
			}
			if start == w.Offset() {
				if kind == wire.ElemTag {
					_, e := w.Next(b[:1])
					frame = e.Frame
				}
				if !fn(Start{Kind: kind, Frame: frame, Off: start}) {
					return
				}
				if kind == wire.ElemTag {
					b = b[1:]
					continue
				}
			}
			n, _ := w.Next(b)
			if n == 0 {
				return
			}
			b = b[n:]
		}
	}
}
