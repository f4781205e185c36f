package netiotest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// Wake timing for real stacks. Only generous bounds are asserted: "promptly" is well under
// wakeSlow, and a Wait that must block for wakeBlock has to take at least half of it (an
// epoll timeout never ends early).
const (
	wakeDelay = 20 * time.Millisecond
	wakeSlow  = 5 * time.Second
	wakeLong  = 10 * time.Second
	wakeBlock = 60 * time.Millisecond
)

// writeAll writes all of data to sock, waiting while it would block.
func (w *world) writeAll(s *side, sock netio.Socket, data []byte) {
	w.t.Helper()
	for len(data) > 0 {
		data = data[w.writeSome(s, sock, data):]
	}
}

// readN reads from sock, which must be registered for Read on s, until n bytes arrived.
func (w *world) readN(s *side, sock netio.Socket, n int) []byte {
	t := w.t
	t.Helper()
	var got []byte
	buf := make([]byte, 64<<10)
	for range maxAttempts {
		if len(got) >= n {
			return got
		}
		w.waitFor(s, sock.FD(), netio.Read, "data to read")
		for len(got) < n {
			k, err := sock.Read(buf)
			if errors.Is(err, netio.ErrWouldBlock) {
				break
			}
			if err != nil || k <= 0 {
				t.Fatalf("%s: Read = (%d, %v) with %d of %d bytes read", s.name, k, err, len(got), n)
			}
			got = append(got, buf[:k]...)
		}
	}
	if len(got) < n {
		t.Fatalf("%s: read %d of %d bytes in %d ready reports", s.name, len(got), n, maxAttempts)
	}
	return got
}

// testLevelTriggered: a readable fd that is not drained is reported by every Wait, and no
// longer once drained.
func testLevelTriggered(t *testing.T, h Harness) {
	w := newWorld(t, h)
	cli, srv, _ := w.pairRaw()
	msg := []byte("level-triggered readiness")
	w.writeAll(w.cli, cli, msg)
	w.add(w.srv, srv.FD(), netio.Read)
	w.waitFor(w.srv, srv.FD(), netio.Read, "data arrives")
	for i := range 3 {
		w.pump()
		if !reported(w.wait(w.srv, pollTimeout), srv.FD(), netio.Read) {
			t.Fatalf("Wait %d after the first report did not report the undrained fd as readable", i+1)
		}
	}
	checkBytes(t, "data", w.readN(w.srv, srv, len(msg)), msg)
	w.quiet(w.srv, srv.FD(), netio.Read, "after draining")
}

// reported tells whether evs holds fd with any of the events in want.
func reported(evs []netio.Event, fd int, want netio.Events) bool {
	for _, ev := range evs {
		if ev.FD == fd && ev.Events&want != 0 {
			return true
		}
	}
	return false
}

// testModifyDropsWrite: removing Write interest with Modify stops Write reports for an idle
// writable socket, and adding it back restores them.
func testModifyDropsWrite(t *testing.T, h Harness) {
	w := newWorld(t, h)
	_, srv, _ := w.pairRaw()
	fd := srv.FD()
	w.add(w.srv, fd, netio.Read|netio.Write)
	w.waitFor(w.srv, fd, netio.Write, "idle socket writable")
	w.modify(w.srv, fd, netio.Read)
	w.quiet(w.srv, fd, netio.Write, "after Modify(Read)")
	w.modify(w.srv, fd, netio.Read|netio.Write)
	w.waitFor(w.srv, fd, netio.Write, "after Modify(Read|Write)")
}

// testDeleteStopsReports: a deleted fd is not reported even though it is readable and
// writable; deleting it again, or deleting an fd never added, is not an error; adding it back
// reports it again.
func testDeleteStopsReports(t *testing.T, h Harness) {
	w := newWorld(t, h)
	cli, srv, _ := w.pairRaw()
	fd := srv.FD()
	w.writeAll(w.cli, cli, []byte("pending"))
	w.add(w.srv, fd, netio.Read|netio.Write)
	w.waitFor(w.srv, fd, netio.Read, "data arrives")
	w.del(w.srv, fd)
	w.quiet(w.srv, fd, netio.Read|netio.Write, "after Delete")
	if err := w.srv.p.Delete(fd); err != nil {
		t.Fatalf("Delete of an fd already deleted = %v, want nil", err)
	}
	other := w.listen()
	if err := w.srv.p.Delete(other.FD()); err != nil {
		t.Fatalf("Delete of an fd never added = %v, want nil", err)
	}
	w.add(w.srv, fd, netio.Read)
	w.waitFor(w.srv, fd, netio.Read, "after adding back")
}

