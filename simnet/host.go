package simnet

import (
	"net/netip"
	"slices"
	"syscall"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// Ephemeral ports, for client sockets and for listeners asked for port 0.
const (
	ephemeralMin = 40000
	ephemeralMax = 65535
)

// firstFD is the first descriptor number of a host (0, 1 and 2 are stdio in a real process).
const firstFD = 3

// Host is one simulated machine with one IP address. It implements netio.Stack; its
// descriptors, ports and listeners are its own.
type Host struct {
	name string
	ip   netip.Addr
	net  *Network

	nextFD    int
	files     []file      // open descriptors: files[fd-firstFD], nil once closed
	listeners []*Listener // bound listeners, in the order they were bound
	ports     []uint16    // local ports in use by listeners and client sockets, ascending
	nextPort  int
	pollers   []*Poller  // in creation order, for Crash
	pollerArr [2]*Poller // the first backing array of pollers

	// First backing arrays of files, listeners and ports: a small host never grows them.
	fileArr     [8]file
	listenerArr [2]*Listener
	portArr     [8]uint16
	crashed     bool
}

var _ netio.Stack = (*Host)(nil)

func newHost(n *Network, name string, ip netip.Addr) *Host {
	h := &Host{
		name:     name,
		ip:       ip,
		net:      n,
		nextFD:   firstFD,
		nextPort: ephemeralMin,
	}
	h.files, h.listeners, h.ports = h.fileArr[:0], h.listenerArr[:0], h.portArr[:0]
	return h
}

// Name returns the name given to AddHost.
func (h *Host) Name() string { return h.name }

// IP returns the host's address.
func (h *Host) IP() netip.Addr { return h.ip }

// Network returns the network the host belongs to.
func (h *Host) Network() *Network { return h.net }

// Clock returns the network's virtual clock.
func (h *Host) Clock() netio.Clock { return h.net.clock }

// NewPoller returns a new *Poller watching descriptors of this host. A crashed host gives
// ENETUNREACH.
func (h *Host) NewPoller() (netio.Poller, error) {
	if h.crashed {
		return nil, netio.ErrUnreachable
	}
	p := h.net.newPoller()
	p.host = h
	if h.pollers == nil {
		h.pollers = h.pollerArr[:0]
	}
	h.pollers = slices.DeleteFunc(h.pollers, func(p *Poller) bool { return p.closed })
	h.pollers = append(h.pollers, p)
	return p, nil
}

// Listen binds a listener to addr. The address must be the host's own or unspecified (an
// invalid netip.Addr counts as unspecified); port 0 picks an ephemeral port. A port taken by a
// listener or a client socket of this host gives EADDRINUSE. A backlog of 0 or less means
// Config.Backlog. A crashed host gives ENETUNREACH.
func (h *Host) Listen(addr netip.AddrPort, backlog int) (netio.Listener, error) {
	if h.crashed {
		return nil, netio.ErrUnreachable
	}
	ip := addr.Addr().Unmap()
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	if !ip.IsUnspecified() && ip != h.ip {
		return nil, netio.ErrAddrNotAvail
	}
	port, err := h.bindPort(addr.Port())
	if err != nil {
		return nil, err
	}
	if backlog <= 0 {
		backlog = h.net.cfg.Backlog
	}
	l := &Listener{host: h, addr: netip.AddrPortFrom(ip, port), backlog: backlog}
	h.listeners = append(h.listeners, l)
	h.install(l)
	return l, nil
}

// Connect starts a connect to addr and returns at once with a socket whose ConnectError is
// EINPROGRESS. The attempt is decided by an Establish transfer, runnable one latency later
// (Config.Latency plus the connection's spread). A crashed host gives ENETUNREACH.
func (h *Host) Connect(addr netip.AddrPort) (netio.Socket, error) {
	if h.crashed {
		return nil, netio.ErrUnreachable
	}
	if !addr.IsValid() {
		return nil, syscall.EINVAL
	}
	port, err := h.bindPort(0)
	if err != nil {
		return nil, err
	}
	n := h.net
	c := n.newConn()
	s := n.newSocket()
	*s = Socket{
		host:     h,
		local:    netip.AddrPortFrom(h.ip, port),
		remote:   netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port()),
		ownsPort: true,
	}
	s.join(c, client)
	c.ends[client] = s
	c.latency = n.cfg.Latency + n.spread()
	c.estDue = n.now() + c.latency
	h.install(s)
	n.activate(c)
	n.stats.Connects++
	return s, nil
}

// bindPort reserves port, or an ephemeral port when port is 0.
func (h *Host) bindPort(port uint16) (uint16, error) {
	if port == 0 {
		return h.ephemeralPort()
	}
	i, used := slices.BinarySearch(h.ports, port)
	if used {
		return 0, netio.ErrAddrInUse
	}
	h.ports = slices.Insert(h.ports, i, port)
	return port, nil
}

// ephemeralPort reserves the next free port of the ephemeral range, counting upwards from
// where the last search stopped and wrapping around.
func (h *Host) ephemeralPort() (uint16, error) {
	for range ephemeralMax - ephemeralMin + 1 {
		p := uint16(h.nextPort)
		h.nextPort++
		if h.nextPort > ephemeralMax {
			h.nextPort = ephemeralMin
		}
		if i, used := slices.BinarySearch(h.ports, p); !used {
			h.ports = slices.Insert(h.ports, i, p)
			return p, nil
		}
	}
	return 0, netio.ErrAddrNotAvail
}

func (h *Host) releasePort(port uint16) {
	if i, used := slices.BinarySearch(h.ports, port); used {
		h.ports = slices.Delete(h.ports, i, i+1)
	}
}

// file returns the open file with descriptor fd, or nil.
func (h *Host) file(fd int) file {
	if i := fd - firstFD; i >= 0 && i < len(h.files) {
		return h.files[i]
	}
	return nil
}

// listener returns the listener bound to port, or nil.
func (h *Host) listener(port uint16) *Listener {
	for _, l := range h.listeners {
		if l.addr.Port() == port {
			return l
		}
	}
	return nil
}

// Listening reports whether a listener of a live host is bound to addr (a read of the
// network's state: it changes nothing, and draws nothing).
func (n *Network) Listening(addr netip.AddrPort) bool {
	h := n.Host(addr.Addr())
	return h != nil && h.listener(addr.Port()) != nil
}

// unbind forgets listener l.
func (h *Host) unbind(l *Listener) {
	if i := slices.Index(h.listeners, l); i >= 0 {
		h.listeners = slices.Delete(h.listeners, i, i+1)
	}
}

// install gives f the next descriptor number. Numbers are never reused.
func (h *Host) install(f file) {
	w := f.watchOf()
	w.fd = h.nextFD
	h.nextFD++
	h.files = append(h.files, f) // at w.fd-firstFD: numbers are given in order
}

// uninstall removes f from the descriptor table and from its poller.
func (h *Host) uninstall(f file) {
	w := f.watchOf()
	if i := w.fd - firstFD; i >= 0 && i < len(h.files) && h.files[i] == f {
		h.files[i] = nil
	}
	if p := w.live(); p != nil && w.queued {
		p.remove(w)
	}
	w.poller = nil
	w.queued = false
}

// listenerFor returns the listener that a connect to addr reaches now, or nil.
func (n *Network) listenerFor(addr netip.AddrPort) *Listener {
	h := n.byIP[addr.Addr()]
	if h == nil {
		return nil
	}
	return h.listener(addr.Port())
}
