//go:build linux

package epoll

import (
	"net"
	"net/netip"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// normalize unmaps IPv4-mapped IPv6 addresses, so a connection has one spelling of its
// endpoints whatever socket family carries it.
func normalize(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// toSockaddr converts addr to a socket address and the family to create the socket in.
// IPv4-mapped IPv6 addresses use AF_INET.
func toSockaddr(addr netip.AddrPort) (unix.Sockaddr, int, error) {
	ip := addr.Addr().Unmap()
	switch {
	case ip.Is4():
		return &unix.SockaddrInet4{Port: int(addr.Port()), Addr: ip.As4()}, unix.AF_INET, nil
	case ip.Is6():
		zone, err := zoneIndex(ip.Zone())
		if err != nil {
			return nil, 0, err
		}
		sa := &unix.SockaddrInet6{Port: int(addr.Port()), Addr: ip.As16(), ZoneId: zone}
		return sa, unix.AF_INET6, nil
	}
	return nil, 0, os.NewSyscallError("sockaddr", unix.EINVAL)
}

// zoneIndex turns an IPv6 zone (an interface index or name) into a scope id.
func zoneIndex(zone string) (uint32, error) {
	if zone == "" {
		return 0, nil
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, err
	}
	return uint32(ifi.Index), nil
}

// fromSockaddr converts a socket address to an AddrPort; IPv6 zones are rendered as the
// decimal interface index. Unknown families give the zero AddrPort.
func fromSockaddr(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		ip := netip.AddrFrom16(sa.Addr)
		if sa.ZoneId != 0 {
			ip = ip.WithZone(strconv.FormatUint(uint64(sa.ZoneId), 10))
		}
		return normalize(netip.AddrPortFrom(ip, uint16(sa.Port)))
	}
	return netip.AddrPort{}
}

// sockname returns the local address of fd.
func sockname(fd int) (netip.AddrPort, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}, os.NewSyscallError("getsockname", err)
	}
	return fromSockaddr(sa), nil
}

// peername returns the remote address of fd, or the bare errno (ENOTCONN while connecting).
func peername(fd int) (netip.AddrPort, error) {
	sa, err := unix.Getpeername(fd)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return fromSockaddr(sa), nil
}
