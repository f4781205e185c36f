package netiotest

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// Bounds on every wait in the suite. A wait fails after maxRounds rounds (each one Pump and
// one Wait per poller) or, on a real network only, after waitLimit of wall-clock time. A
// simulated network is bounded by rounds alone: its progress does not depend on the machine's
// speed, so a wall-clock bound would only make its verdict depend on the machine's load.
const (
	maxRounds   = 1_000_000
	waitLimit   = 2 * time.Minute
	pollTimeout = 10 * time.Millisecond // Wait timeout when looking for one event
	idleTimeout = time.Millisecond      // Wait timeout of a run round after an idle round
	quietRounds = 5                     // rounds that must report nothing in quiet
	maxEvents   = 64
)

// side is one host: its stack, a poller, and the handlers the run loop calls per fd.
type side struct {
	name     string
	stack    netio.Stack
	p        netio.Poller
	handlers map[int]func(netio.Events)
}

// world is a server side and a client side, driven from the test goroutine.
type world struct {
	t   *testing.T
	h   Harness
	srv *side
	cli *side
	evs []netio.Event
}

// newWorld creates fresh stacks and one poller per side.
func newWorld(t *testing.T, h Harness) *world {
	t.Helper()
	srvStack, cliStack := h.NewStacks(t)
	if srvStack == nil || cliStack == nil {
		t.Fatal("NewStacks returned a nil stack")
	}
	w := &world{t: t, h: h, evs: make([]netio.Event, maxEvents)}
	w.srv = w.newSide("server", srvStack)
	w.cli = w.newSide("client", cliStack)
	return w
}

// newSide creates a side's poller and closes it when the test ends.
func (w *world) newSide(name string, st netio.Stack) *side {
	w.t.Helper()
	p, err := st.NewPoller()
	if err != nil {
		w.t.Fatalf("%s: NewPoller: %v", name, err)
	}
	w.t.Cleanup(func() { _ = p.Close() })
	return &side{name: name, stack: st, p: p, handlers: make(map[int]func(netio.Events))}
}

// pump advances a simulated network; it does nothing for a real one.
func (w *world) pump() {
	if w.h.Pump != nil {
		w.h.Pump()
	}
}

// deadline is when a wait on a real network gives up (the zero time on a simulated one).
func (w *world) deadline() time.Time {
	if w.h.Pump != nil {
		return time.Time{}
	}
	return time.Now().Add(waitLimit)
}

// before reports whether a wait may go on: always on a simulated network, until the deadline
// on a real one.
func (w *world) before(deadline time.Time) bool {
	return deadline.IsZero() || time.Now().Before(deadline)
}

// wait calls s's Wait and fails the test on an error or an impossible count.
func (w *world) wait(s *side, timeout time.Duration) []netio.Event {
	w.t.Helper()
	n, err := s.p.Wait(w.evs, timeout)
	if err != nil {
		w.t.Fatalf("%s: Wait: %v", s.name, err)
	}
	if n < 0 || n > len(w.evs) {
		w.t.Fatalf("%s: Wait returned %d events for a buffer of %d", s.name, n, len(w.evs))
	}
	return w.evs[:n]
}

// run drives both sides, calling the registered handlers, until done reports true. Rounds
// that made progress are followed by a non-blocking round; idle ones by a short Wait.
func (w *world) run(what string, done func() bool) {
	w.t.Helper()
	deadline := w.deadline()
	idle := false
	for round := 0; round < maxRounds && w.before(deadline); round++ {
		if done() {
			return
		}
		w.pump()
		progress := false
		for _, s := range []*side{w.cli, w.srv} {
			timeout := time.Duration(0)
			if idle {
				timeout = idleTimeout
			}
			for _, ev := range w.wait(s, timeout) {
				if h := s.handlers[ev.FD]; h != nil {
					h(ev.Events)
					progress = true
				}
			}
		}
		idle = !progress
	}
	if !done() {
		w.t.Fatalf("%s: not done after %d rounds (or %v on a real network)", what, maxRounds, waitLimit)
	}
}

// waitFor pumps and waits on s until fd is reported with any of the events in want, and
// returns what was reported. Other events are ignored.
func (w *world) waitFor(s *side, fd int, want netio.Events, what string) netio.Events {
	w.t.Helper()
	deadline := w.deadline()
	for round := 0; round < maxRounds && w.before(deadline); round++ {
		w.pump()
		for _, ev := range w.wait(s, pollTimeout) {
			if ev.FD == fd && ev.Events&want != 0 {
				return ev.Events
			}
		}
	}
	w.t.Fatalf("%s: %s fd %d never reported %v", what, s.name, fd, want)
	return 0
}

