package simnet

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

var (
	syscallEINVAL = syscall.EINVAL
)

func mustPoller(t testing.TB, h *Host) *Poller {
	t.Helper()
	p, err := h.NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	return p.(*Poller)
}

func wait(t testing.TB, p *Poller) []netio.Event {
	t.Helper()
	evs := make([]netio.Event, 16)
	n, err := p.Wait(evs, -1)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return evs[:n]
}

func TestPollerLevelTriggered(t *testing.T) {
	w := newWorld(t, 31, Config{SendBuf: 100})
	cl, srv := w.pair()
	p := mustPoller(t, w.b)
	if err := p.Add(srv.FD(), netio.Read); err != nil {
		t.Fatal(err)
	}
	if p.HasReady() || len(wait(t, p)) != 0 {
		t.Fatalf("idle socket ready")
	}
	writeSome(t, cl, []byte("hello"))
	if p.HasReady() {
		t.Fatalf("ready before delivery")
	}
	w.settle()
	for i := 0; i < 3; i++ { // Level-triggered: reported until drained.
		evs := wait(t, p)
		if len(evs) != 1 || evs[0] != (netio.Event{FD: srv.FD(), Events: netio.Read}) {
			t.Fatalf("wait %d = %v", i, evs)
		}
	}
	readAvailable(t, srv)
	if p.HasReady() {
		t.Fatalf("ready after drain")
	}
	// Write interest: reported while there is room, not while the send buffer is full.
	pa := mustPoller(t, w.a)
	if err := pa.Add(cl.FD(), netio.Write); err != nil {
		t.Fatal(err)
	}
	if evs := wait(t, pa); len(evs) != 1 || evs[0].Events != netio.Write {
		t.Fatalf("writable socket: %v", evs)
	}
	for writeSome(t, cl, make([]byte, 100)) > 0 {
	}
	if pa.HasReady() {
		t.Fatalf("full send buffer reported writable")
	}
	w.net.Run(0)
	if !pa.HasReady() {
		t.Fatalf("delivery freed room but socket not writable")
	}
	// Modify narrows the mask; Delete forgets the fd.
	if err := pa.Modify(cl.FD(), netio.Read); err != nil {
		t.Fatal(err)
	}
	if pa.HasReady() {
		t.Fatalf("write readiness reported with read-only interest")
	}
	if err := pa.Delete(cl.FD()); err != nil {
		t.Fatal(err)
	}
	if err := pa.Modify(cl.FD(), netio.Read); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("modify after delete = %v", err)
	}
	if err := pa.Delete(cl.FD()); err != nil {
		t.Fatalf("second delete = %v", err)
	}
	if err := checkReadiness(w.net, []*Poller{p, pa}); err != nil {
		t.Fatal(err)
	}
}

func TestPollerErrors(t *testing.T) {
	w := newWorld(t, 32, Config{})
	cl, srv := w.pair()
	p := mustPoller(t, w.a)
	if err := p.Add(cl.FD(), netio.Read); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(cl.FD(), netio.Write); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("double add = %v", err)
	}
	p2 := mustPoller(t, w.a)
	if err := p2.Add(cl.FD(), netio.Write); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("add to a second poller = %v", err)
	}
	if err := p.Add(999, netio.Read); !errors.Is(err, netio.ErrBadFD) {
		t.Fatalf("add unknown fd = %v", err)
	}
	if err := p.Modify(999, netio.Read); !errors.Is(err, netio.ErrBadFD) {
		t.Fatalf("modify unknown fd = %v", err)
	}
	if err := p.Delete(999); err != nil {
		t.Fatalf("delete unknown fd = %v", err)
	}
	// Another host's descriptor number resolves in this host's table: srv's fd (4 on host b)
	// is not open on host a.
	if err := p.Add(srv.FD(), netio.Read); !errors.Is(err, netio.ErrBadFD) {
		t.Fatalf("add of a foreign fd = %v", err)
	}
	if _, err := p.Wait(nil, 0); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("wait with no room = %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); !errors.Is(err, netio.ErrBadFD) {
		t.Fatalf("double close = %v", err)
	}
	if _, err := p.Wait(make([]netio.Event, 1), 0); !errors.Is(err, netio.ErrBadFD) {
		t.Fatalf("wait after close = %v", err)
	}
	if err := p.Wake(); !errors.Is(err, netio.ErrBadFD) {
		t.Fatalf("wake after close = %v", err)
	}
	// A closed poller's descriptors can be watched again.
	if err := p2.Add(cl.FD(), netio.Write); err != nil {
		t.Fatalf("add after the old poller closed = %v", err)
	}
	if !p2.HasReady() {
		t.Fatalf("writable socket not ready")
	}
}

