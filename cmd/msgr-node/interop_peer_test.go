package main

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	interopDuration = flag.Duration("interop.duration", 30*time.Second, "TestInteropLosslessMonPeer: how long the peers exchange messages")
	interopFailures = flag.Int("interop.failures", 50, "TestInteropLosslessMonPeer: ms_inject_socket_failures on both sides (1 in N)")
	interopRate     = flag.Float64("interop.rate", 50, "TestInteropLosslessMonPeer: messages per second from the Go peer")
	interopKeep     = flag.Bool("interop.keep", false, "TestInteropLosslessMonPeer: keep the logs (the mon's and the peer's) even when the test passes")
)

// maxBackoff is ms_max_backoff on both sides during the test (Ceph's default is 15 s; a WAIT
// costs that much, so the test shortens it as Ceph's own thrash tests shorten their timeouts).
const maxBackoff = 2 * time.Second

// stallBound is the longest a session between two live peers may go without delivering
// anything when each side fails one socket operation in failures, from Ceph's backoff: one
// WAIT (ms_max_backoff), then k handshakes in a row failed by injected faults, each backing
// off twice as long as the last (ms_initial_backoff 0.2 s, at most ms_max_backoff), plus 3 s
// for a loaded machine. A handshake takes about 12 socket operations on the two sides, so it
// fails with p = 1-(1-1/failures)^12; k is the run of failures whose chance p^k is below one
// in a million (9 handshakes at 1 in 50: 18 s). A session that hangs stalls until the drain
// gives up.
func stallBound(failures int) time.Duration {
	p := 1 - math.Pow(1-1/float64(failures), 12)
	k := int(math.Ceil(math.Log(1e-6) / math.Log(p)))
	ladder, b := time.Duration(0), 200*time.Millisecond
	for range k {
		ladder += b
		b = min(2*b, maxBackoff)
	}
	return maxBackoff + ladder + 3*time.Second
}

// twoMon is a real mon.a run by scripts/ceph/twomon-up.sh for a Go mon.b.
type twoMon struct {
	dir          string
	portA, portB int
	fsid         string
}

func (m *twoMon) up(t *testing.T, args ...string) {
	t.Helper()
	args = append(args, m.dir, fmt.Sprint(m.portA), fmt.Sprint(m.portB))
	out, err := exec.Command("../../scripts/ceph/twomon-up.sh", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("twomon-up.sh %v: %v\n%s", args, err, out)
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "fsid="); ok {
			m.fsid = v
		}
	}
}

func (m *twoMon) down(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("../../scripts/ceph/twomon-down.sh", append([]string{m.dir}, args...)...).CombinedOutput(); err != nil {
		t.Errorf("twomon-down.sh: %v\n%s", err, out)
	}
}

// alive reports whether mon.a still runs (and is not a zombie).
func (m *twoMon) alive() bool {
	pid, err := os.ReadFile(filepath.Join(m.dir, "mon.a.pid"))
	if err != nil {
		return false
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strings.TrimSpace(string(pid)), "stat"))
	return err == nil && !strings.Contains(string(stat), ") Z ")
}

func (m *twoMon) setInjection(t *testing.T, n int) {
	t.Helper()
	asok := filepath.Join(m.dir, "run", "ceph-mon.a.asok")
	out, err := exec.Command("ceph", "--admin-daemon", asok, "config", "set", "ms_inject_socket_failures", fmt.Sprint(n)).CombinedOutput()
	if err != nil {
		t.Errorf("turning the mon's socket failures to %d: %v\n%s", n, err, out)
	}
}

// goPeer is one run of `msgr-node peer` in this process.
type goPeer struct {
	stop chan struct{}
	done chan int
	out  bytes.Buffer
	mu   sync.Mutex
}

func startGoPeer(m *twoMon, logPath string, extra ...string) *goPeer {
	p := &goPeer{stop: make(chan struct{}), done: make(chan int, 1)}
	args := append([]string{"-name", "mon.b", "-rank", "1", "-addr", fmt.Sprintf("127.0.0.1:%d", m.portB),
		"-peer", fmt.Sprintf("mon.a=v1:127.0.0.1:%d", m.portA), "-fsid", m.fsid, "-log", logPath,
		"-rate", fmt.Sprint(*interopRate), "-inject-socket-failures", fmt.Sprint(*interopFailures),
		"-inject-seed", fmt.Sprint(time.Now().UnixNano()), "-max-backoff", maxBackoff.String()}, extra...)
	go func() {
		var stdout bytes.Buffer
		code := peerCmd(args, &stdout, &lockedWriter{p: p}, p.stop)
		p.done <- code
	}()
	return p
}

type lockedWriter struct{ p *goPeer }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

func (p *goPeer) wait(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case code := <-p.done:
		if code != 0 {
			p.mu.Lock()
			defer p.mu.Unlock()
			t.Fatalf("msgr-node peer exited %d:\n%s", code, p.out.String())
		}
	case <-time.After(timeout):
		t.Fatalf("msgr-node peer did not finish within %v", timeout)
	}
}

