package simnet

import (
	"net/netip"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// Listener is a simulated listening socket. It implements netio.Listener. Established
// connections wait in its accept queue, at most backlog of them; a connect that finds the
// queue full is refused. Its descriptor is readable while the queue is not empty.
type Listener struct {
	watch
	host    *Host
	addr    netip.AddrPort
	backlog int
	queue   []*Socket // established, not yet accepted, oldest first
	closed  bool
}

var _ netio.Listener = (*Listener)(nil)

func (l *Listener) watchOf() *watch { return &l.watch }

func (l *Listener) readiness() (netio.Events, bool) {
	if len(l.queue) > 0 {
		return netio.Read, false
	}
	return 0, false
}

// FD returns the listener's descriptor number on its host, or -1 once closed.
func (l *Listener) FD() int {
	if l.closed {
		return -1
	}
	return l.fd
}

// Addr returns the bound address, with the chosen port if 0 was asked (the IP stays
// unspecified if it was asked so).
func (l *Listener) Addr() netip.AddrPort { return l.addr }

// Accept returns the oldest established connection, giving it the host's next descriptor,
// or ErrWouldBlock when there is none.
func (l *Listener) Accept() (netio.Socket, error) {
	if l.closed {
		return nil, netio.ErrBadFD
	}
	if len(l.queue) == 0 {
		return nil, netio.ErrWouldBlock
	}
	s := l.queue[0]
	copy(l.queue, l.queue[1:])
	l.queue[len(l.queue)-1] = nil
	l.queue = l.queue[:len(l.queue)-1]
	l.host.install(s)
	notify(l)
	return s, nil
}

// Close stops listening and frees the port. Connections still in the accept queue are reset:
// their clients get ECONNRESET.
func (l *Listener) Close() error {
	if l.closed {
		return netio.ErrBadFD
	}
	l.closed = true
	l.host.uninstall(l)
	l.host.unbind(l)
	l.host.releasePort(l.addr.Port())
	for i, s := range l.queue {
		s.closed = true
		s.c.reset()
		l.queue[i] = nil
	}
	l.queue = nil
	return nil
}

// enqueue adds an established server-side socket to the accept queue (the caller checked
// the backlog).
func (l *Listener) enqueue(s *Socket) {
	l.queue = append(l.queue, s)
	notify(l)
}
