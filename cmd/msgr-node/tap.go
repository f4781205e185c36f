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
// account is what a reader of a capture would see. Parsing stops once a reply opens the
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

// replyParser follows a server-to-client byte stream through the handshake: the 281-byte
// greeting, then connect replies (26 bytes, an authorizer, and 8 bytes after SEQ) until one
// opens the session.
type replyParser struct {
	report  func(tappedReply)
	pending []byte // bytes of the element being read
	skip    int    // bytes still to skip (greeting, authorizer, seq)
	started bool
	done    bool
}

func (p *replyParser) feed(s *tapSocket, b []byte) {
	if !p.started {
		p.started, p.skip = true, wire.ServerGreetingLen
	}
	for len(b) > 0 && !p.done {
		if p.skip > 0 {
			k := min(p.skip, len(b))
			p.skip -= k
			b = b[k:]
			continue
		}
		k := min(wire.ConnectReplyLen-len(p.pending), len(b))
		p.pending = append(p.pending, b[:k]...)
		b = b[k:]
		if len(p.pending) < wire.ConnectReplyLen {
			return
		}
		r, err := wire.DecodeConnectReply(p.pending, wire.DefaultLimits())
		p.pending = p.pending[:0]
		if err != nil {
			p.done = true
			return
		}
		p.report(tappedReply{Sent: s.sent, Sock: s.id, Local: s.LocalAddr(), Remote: s.RemoteAddr(), Reply: r})
		p.skip = int(r.AuthorizerLen)
		switch r.Tag {
		case wire.TagSeq:
			p.skip += wire.SeqLen
			p.done = true
		case wire.TagReady:
			p.done = true
		}
	}
}
