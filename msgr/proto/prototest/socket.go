package prototest

import (
	"fmt"
	"io"
	"net/netip"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Socket is one TCP connection. Ends[i] is nil for a scripted peer (raw injection only).
type Socket struct {
	ID     int
	Ends   [2]*Node
	Open   [2]bool   // the end has not been closed by its owner
	EOF    [2]bool   // end i was told about the peer closing
	Flight [2][]byte // Flight[i]: written by end i, not yet read by end 1-i
	Wrote  [2][]byte // Wrote[i]: everything end i wrote or had injected
}

// EndName is the name of end i's connection, "peer" for a scripted peer.
func (s *Socket) EndName(i int) string {
	if s.Ends[i] == nil {
		return "peer"
	}
	return s.Ends[i].Name
}

func (s *Socket) String() string {
	return fmt.Sprintf("socket %d (%s↔%s)", s.ID, s.EndName(0), s.EndName(1))
}

// Connect gives dialer d a socket to acceptor a (nil: a scripted peer) and starts both.
func (w *World) Connect(d, a *Node) *Socket {
	s := w.newSocket(d, a)
	d.Dialing = false
	if a != nil {
		sockPeer := wire.LegacyAddr(netip.AddrPortFrom(d.M.Addr.Addr.Addr(), uint16(40000+s.ID)), 0)
		a.C = proto.NewAcceptor(a.M.Cfg, a, sockPeer)
		a.Started = true
		a.C.Start()
	}
	d.C.Connected()
	w.Drain()
	return s
}

// Accept gives acceptor a a socket from a scripted peer at 10.0.0.99:40000 and starts it.
func (w *World) Accept(a *Node) *Socket { return w.AcceptFrom(a, defaultSockPeer) }

// AcceptFrom is Accept from a scripted peer whose socket has the TCP address sockPeer.
func (w *World) AcceptFrom(a *Node, sockPeer wire.EntityAddr) *Socket {
	s := w.newSocket(nil, a)
	a.C = proto.NewAcceptor(a.M.Cfg, a, sockPeer)
	a.Started = true
	a.C.Start()
	w.Drain()
	return s
}

func (w *World) newSocket(d, a *Node) *Socket {
	s := &Socket{ID: len(w.Sockets) + 1, Ends: [2]*Node{d, a}, Open: [2]bool{true, true}}
	w.Sockets = append(w.Sockets, s)
	for i, n := range s.Ends {
		if n != nil {
			n.Sock, n.Side = s, i
		}
	}
	if !w.Quiet {
		w.Logf("%v connected", s)
	}
	return s
}

// tap records p, written by end from of s (or injected toward the other end).
func (w *World) tap(s *Socket, from int, p []byte, injected bool) {
	s.Wrote[from] = append(s.Wrote[from], p...)
	if w.Tap != nil {
		w.Tap(s, from, p, injected)
	}
}

// Write moves up to limit bytes (all if limit <= 0) of n's output into flight, in writes of
// at most chunk bytes (unbounded if chunk <= 0). It returns the number of bytes written.
func (w *World) Write(n *Node, chunk, limit int) int {
	if n.C == nil || n.Sock == nil || n.Crashed {
		return 0
	}
	s, total := n.Sock, 0
	for limit <= 0 || total < limit {
		iov := n.C.Output()
		if len(iov) == 0 {
			break
		}
		want := chunk
		if want <= 0 {
			want = 1 << 30
		}
		if limit > 0 {
			want = min(want, limit-total)
		}
		var p []byte
		for _, v := range iov {
			p = append(p, v[:min(len(v), want-len(p))]...)
			if len(p) == want {
				break
			}
		}
		n.C.Wrote(len(p))
		total += len(p)
		if s.Open[1-n.Side] {
			s.Flight[n.Side] = append(s.Flight[n.Side], p...)
		}
		w.tap(s, n.Side, p, false)
	}
	if total > 0 && !s.Open[1-n.Side] {
		w.Logf("%s→%s: %d bytes lost (%s closed its end)", n.Name, s.EndName(1-n.Side), total, s.EndName(1-n.Side))
	}
	w.Drain()
	return total
}

// Inject puts raw bytes in flight toward n, as if its peer had written them.
func (w *World) Inject(n *Node, p []byte) {
	s := n.Sock
	s.Flight[1-n.Side] = append(s.Flight[1-n.Side], p...)
	w.tap(s, 1-n.Side, p, true)
}

// Read feeds up to limit bytes (all if limit <= 0) in flight toward n, in reads of at most
// chunk bytes, then reports EOF when the peer closed its end and nothing is left. It returns
// the bytes consumed and whether EOF was reported.
func (w *World) Read(n *Node, chunk, limit int) (int, bool) {
	s := n.Sock
	if n.C == nil || s == nil || n.Crashed {
		return 0, false
	}
	src, total := &s.Flight[1-n.Side], 0
	for len(*src) > 0 && (limit <= 0 || total < limit) {
		k := len(*src)
		if chunk > 0 {
			k = min(k, chunk)
		}
		if limit > 0 {
			k = min(k, limit-total)
		}
		took := n.C.Feed((*src)[:k])
		total += took
		if n.Sock != s {
			break // closed (what was in flight toward n went with it) or handed over
		}
		*src = (*src)[took:]
		if took < k {
			break
		}
	}
	eof := len(*src) == 0 && !s.Open[1-n.Side] && !s.EOF[n.Side] && n.Sock == s && (limit <= 0 || total < limit)
	if eof {
		s.EOF[n.Side] = true
		w.Logf("%s: read EOF on socket %d", n.Name, s.ID)
		n.C.TransportError(io.EOF)
	}
	w.Drain()
	return total, eof
}

// CloseEnd closes n's end of its socket (without telling the core).
func (w *World) CloseEnd(n *Node) {
	if s := n.Sock; s != nil {
		s.Open[n.Side] = false
		s.Flight[1-n.Side] = nil // unread input is gone with the socket
		n.Sock = nil
	}
}

// Cut fails socket s under both ends: bytes in flight are lost and each end still holding it
// gets a transport error (ErrCut).
func (w *World) Cut(s *Socket) {
	lost := len(s.Flight[0]) + len(s.Flight[1])
	w.Logf("cut %v: %d bytes in flight lost", s, lost)
	s.Flight = [2][]byte{}
	for i, n := range s.Ends {
		s.Open[i] = false
		if n != nil && n.Sock == s {
			n.Sock = nil
			n.C.TransportError(ErrCut)
			w.Drain()
		}
	}
}

// CarryOut performs the lossless replace decided on n (msgr's carryOutHandover and adopt):
// the existing session takes n's socket and unconsumed input.
//
// If the socket failed after the decision (cut, transport error), msgr still hands it over
// and the existing session learns of the failure from it: here it gets a transport error
// right after adopting it.
func (w *World) CarryOut(n *Node) {
	h := n.Handover
	n.Handover = nil
	ex, s := h.Existing, h.Sock
	dead := n.Sock != s
	leftover := n.C.TakeInput()
	w.Logf("%s: hand socket %d over to %s (%d bytes of input)", n.Name, s.ID, ex.Name, len(leftover))
	n.Sock = nil
	if ex.C.State() == proto.StateClosed {
		w.Logf("%s: closed meanwhile: socket %d closed", ex.Name, s.ID)
		s.Open[n.Side] = false
		return
	}
	if h.ResetExisting {
		ex.C.SessionReset()
	}
	if ex.Sock != nil {
		w.Logf("%s: old socket %d closed", ex.Name, ex.Sock.ID)
		w.CloseEnd(ex)
	}
	ex.Dialing = false
	if !dead {
		s.Ends[n.Side] = ex
		ex.Sock, ex.Side = s, n.Side
	}
	ex.C.Adopt(h.Connect, h.ResetFromPeer, leftover)
	w.Drain()
	if dead {
		w.Logf("%s: socket %d had failed", ex.Name, s.ID)
		ex.C.TransportError(ErrCut)
		w.Drain()
	}
}

// CarryOutAll performs every pending replace, in node order, and reports whether there was
// one.
func (w *World) CarryOutAll() bool {
	did := false
	for _, n := range w.Nodes {
		if n.Handover != nil {
			w.CarryOut(n)
			did = true
		}
	}
	return did
}