// testWake: Wake makes a Wait return promptly with no events, whether it came before the Wait
// or during it, and is consumed by that Wait. For a simulated stack (Pump set), whose Wait
// never blocks, it only checks that Wake then Wait(0) returns 0 at once.
func testWake(t *testing.T, h Harness) {
	w := newWorld(t, h)
	cli, _, _ := w.pairRaw()
	w.add(w.cli, cli.FD(), netio.Read) // registered but idle: Wait has nothing to report
	if h.Pump != nil {
		wakeSimulated(t, w)
		return
	}
	// Each step runs only if the previous passed: with a broken Wake, the blocking Wait of
	// DuringBlockingWait would never return.
	_ = t.Run("BeforeWait", func(t *testing.T) { wakeBeforeWait(t, w) }) &&
		t.Run("DuringWait", func(t *testing.T) { wakeDuringWait(t, w, wakeLong) }) &&
		t.Run("Storm", func(t *testing.T) { wakeStorm(t, w) }) &&
		t.Run("DuringBlockingWait", func(t *testing.T) { wakeDuringWait(t, w, -1) })
}

// wakeSimulated: Wake, then Wait(0) returns 0 events without error, promptly.
func wakeSimulated(t *testing.T, w *world) {
	for range 3 {
		if err := w.cli.p.Wake(); err != nil {
			t.Fatalf("Wake: %v", err)
		}
	}
	start := time.Now()
	n, err := w.cli.p.Wait(w.evs, 0)
	if err != nil || n != 0 {
		t.Fatalf("Wait(0) after Wake = (%d, %v), want (0, nil)", n, err)
	}
	if d := time.Since(start); d > wakeSlow {
		t.Fatalf("Wait(0) after Wake took %v", d)
	}
}

// timedWait runs one Wait on the client poller and checks it returned no events.
func timedWait(t *testing.T, w *world, timeout time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	n, err := w.cli.p.Wait(w.evs, timeout)
	d := time.Since(start)
	if err != nil || n != 0 {
		t.Fatalf("%s: Wait(%v) = (%d, %v), want (0, nil)", what, timeout, n, err)
	}
	return d
}

// expectBlocks checks that a Wait(wakeBlock) is not cut short by a leftover wakeup.
func expectBlocks(t *testing.T, w *world, what string) {
	t.Helper()
	if d := timedWait(t, w, wakeBlock, what); d < wakeBlock/2 {
		t.Fatalf("%s: Wait(%v) returned after %v: a wakeup was left over", what, wakeBlock, d)
	}
}

// wakeBeforeWait: a Wake before Wait makes it return at once, and only that one Wait.
func wakeBeforeWait(t *testing.T, w *world) {
	if err := w.cli.p.Wake(); err != nil {
		t.Fatalf("Wake: %v", err)
	}
	if d := timedWait(t, w, wakeLong, "Wake before Wait"); d > wakeSlow {
		t.Fatalf("Wait(%v) after Wake took %v", wakeLong, d)
	}
	expectBlocks(t, w, "after the Wake was consumed")
}

// wakeDuringWait: a Wake from another goroutine ends a Wait with the given timeout promptly.
func wakeDuringWait(t *testing.T, w *world, timeout time.Duration) {
	errc := make(chan error, 1)
	go func() {
		time.Sleep(wakeDelay) // let the Wait block; this does not wait for the network
		errc <- w.cli.p.Wake()
	}()
	d := timedWait(t, w, timeout, "Wake during Wait")
	if err := <-errc; err != nil {
		t.Fatalf("Wake: %v", err)
	}
	if d > wakeSlow {
		t.Fatalf("Wait(%v) took %v to return after a Wake at %v", timeout, d, wakeDelay)
	}
	expectBlocks(t, w, "after the Wake was consumed")
}

// wakeStorm: many concurrent Wakes while the poller waits leave no wakeup behind once drained
// and do not stop the next Wake from working.
func wakeStorm(t *testing.T, w *world) {
	const goroutines, wakes = 4, 200
	var wg sync.WaitGroup
	errc := make(chan error, goroutines)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range wakes {
				if err := w.cli.p.Wake(); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	deadline := time.Now().Add(waitLimit)
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		default:
			if time.Now().After(deadline) {
				t.Fatal("Wake goroutines did not finish")
			}
			timedWait(t, w, pollTimeout, "during a Wake storm")
		}
	}
	close(errc)
	for err := range errc {
		t.Fatalf("Wake during a storm: %v", err)
	}
	timedWait(t, w, 0, "draining the storm")
	expectBlocks(t, w, "after the storm was drained")
	if err := w.cli.p.Wake(); err != nil {
		t.Fatalf("Wake after the storm: %v", err)
	}
	if d := timedWait(t, w, wakeLong, "Wake after the storm"); d > wakeSlow {
		t.Fatalf("Wait after a Wake following the storm took %v", d)
	}
}
