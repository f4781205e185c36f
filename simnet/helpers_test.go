package simnet

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/netio"
)

var (
	ipA = netip.MustParseAddr("10.0.0.1")
	ipB = netip.MustParseAddr("10.0.0.2")
	ipC = netip.MustParseAddr("10.0.0.3")
)

const testPort = 6789

// world is a two-host network for tests: a client host A and a server host B.
type world struct {
	t   testing.TB
	net *Network
	a   *Host
	b   *Host
	rng *detrand.Rand // the test driver's own choices, apart from the network's
}

func newWorld(t testing.TB, seed uint64, cfg Config) *world {
	t.Helper()
	n := New(NewClock(), detrand.NewSeeded(seed), cfg)
	n.checkScans = true
	return &world{
		t:   t,
		net: n,
		a:   n.AddHost("a", ipA),
		b:   n.AddHost("b", ipB),
		rng: detrand.NewSeeded(seed ^ 0x5eed),
	}
}

// settle runs transfers, chosen at random, until none is runnable and none is due later,
// advancing the clock as needed. It returns how many transfers ran.
func (w *world) settle() int {
	w.t.Helper()
	return settle(w.t, w.net, w.rng)
}

func settle(t testing.TB, n *Network, rng *detrand.Rand) int {
	t.Helper()
	ran := 0
	for steps := 0; ; steps++ {
		if steps > 1_000_000 {
			t.Fatalf("network did not settle")
		}
		if r := n.Runnable(); r > 0 {
			n.Run(rng.IntN(r))
			ran++
			continue
		}
		due, ok := n.NextEvent()
		if !ok {
			return ran
		}
		n.Clock().AdvanceTo(due)
	}
}

func (w *world) listen(h *Host, port uint16, backlog int) *Listener {
	w.t.Helper()
	l, err := h.Listen(netip.AddrPortFrom(h.IP(), port), backlog)
	if err != nil {
		w.t.Fatalf("listen: %v", err)
	}
	return l.(*Listener)
}

func (w *world) connect(h *Host, to netip.AddrPort) *Socket {
	w.t.Helper()
	s, err := h.Connect(to)
	if err != nil {
		w.t.Fatalf("connect: %v", err)
	}
	return s.(*Socket)
}

// pair returns a connected client (on A) and accepted server (on B) socket.
func (w *world) pair() (cl, srv *Socket) {
	w.t.Helper()
	l := w.listen(w.b, testPort, 0)
	cl = w.connect(w.a, netip.AddrPortFrom(ipB, testPort))
	w.settle()
	if err := cl.ConnectError(); err != nil {
		w.t.Fatalf("connect error: %v", err)
	}
	s, err := l.Accept()
	if err != nil {
		w.t.Fatalf("accept: %v", err)
	}
	return cl, s.(*Socket)
}

// writeSome writes a prefix of p and returns its length (0 on EAGAIN).
func writeSome(t testing.TB, s *Socket, p []byte) int {
	t.Helper()
	n, err := s.Writev([][]byte{p})
	if err != nil && !errors.Is(err, netio.ErrWouldBlock) {
		t.Fatalf("writev: %v", err)
	}
	return n
}

// writeAll writes p completely, in as many (short) writes as it takes; the send buffer must
// have room for it.
func writeAll(t testing.TB, s *Socket, p []byte) {
	t.Helper()
	for len(p) > 0 {
		n := writeSome(t, s, p)
		if n == 0 {
			t.Fatalf("writeAll: no room for %d more bytes", len(p))
		}
		p = p[n:]
	}
}

// readAvailable reads until EAGAIN or EOF and returns the bytes and the final error.
func readAvailable(t testing.TB, s *Socket) ([]byte, error) {
	t.Helper()
	var out []byte
	buf := make([]byte, 1000)
	for {
		n, err := s.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
}

// transfer moves p from src to dst completely, settling and reading as it goes, and returns
// what dst read.
func (w *world) transfer(src, dst *Socket, p []byte) []byte {
	w.t.Helper()
	var got []byte
	for rounds := 0; ; rounds++ {
		if rounds > 1_000_000 {
			w.t.Fatalf("transfer stuck")
		}
		if len(p) > 0 {
			p = p[writeSome(w.t, src, p):]
		}
		w.settle()
		b, err := readAvailable(w.t, dst)
		if !errors.Is(err, netio.ErrWouldBlock) {
			w.t.Fatalf("read: %v", err)
		}
		got = append(got, b...)
		if len(p) == 0 && len(b) == 0 {
			return got
		}
	}
}

// checkReadiness compares every poller's incrementally kept ready list with readiness
// computed from scratch for every open descriptor.
func checkReadiness(n *Network, pollers []*Poller) error {
	for _, p := range pollers {
		if err := checkReadyList(p); err != nil {
			return err
		}
	}
	for _, h := range n.hosts {
		for fd := firstFD; fd < h.nextFD; fd++ {
			f := h.file(fd)
			if f == nil {
				continue
			}
			w := f.watchOf()
			want := w.live() != nil && pollEvents(f) != 0
			if w.live() != nil && w.queued != want {
				return fmt.Errorf("%s fd %d: queued=%v, readiness says %v (events %v)",
					h.name, fd, w.queued, want, pollEvents(f))
			}
		}
	}
	return nil
}

func checkReadyList(p *Poller) error {
	for i, r := range p.ready {
		f := r.f
		w := f.watchOf()
		if r.fd != w.fd {
			return fmt.Errorf("fd %d listed as fd %d", w.fd, r.fd)
		}
		if !w.queued || w.poller != p {
			return fmt.Errorf("fd %d listed but not queued with this poller", w.fd)
		}
		if pollEvents(f) == 0 {
			return fmt.Errorf("fd %d listed but not ready", w.fd)
		}
		if p.host.file(w.fd) != f {
			return fmt.Errorf("fd %d listed but not open", w.fd)
		}
		if i > 0 && p.ready[i-1].fd >= w.fd {
			return fmt.Errorf("ready list out of order at %d", i)
		}
	}
	return nil
}

func pattern(n int, salt byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*31+i>>8) ^ salt
	}
	return p
}