func TestPollerWake(t *testing.T) {
	w := newWorld(t, 33, Config{})
	p := mustPoller(t, w.a)
	if p.HasReady() {
		t.Fatalf("new poller ready")
	}
	if err := p.Wake(); err != nil {
		t.Fatal(err)
	}
	if err := p.Wake(); err != nil {
		t.Fatal(err)
	}
	if !p.HasReady() {
		t.Fatalf("wake not pending")
	}
	if evs := wait(t, p); len(evs) != 0 {
		t.Fatalf("wake produced events %v", evs)
	}
	if p.HasReady() {
		t.Fatalf("wake not consumed")
	}
}

func TestPollerOrderAndLimit(t *testing.T) {
	w := newWorld(t, 34, Config{})
	l := w.listen(w.b, testPort, 0)
	to := netip.AddrPortFrom(ipB, testPort)
	p := mustPoller(t, w.a)
	var cs []*Socket
	for range 5 {
		cs = append(cs, w.connect(w.a, to))
	}
	// Register in reverse order; Wait still reports ascending fds.
	for i := len(cs) - 1; i >= 0; i-- {
		if err := p.Add(cs[i].FD(), netio.Read|netio.Write); err != nil {
			t.Fatal(err)
		}
	}
	w.settle()
	evs := make([]netio.Event, 3)
	n, _ := p.Wait(evs, 0)
	if n != 3 || evs[0].FD != cs[0].FD() || evs[1].FD != cs[1].FD() || evs[2].FD != cs[2].FD() {
		t.Fatalf("wait = %v", evs[:n])
	}
	for _, e := range evs {
		if e.Events != netio.Write {
			t.Fatalf("connected idle socket: %v", e)
		}
	}
	// Listener readiness follows its accept queue.
	pl := mustPoller(t, w.b)
	if err := pl.Add(l.FD(), netio.Read); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if evs := wait(t, pl); len(evs) != 1 || evs[0] != (netio.Event{FD: l.FD(), Events: netio.Read}) {
			t.Fatalf("listener with %d queued: %v", 5-i, evs)
		}
		if _, err := l.Accept(); err != nil {
			t.Fatal(err)
		}
	}
	if pl.HasReady() {
		t.Fatalf("empty accept queue readable")
	}
	if err := checkReadiness(w.net, []*Poller{p, pl}); err != nil {
		t.Fatal(err)
	}
}

func TestPollerResetAndHangup(t *testing.T) {
	w := newWorld(t, 35, Config{})
	cl, srv := w.pair()
	p := mustPoller(t, w.a)
	if err := p.Add(cl.FD(), 0); err != nil { // No interest at all: errors still show.
		t.Fatal(err)
	}
	if err := cl.Shutdown(netio.ShutWrite); err != nil {
		t.Fatal(err)
	}
	if p.HasReady() {
		t.Fatalf("half-closed socket ready with no interest")
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	w.settle()
	// Both halves shut: a hang-up, reported as Read|Write whatever the mask.
	if evs := wait(t, p); len(evs) != 1 || evs[0].Events != netio.Read|netio.Write {
		t.Fatalf("hang-up: %v", evs)
	}
	w2 := newWorld(t, 36, Config{})
	cl2, srv2 := w2.pair()
	p2 := mustPoller(t, w2.a)
	if err := p2.Add(cl2.FD(), netio.Read); err != nil {
		t.Fatal(err)
	}
	writeSome(t, cl2, []byte("unread"))
	w2.settle()
	if err := srv2.Close(); err != nil {
		t.Fatal(err)
	}
	if evs := wait(t, p2); len(evs) != 1 || evs[0].Events != netio.Read|netio.Write {
		t.Fatalf("reset: %v", evs)
	}
}

func TestCloseUnregisters(t *testing.T) {
	w := newWorld(t, 37, Config{})
	cl, _ := w.pair()
	p := mustPoller(t, w.a)
	if err := p.Add(cl.FD(), netio.Write); err != nil {
		t.Fatal(err)
	}
	if !p.HasReady() {
		t.Fatalf("not ready")
	}
	fd := cl.FD()
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if p.HasReady() {
		t.Fatalf("closed fd still reported")
	}
	if err := p.Delete(fd); err != nil {
		t.Fatalf("delete after close = %v", err)
	}
}
