package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// history builds both sides' logs of a made-up run, one event per millisecond.
type history struct {
	peer []peerEvent
	mon  []monLogEvent
	now  time.Time
}

func newHistory() *history {
	h := &history{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	h.peerEv(peerEvent{Event: "start"})
	h.monEv(monLogEvent{Kind: "start"})
	return h
}

func (h *history) tick() time.Time { h.now = h.now.Add(time.Millisecond); return h.now }

func (h *history) peerEv(ev peerEvent) { ev.TS = h.tick().UnixMicro(); h.peer = append(h.peer, ev) }
func (h *history) monEv(ev monLogEvent) {
	ev.At = h.tick()
	ev.Message = monMessageKind(ev.Text)
	h.mon = append(h.mon, ev)
}

func probeText(id uint64) string { return fmt.Sprintf("mon_probe(probe fsid name b #%d)", id) }

// send: we send probe id on conn 1.
func (h *history) send(id uint64) {
	h.peerEv(peerEvent{Event: "send", Conn: 1, ID: id, Kind: "probe", CRC: uint32(1000 + id)})
}

// monGot: the mon dispatches probe id.
func (h *history) monGot(id uint64) {
	h.monEv(monLogEvent{Kind: "dispatch", Text: probeText(id), CRC: uint32(1000 + id)})
}

// echo: the mon queues a PING_REPLY stamped s (or a probe reply when s is "").
func (h *history) monQueues(stamp string) {
	if stamp == "" {
		h.monEv(monLogEvent{Kind: "queue", Text: "mon_probe(reply fsid name a)"})
		return
	}
	h.monEv(monLogEvent{Kind: "queue", Text: "mon_ping(ping_reply stamp " + stamp + ")", Stamp: stamp})
}

// weGet: we dispatch seq on conn 1, a PING_REPLY stamped s (or a probe reply when s is "").
func (h *history) weGet(seq uint64, stamp string) {
	kind := "probe_reply"
	if stamp != "" {
		kind = "ping_reply"
	}
	h.peerEv(peerEvent{Event: "dispatch", Conn: 1, Seq: seq, Kind: kind, Stamp: stamp})
}

func (h *history) violations() string {
	return strings.Join(verify(h.peer, h.mon, nil).Violations, "\n")
}

func wantViolation(t *testing.T, h *history, substr string) {
	t.Helper()
	got := h.violations()
	if !strings.Contains(got, substr) {
		t.Errorf("want a violation containing %q, got:\n%s", substr, got)
	}
}

// clean: three probes each way and two echoed stamps, nothing lost.
func cleanHistory() *history {
	h := newHistory()
	for id := uint64(1); id <= 3; id++ {
		h.send(id)
	}
	for id := uint64(1); id <= 3; id++ {
		h.monGot(id)
	}
	h.monQueues("s1")
	h.monQueues("")
	h.monQueues("s2")
	h.weGet(1, "s1")
	h.weGet(2, "")
	h.weGet(3, "s2")
	return h
}

func TestVerifierPassesACleanRun(t *testing.T) {
	if v := cleanHistory().violations(); v != "" {
		t.Fatalf("violations on a clean run:\n%s", v)
	}
}

func TestVerifierCatchesToMon(t *testing.T) {
	t.Run("duplicate", func(t *testing.T) {
		h := cleanHistory()
		h.monGot(3)
		wantViolation(t, h, "dispatched message 3 twice")
	})
	t.Run("reorder", func(t *testing.T) {
		h := newHistory()
		h.send(1)
		h.send(2)
		h.monGot(2)
		h.monGot(1)
		wantViolation(t, h, "dispatched message 1 after message 2")
	})
	t.Run("loss without reset", func(t *testing.T) {
		h := cleanHistory()
		h.send(4)
		wantViolation(t, h, "message 4")
	})
	t.Run("loss with a reset of another connection", func(t *testing.T) {
		h := cleanHistory()
		h.send(4)
		h.peerEv(peerEvent{Event: "reset", Conn: 9})
		wantViolation(t, h, "message 4")
	})
	t.Run("loss accounted for by a remote reset", func(t *testing.T) {
		h := cleanHistory()
		h.send(4)
		h.peerEv(peerEvent{Event: "remote_reset", Conn: 1})
		if v := h.violations(); v != "" {
			t.Fatalf("a loss before a remote reset of its connection is allowed:\n%s", v)
		}
	})
	t.Run("loss accounted for by a mon restart", func(t *testing.T) {
		h := cleanHistory()
		h.send(4)
		h.monEv(monLogEvent{Kind: "start"})
		if v := h.violations(); v != "" {
			t.Fatalf("a loss before the mon restarted is allowed:\n%s", v)
		}
	})
	t.Run("a message we never sent", func(t *testing.T) {
		h := cleanHistory()
		h.monEv(monLogEvent{Kind: "dispatch", Text: probeText(99), CRC: 7})
		wantViolation(t, h, "not a message we sent")
	})
	t.Run("crash", func(t *testing.T) {
		h := cleanHistory()
		h.monEv(monLogEvent{Kind: "crash", Text: "*** Caught signal (Aborted) **"})
		wantViolation(t, h, "the mon crashed")
	})
}

func TestVerifierCatchesFromMon(t *testing.T) {
	t.Run("duplicate echo", func(t *testing.T) {
		h := cleanHistory()
		h.weGet(4, "s2")
		wantViolation(t, h, "stamped s2 twice")
	})
	t.Run("reordered echoes", func(t *testing.T) {
		h := newHistory()
		h.monQueues("s1")
		h.monQueues("s2")
		h.weGet(1, "s2")
		h.weGet(2, "s1")
		wantViolation(t, h, "stamped s1 after the one stamped s2")
	})
	t.Run("lost echo", func(t *testing.T) {
		h := cleanHistory()
		h.monQueues("s3")
		wantViolation(t, h, "stamped s3")
	})
	t.Run("lost echo before a session reset", func(t *testing.T) {
		h := cleanHistory()
		h.monQueues("s3")
		h.peerEv(peerEvent{Event: "remote_reset", Conn: 1})
		if v := h.violations(); v != "" {
			t.Fatalf("an echo lost before a session reset is allowed:\n%s", v)
		}
	})
	t.Run("seq gap", func(t *testing.T) {
		h := cleanHistory()
		h.weGet(5, "")
		wantViolation(t, h, "seq 5 after seq 3")
	})
	t.Run("seq restarts after a reset", func(t *testing.T) {
		h := cleanHistory()
		h.peerEv(peerEvent{Event: "remote_reset", Conn: 1})
		h.monQueues("s3")
		h.weGet(77, "s3")
		if v := h.violations(); v != "" {
			t.Fatalf("a new session incarnation may start at any seq:\n%s", v)
		}
	})
	t.Run("lost probe reply between echoes", func(t *testing.T) {
		h := newHistory()
		h.monQueues("s1")
		h.monQueues("")
		h.monQueues("")
		h.monQueues("s2")
		h.weGet(1, "s1")
		h.weGet(2, "")
		h.weGet(3, "s2")
		wantViolation(t, h, "between the PING_REPLYs stamped s1 and s2")
	})
	t.Run("unknown echo", func(t *testing.T) {
		h := cleanHistory()
		h.weGet(4, "s9")
		wantViolation(t, h, "never queued")
	})
}

// The stall bound follows Ceph's backoff: 18 s at 1 in 50 socket failures (9 failed
// handshakes in a row), longer at 1 in 20.
func TestStallBound(t *testing.T) {
	if got := stallBound(50); got != 18*time.Second {
		t.Errorf("stallBound(50) = %v, want 18s", got)
	}
	if stallBound(20) <= stallBound(50) {
		t.Errorf("stallBound(20) = %v: more failures must allow a longer stall", stallBound(20))
	}
}

func TestVerifierResetTiming(t *testing.T) {
	t.Run("a message that slips past a peer-restart reset", func(t *testing.T) {
		// The core resets the session at the 8e decision; the remote reset reaches the log
		// later. A message sent in between goes to the new session.
		h := cleanHistory()
		h.send(4) // lost: queued when the session reset
		h.peerEv(peerEvent{Event: "decision", Conn: 9, Rule: "8e peer restarted: replace"})
		h.now = h.now.Add(300 * time.Millisecond)
		h.send(5) // sent after the reset: delivered
		h.now = h.now.Add(300 * time.Millisecond)
		h.peerEv(peerEvent{Event: "remote_reset", Conn: 1})
		h.monGot(5)
		if v := h.violations(); v != "" {
			t.Fatalf("a message sent after the session reset may arrive though one before it was lost:\n%s", v)
		}
	})
	t.Run("a gap long before the reset", func(t *testing.T) {
		h := cleanHistory()
		h.send(4)
		h.send(5)
		h.monGot(5)
		h.now = h.now.Add(time.Second)
		h.peerEv(peerEvent{Event: "remote_reset", Conn: 1})
		wantViolation(t, h, "message 4 (sent")
	})
	t.Run("an echo queued for our stopped process", func(t *testing.T) {
		// The mon queues a reply for our old process after it stopped; it is lost when the mon
		// learns of the new one (rule 8e on its side), while the new process gets later ones.
		h := cleanHistory()
		h.peerEv(peerEvent{Event: "stop"})
		h.monQueues("s3")
		h.peerEv(peerEvent{Event: "start"})
		h.monEv(monLogEvent{Kind: "mon_reset"})
		h.monQueues("s4")
		h.weGet(1, "s4")
		if v := h.violations(); v != "" {
			t.Fatalf("an echo queued for a stopped process may be lost:\n%s", v)
		}
	})
}