// quiet checks that for quietRounds rounds s never reports fd with any event in unwanted.
func (w *world) quiet(s *side, fd int, unwanted netio.Events, what string) {
	w.t.Helper()
	for range quietRounds {
		w.pump()
		for _, ev := range w.wait(s, pollTimeout) {
			if ev.FD == fd && ev.Events&unwanted != 0 {
				w.t.Fatalf("%s: %s fd %d reported %v, want nothing in %v",
					what, s.name, fd, ev.Events, unwanted)
			}
		}
	}
}

// add registers fd with s's poller, failing the test on error.
func (w *world) add(s *side, fd int, mask netio.Events) {
	w.t.Helper()
	if err := s.p.Add(fd, mask); err != nil {
		w.t.Fatalf("%s: Add(%d, %v): %v", s.name, fd, mask, err)
	}
}

// modify changes fd's interest on s's poller, failing the test on error.
func (w *world) modify(s *side, fd int, mask netio.Events) {
	w.t.Helper()
	if err := s.p.Modify(fd, mask); err != nil {
		w.t.Fatalf("%s: Modify(%d, %v): %v", s.name, fd, mask, err)
	}
}

// del stops watching fd on s's poller, failing the test on error.
func (w *world) del(s *side, fd int) {
	w.t.Helper()
	if err := s.p.Delete(fd); err != nil {
		w.t.Fatalf("%s: Delete(%d): %v", s.name, fd, err)
	}
}

// listen listens on the server IP with a port chosen by the stack, closed at test end.
func (w *world) listen() netio.Listener {
	w.t.Helper()
	ln, err := w.srv.stack.Listen(netip.AddrPortFrom(w.h.ServerIP, 0), 128)
	if err != nil {
		w.t.Fatalf("Listen(%v:0): %v", w.h.ServerIP, err)
	}
	w.t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// connect starts a connect from the client side; the socket is closed at test end.
func (w *world) connect(addr netip.AddrPort) netio.Socket {
	w.t.Helper()
	sock, err := w.cli.stack.Connect(addr)
	if err != nil {
		w.t.Fatalf("Connect(%v): %v", addr, err)
	}
	w.t.Cleanup(func() { _ = sock.Close() })
	return sock
}

// acceptAll accepts every pending connection on ln, closing each at test end.
func (w *world) acceptAll(ln netio.Listener) []netio.Socket {
	w.t.Helper()
	var socks []netio.Socket
	for range 1024 {
		sock, err := ln.Accept()
		if errors.Is(err, netio.ErrWouldBlock) {
			return socks
		}
		if err != nil {
			w.t.Fatalf("Accept: %v", err)
		}
		if sock == nil {
			w.t.Fatal("Accept returned a nil socket and no error")
		}
		w.t.Cleanup(func() { _ = sock.Close() })
		socks = append(socks, sock)
	}
	return socks
}

// connectDone checks the connect of sock after it polled ready: true once connected, false
// while still in progress; any failure fails the test.
func (w *world) connectDone(sock netio.Socket) bool {
	w.t.Helper()
	err := sock.ConnectError()
	switch {
	case err == nil:
		return true
	case errors.Is(err, netio.ErrInProgress):
		return false
	}
	w.t.Fatalf("ConnectError after the socket polled ready: %v", err)
	return false
}

// pairRaw connects a client socket to a server socket through a fresh listener, and returns
// both, established and registered with no poller. The listener stays open until test end.
func (w *world) pairRaw() (cli, srv netio.Socket, ln netio.Listener) {
	w.t.Helper()
	ln = w.listen()
	cli = w.connect(ln.Addr())
	w.add(w.cli, cli.FD(), netio.Write)
	w.add(w.srv, ln.FD(), netio.Read)
	connected := false
	w.cli.handlers[cli.FD()] = func(netio.Events) { connected = connected || w.connectDone(cli) }
	w.srv.handlers[ln.FD()] = func(netio.Events) {
		if socks := w.acceptAll(ln); len(socks) > 0 && srv == nil {
			srv = socks[0]
		}
	}
	w.run("connect and accept", func() bool { return connected && srv != nil })
	w.del(w.cli, cli.FD())
	w.del(w.srv, ln.FD())
	delete(w.cli.handlers, cli.FD())
	delete(w.srv.handlers, ln.FD())
	return cli, srv, ln
}
