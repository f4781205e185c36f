package simnet

import "fmt"

// Dir is the direction of one stream of a connection. Where an API takes a Dir to name an
// end of a connection (Reset), the end is the one that sends in that direction:
// ClientToServer names the client, ServerToClient the server.
type Dir uint8

// Directions. Their values (0 and 1) index per-direction arrays such as ConnInfo.Bytes.
const (
	ClientToServer Dir = client
	ServerToClient Dir = server
)

// String returns "c2s" or "s2c".
func (d Dir) String() string {
	switch d {
	case ClientToServer:
		return "c2s"
	case ServerToClient:
		return "s2c"
	}
	return fmt.Sprintf("dir(%d)", uint8(d))
}

// StreamID names one stream: a connection (as in Transfer.Conn) and a direction.
type StreamID struct {
	Conn uint64
	Dir  Dir
}

// String renders the stream as in traces, e.g. "c3/c2s".
func (s StreamID) String() string { return fmt.Sprintf("c%d/%v", s.Conn, s.Dir) }

// Op is an operation that moves bytes of a stream, as seen by a Chunker.
type Op uint8

// Operations.
const (
	// OpWrite is a Writev accepting bytes into the sender's send buffer.
	OpWrite Op = iota + 1
	// OpDeliver is a Deliver transfer moving bytes to the receiver (or discarding them after
	// the receiver's ShutRead).
	OpDeliver
	// OpRead is a Read taking bytes from the receiver's receive buffer.
	OpRead
)

var opNames = [...]string{"?", "write", "deliver", "read"}

// String returns "write", "deliver" or "read".
func (o Op) String() string {
	if int(o) < len(opNames) && o != 0 {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Chunker chooses how many bytes one operation moves, instead of the random source. It is
// given the stream, the operation, the stream's absolute byte offset off where the operation
// starts (how many bytes of the stream came before this chunk: written before, for OpWrite;
// delivered or discarded before, for OpDeliver; delivered before the first buffered byte, for
// OpRead) and avail >= 1, what the operation could move at most. The result should be in
// [1, avail]; results outside are clamped. A Chunker is called on the simulation goroutine,
// from inside Writev, Run and Read; it must not call back into the Network.
type Chunker interface {
	Chunk(s StreamID, op Op, off uint64, avail int) int
}

// Observer sees every byte Writev accepts, in stream order, before any of it can be
// delivered: Written is called with the stream, the absolute offset of p's first byte and p,
// once per non-empty buffer (or prefix of one) that the write took. p belongs to the caller
// of Writev: an Observer that keeps bytes must copy them. It must not call back into the
// Network.
type Observer interface {
	Written(s StreamID, off uint64, p []byte)
}

// SetChunker installs c to choose the size of every write, delivery and read from now on; nil
// restores the random choice (see the package documentation, Chunking).
func (n *Network) SetChunker(c Chunker) { n.chunker = c }

// SetObserver installs o to see every byte accepted by Writev from now on; nil removes it.
func (n *Network) SetObserver(o Observer) { n.observer = o }

// chunkOp decides how many of avail (>= 1) bytes an operation on stream dir of c moves:
// the Chunker's choice, clamped to [1, avail], if one is installed, else a random chunk.
func (n *Network) chunkOp(c *conn, dir int, op Op, off uint64, avail int) int {
	if n.chunker == nil {
		return n.chunk(avail)
	}
	k := n.chunker.Chunk(StreamID{Conn: c.id, Dir: Dir(dir)}, op, off, avail)
	return max(1, min(k, avail))
}

// observe shows the first k bytes of bufs, written on stream dir of c from offset off, to the
// Observer.
func (n *Network) observe(c *conn, dir int, off uint64, bufs [][]byte, k int) {
	s := StreamID{Conn: c.id, Dir: Dir(dir)}
	for _, b := range bufs {
		if k == 0 {
			return
		}
		m := min(len(b), k)
		if m > 0 {
			n.observer.Written(s, off, b[:m])
		}
		off += uint64(m)
		k -= m
	}
}