// A Go monitor peer (mon.b) holds a lossless_peer_reuse session with a real ceph-mon (mon.a)
// whose monmap names it, both ways, with ms_inject_socket_failures on both sides; the real mon
// is killed with SIGKILL and restarted, then the Go peer is stopped and restarted with the same
// nonce. From both sides' logs: each direction exactly once and in order, every loss accounted
// for by a reset, reconnects through RETRY_GLOBAL and SEQ, no crash, no stall longer than
// Ceph's backoff explains.
func TestInteropLosslessMonPeer(t *testing.T) {
	requireTools(t, "ceph-mon", "ceph", "monmaptool", "ceph-authtool")
	m := &twoMon{portA: freePort(t), portB: freePort(t)}
	m.dir = filepath.Join("/tmp", fmt.Sprintf("msgrsim-twomon-%d", m.portA))
	m.up(t, "-d", "5", "-f", fmt.Sprint(*interopFailures), "-o", fmt.Sprintf("ms_max_backoff=%g", maxBackoff.Seconds()))
	t.Cleanup(func() {
		m.down(t)
		if t.Failed() || *interopKeep {
			t.Logf("logs kept in %s (ceph-mon.a.log, peer.log)", m.dir)
			return
		}
		_ = os.RemoveAll(m.dir)
	})
	logPath := filepath.Join(m.dir, "peer.log")
	d := *interopDuration
	var outages []window

	p1 := startGoPeer(m, logPath)
	time.Sleep(d * 2 / 5)
	from := time.Now()
	m.down(t, "-9") // the peer-reset path: the restarted mon has lost the session
	restartedAt := time.Now()
	m.up(t, "-r")
	outages = append(outages, window{from, time.Now()})
	time.Sleep(d * 3 / 10)

	from = time.Now()
	close(p1.stop) // the Go peer stops at once, queued messages lost, and comes back with nonce 0
	p1.wait(t, 30*time.Second)
	last := d - d*2/5 - d*3/10
	p2 := startGoPeer(m, logPath, "-duration", last.String(), "-drain", "60s")
	outages = append(outages, window{from, time.Now()})
	time.Sleep(last - last/10)
	m.setInjection(t, 0) // the peer stops its own as it starts draining
	p2.wait(t, 90*time.Second)

	if !m.alive() {
		t.Errorf("mon.a is not running at the end (crashed?); see %s", filepath.Join(m.dir, "ceph-mon.a.log"))
	}
	m.down(t) // SIGTERM: the mon flushes its log
	checkLosslessRun(t, m, logPath, outages, restartedAt)
}

// checkLosslessRun verifies the logs of a run and asserts what the run must show.
func checkLosslessRun(t *testing.T, m *twoMon, logPath string, outages []window, monRestart time.Time) {
	t.Helper()
	peer, err := readPeerLog(logPath)
	if err != nil {
		t.Fatal(err)
	}
	mon, err := readMonLog(filepath.Join(m.dir, "ceph-mon.a.log"), fmt.Sprintf("v1:127.0.0.1:%d/0", m.portB))
	if err != nil {
		t.Fatal(err)
	}
	v := verify(peer, mon, outages)
	t.Logf("verdict (%v, 1 in %d socket failures both sides, %g msg/s):\n%s", *interopDuration, *interopFailures, *interopRate, v)
	for _, s := range v.Violations {
		t.Errorf("violation: %s", s)
	}
	if v.MonDispatched == 0 || v.Dispatched == 0 {
		t.Errorf("no traffic: the mon dispatched %d of our messages, we dispatched %d of its", v.MonDispatched, v.Dispatched)
	}
	if !v.hasPattern("RETRY_GLOBAL") || !v.hasPattern("SEQ") {
		t.Errorf("no reconnect through RETRY_GLOBAL and through SEQ: %v", v.Patterns)
	}
	if v.MonRestarts != 1 || v.PeerRestarts != 1 || v.MonCrashes != 0 {
		t.Errorf("mon restarts %d, peer restarts %d, mon crashes %d: want 1, 1, 0", v.MonRestarts, v.PeerRestarts, v.MonCrashes)
	}
	if !peerResetAfter(peer, monRestart) {
		t.Errorf("after the mon's restart our session never reported the peer's reset")
	}
	if !finalDrain(peer) {
		t.Errorf("the last run of the peer did not drain: messages left unacknowledged")
	}
	if b := stallBound(*interopFailures); time.Duration(v.StallToMon) > b || time.Duration(v.StallFromMon) > b {
		t.Errorf("a stall longer than Ceph's backoff explains (%v): to the mon %v, from the mon %v", b, v.StallToMon, v.StallFromMon)
	}
}

// peerResetAfter reports whether the peer log has a remote reset after t.
func peerResetAfter(peer []peerEvent, t time.Time) bool {
	for _, ev := range peer {
		if ev.Event == "remote_reset" && micros(ev.TS).After(t) {
			return true
		}
	}
	return false
}

// finalDrain reports whether the last drain in the log emptied every queue.
func finalDrain(peer []peerEvent) bool {
	ok := false
	for _, ev := range peer {
		if ev.Event == "drain" {
			ok = ev.Drained
		}
	}
	return ok
}
