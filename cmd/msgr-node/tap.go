package main

import (
	"net/netip"
	"sync/atomic"

	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// replyTap wraps a netio.Stack and reports every connect reply that crosses its sockets: the
// replies read by a connecting socket and the replies written by an accepted one. The
// messenger does not report them (its tracer sees states, not reply tags), and a wire-level
// account is what a reader of a capture would see. The walk stops once a reply opens the
// session (READY or SEQ), so the data path pays one branch per read or write.
type replyTap struct {
	netio.Stack
	report func(r tappedReply)
	socks  atomic.Uint64 // sockets numbered in the order they were made
}

// tappedReply is one connect reply seen on a socket.
type tappedReply struct {
	Sent          bool   // written by us (we accepted the socket), else read by us (we connected)
	Sock          uint64 // the socket's number (addresses can be reused over a long run)
	Local, Remote netip.AddrPort
	Reply         wire.ConnectReply
}

func (t *replyTap) Connect(addr netip.AddrPort) (netio.Socket, error) {
	s, err := t.Stack.Connect(addr)
	if err != nil {
		return nil, err
	}
	return &tapSocket{Socket: s, sent: false, id: t.socks.Add(1), p: replyParser{report: t.report}}, nil
}

func (t *replyTap) Listen(addr netip.AddrPort, backlog int) (netio.Listener, error) {
	l, err := t.Stack.Listen(addr, backlog)
	if err != nil {
		return nil, err
	}
	return &tapListener{Listener: l, t: t}, nil
}

type tapListener struct {
	netio.Listener
	t *replyTap
}

func (l *tapListener) Accept() (netio.Socket, error) {
	s, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tapSocket{Socket: s, sent: true, id: l.t.socks.Add(1), p: replyParser{report: l.t.report}}, nil
}

// tapSocket feeds the server-to-client direction of its connection to a replyParser: what it
// reads when it connected, what it writes when it was accepted.
type tapSocket struct {
	netio.Socket
	sent bool
	id   uint64
	p    replyParser
}

func (s *tapSocket) Read(b []byte) (int, error) {
	n, err := s.Socket.Read(b)
	if !s.sent && n > 0 && !s.p.done {
		s.p.feed(s, b[:n])
	}
	return n, err
}

func (s *tapSocket) Writev(bufs [][]byte) (int, error) {
	n, err := s.Socket.Writev(bufs)
	if s.sent && n > 0 && !s.p.done {
		left := n
		for _, b := range bufs {
			k := min(left, len(b))
			s.p.feed(s, b[:k])
			if left -= k; left == 0 {
				break
			}
		}
	}
	return n, err
}

// replyParser walks a server-to-client byte stream through the handshake with wire's msgr1
// walker and reports each connect reply, until one opens the session or ends the handshake.
type replyParser struct {
	report func(tappedReply)
	w      *wire.Walker
	done   bool
}

func (p *replyParser) feed(s *tapSocket, b []byte) {
	if p.w == nil {
		p.w = wire.NewWalker(wire.ServerToClient)
	}
	for len(b) > 0 && !p.done {
		n, e := p.w.Next(b)
		b = b[n:]
		if e != nil && e.Kind == wire.ElemReply {
			p.report(tappedReply{Sent: s.sent, Sock: s.id, Local: s.LocalAddr(), Remote: s.RemoteAddr(), Reply: e.Reply})
		}
		if ph := p.w.Phase(); n == 0 || ph == wire.PhaseSeq || ph >= wire.PhaseSession {
			p.done, p.w = true, nil
		}
	}
}
