package explore

import (
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/sim/harness"
)

func testRun() *harness.Run {
	return harness.New(harness.Config{Root: detrand.NewSeeded(1), Faults: fault.None()})
}

func violations(h *harness.Run, name string) int {
	n := 0
	for _, v := range h.Check.Violations() {
		if v.Name == name {
			n++
		}
	}
	return n
}

// prio-order fails a burst written lowest priority first (what a priority queue that inserts
// new priorities at the wrong end does) and passes one written highest first, whatever the
// order the receiver dispatched them in.
func TestPrioOrderFailsWrongOrder(t *testing.T) {
	msg := func(id uint64, prio uint16, seq uint64) *msgr.Message {
		m := wire.NewMessage(wire.MsgPing, []byte{1})
		m.Header.Tid, m.Header.Priority, m.Header.Seq = id, prio, seq
		return m
	}
	for _, tc := range []struct {
		name  string
		msgs  []*msgr.Message
		wrong int
	}{
		{"highest first", []*msgr.Message{msg(3, 196, 1), msg(2, 127, 2), msg(1, 64, 3)}, 0},
		{"dispatched lowest first, written highest first", []*msgr.Message{msg(1, 64, 3), msg(2, 127, 2), msg(3, 196, 1)}, 0},
		{"written in send order", []*msgr.Message{msg(1, 64, 1), msg(2, 127, 2), msg(3, 196, 3)}, 3},
		{"one pair swapped", []*msgr.Message{msg(3, 196, 1), msg(1, 64, 2), msg(2, 127, 3)}, 1},
		{"not of the burst", []*msgr.Message{msg(4, 64, 1), msg(5, 196, 2)}, 0},
	} {
		h := testRun()
		b := prioBurst{sent: []uint64{1, 2, 3}}
		for _, m := range tc.msgs {
			b.dispatched(h, m)
		}
		if got := violations(h, InvPrioOrder); got != tc.wrong {
			t.Errorf("%s: %d %s violations, want %d: %v", tc.name, got, InvPrioOrder, tc.wrong, h.Check.Violations())
		}
	}
}

// ready-timeout fails an accepted connection that stays in the accepting states past its ready
// timeout (what an acceptor that never arms the timer does while its peer holds the handshake
// up) and passes one that opens or faults in time.
func TestReadyTimeoutFailsLateAcceptor(t *testing.T) {
	late := readyTimeout + readySlack + time.Millisecond
	for _, tc := range []struct {
		name  string
		leave time.Duration // when conn 1 leaves the accepting states (0: never)
		to    proto.State
		wrong int
	}{
		{"opens in time", time.Second, proto.StateAcceptingHandledConnectMsg, 0},
		{"faults at its deadline", readyTimeout, proto.StateClosed, 0},
		{"faults a second late", readyTimeout + time.Second, proto.StateClosed, 1},
		{"opens late", late, proto.StateAcceptingHandledConnectMsg, 1},
		{"still accepting at the end", 0, 0, 1},
	} {
		h := testRun()
		var w readyWatch
		w.step(h, 1, proto.StateStartAccept, 0)
		w.step(h, 2, proto.StateStartAccept, time.Millisecond)
		w.step(h, 2, proto.StateAcceptingHandledConnectMsg, 2*time.Millisecond)
		if tc.leave > 0 {
			w.step(h, 1, tc.to, tc.leave)
		} else {
			for _, c := range w.open {
				w.check(h, c, late, "still accepting")
			}
		}
		if got := violations(h, InvReadyTimeout); got != tc.wrong {
			t.Errorf("%s: %d %s violations, want %d: %v", tc.name, got, InvReadyTimeout, tc.wrong, h.Check.Violations())
		}
	}
}

// The variants of the 2026-12-07 gaps run what they claim: one-byte messages reach the wire
// (messages without a middle), the burst of three priorities is dispatched, the keepalive
// goes first (two keepalives in all), and with
// ready-timeout a handshake the connector holds up ends with the acceptor's ready timeout,
// which by default the connector's own timeout (armed first) pre-empts.
func TestGapVariantsRunWhatTheyClaim(t *testing.T) {
	v, err := ParseVariant("one-byte,priorities,ready-timeout,keepalive-first")
	if err != nil {
		t.Fatal(err)
	}
	for _, pol := range Policies {
		r := Run(Config{Policy: pol, Variant: v, KeepTrace: true})
		if !r.Pass {
			t.Errorf("%s: the fault-free scenario fails: %v", pol.Name, r.Violations)
			continue
		}
		w := r.Written[Connector]
		if w["middle"] >= w["msg"] {
			t.Errorf("%s: the connector wrote %d messages and %d middles: no one-byte message", pol.Name, w["msg"], w["middle"])
		}
		if n := w["keepalive2"]; n != 2 {
			t.Errorf("%s: the connector wrote %d keepalives, want 2 (the first one first)", pol.Name, n)
		}
		if n := countLines(r.Trace, "osd.0#1", "dispatch", "prio=196"); n != 1 {
			t.Errorf("%s: the acceptor dispatched %d messages of priority 196, want the burst's one", pol.Name, n)
		}
	}
	pol, point := mustPolicy(t, "lossless-peer"), mustPoint(t, "connector/write/connect/1/block")
	for _, tc := range []struct {
		v     Variant
		first string // whose ready timeout fires first
	}{{v, "osd.0#1"}, {Variant{}, "osd.1#1"}} {
		r := Run(Config{Policy: pol, Points: []Point{point}, Variant: tc.v, KeepTrace: true})
		if !r.Pass {
			t.Errorf("%q: %v", tc.v, r.Violations)
		}
		for _, l := range r.Trace {
			if strings.Contains(l, "not ready within") {
				if !strings.Contains(l, tc.first) {
					t.Errorf("%q: the first ready timeout is not %s's: %s", tc.v, tc.first, l)
				}
				break
			}
		}
	}
}

func countLines(lines []string, words ...string) int {
	n := 0
next:
	for _, l := range lines {
		for _, w := range words {
			if !strings.Contains(l, w) {
				continue next
			}
		}
		n++
	}
	return n
}

// keepalive fails a KEEPALIVE2 not stamped with its sender's clock (zero, stale bytes, the
// future), an ACK whose stamp is no time of the run, and a requested keepalive never written
// when nothing excuses it; it passes the stamps and requests of a correct run.
func TestKeepaliveFailsWrongStampsAndUnsentKeepalives(t *testing.T) {
	now := 2 * time.Millisecond
	wall := time.Unix(1_700_000_000, 0).Add(now)
	ts := wire.TimespecOf(wall)
	for _, tc := range []struct {
		name  string
		run   func(h *harness.Run, w *keepaliveWatch)
		wrong int
	}{
		{"stamped and echoed", func(h *harness.Run, w *keepaliveWatch) {
			w.stamp(h, Connector, wire.FrameKeepalive2, ts, wall, now)
			w.stamp(h, Acceptor, wire.FrameKeepalive2Ack, ts, wall.Add(time.Millisecond), now+time.Millisecond)
		}, 0},
		{"stamped when encoded, written later", func(h *harness.Run, w *keepaliveWatch) {
			w.stamp(h, Connector, wire.FrameKeepalive2, ts, wall.Add(stampSlack), now+stampSlack)
		}, 0},
		{"zero stamp", func(h *harness.Run, w *keepaliveWatch) {
			w.stamp(h, Connector, wire.FrameKeepalive2, wire.Timespec{}, wall, now)
		}, 1},
		{"stale bytes for a stamp", func(h *harness.Run, w *keepaliveWatch) {
			w.stamp(h, Connector, wire.FrameKeepalive2, wire.Timespec{Sec: 3, Nsec: 0x4000000}, wall, now)
		}, 1},
		{"stamped in the future", func(h *harness.Run, w *keepaliveWatch) {
			w.stamp(h, Connector, wire.FrameKeepalive2, wire.TimespecOf(wall.Add(time.Millisecond)), wall, now)
		}, 1},
		{"ack of a zero stamp", func(h *harness.Run, w *keepaliveWatch) {
			w.stamp(h, Acceptor, wire.FrameKeepalive2Ack, wire.Timespec{}, wall, now)
		}, 1},
		{"ack of a stamp before the run", func(h *harness.Run, w *keepaliveWatch) {
			w.stamp(h, Acceptor, wire.FrameKeepalive2Ack, wire.TimespecOf(wall.Add(-now-time.Millisecond)), wall, now)
		}, 1},
		{"asked for and written", func(h *harness.Run, w *keepaliveWatch) {
			w.ask(2*time.Millisecond, 0)
			w.finish(h, 1, func(time.Duration) bool { return false })
		}, 0},
		{"asked for twice, written once (merged)", func(h *harness.Run, w *keepaliveWatch) {
			w.ask(time.Millisecond/2, 0)
			w.ask(2*time.Millisecond, 0)
			w.finish(h, 1, func(time.Duration) bool { return false })
		}, 0},
		{"asked for, never written", func(h *harness.Run, w *keepaliveWatch) {
			w.ask(time.Millisecond/2, 0)
			w.ask(2*time.Millisecond, 1)
			w.finish(h, 1, func(time.Duration) bool { return false })
		}, 1},
		{"asked for, never written, interrupted", func(h *harness.Run, w *keepaliveWatch) {
			w.ask(2*time.Millisecond, 0)
			w.finish(h, 0, func(time.Duration) bool { return true })
		}, 0},
	} {
		h := testRun()
		var w keepaliveWatch
		tc.run(h, &w)
		if got := violations(h, InvKeepalive); got != tc.wrong {
			t.Errorf("%s: %d %s violations, want %d: %v", tc.name, got, InvKeepalive, tc.wrong, h.Check.Violations())
		}
	}
}

// backoff fails a reconnect that comes at a time msgr1's backoff does not give (too soon
// after a WAIT, at ms_max_backoff after a first fault while connecting, not doubled) and
// passes the reconnects it gives: ms_initial_backoff, doubled, ms_max_backoff after a WAIT, at
// once after an open session's fault, a first connect, and no reconnect after standby.
func TestBackoffFailsWrongReconnects(t *testing.T) {
	const ms = time.Millisecond
	ini, max := proto.DefaultInitialBackoff, proto.DefaultMaxBackoff
	type step struct {
		fault    bool        // conn 1 faults in state from, then goes to state to
		from, to proto.State // (a state change only, when !fault)
		connect  bool        // side Connector connects
		at       time.Duration
	}
	fault := func(at time.Duration, from, to proto.State) step {
		return step{fault: true, from: from, to: to, at: at}
	}
	connect := func(at time.Duration) step { return step{connect: true, at: at} }
	open := func(at time.Duration) step {
		return step{from: proto.StateConnectingSendConnectMsg, to: proto.StateOpened, at: at}
	}
	for _, tc := range []struct {
		name  string
		steps []step
		wrong int
	}{
		{"first connect", []step{connect(ms)}, 0},
		{"initial, doubled, reset by the open", []step{connect(ms),
			fault(2*ms, proto.StateConnecting, proto.StateStartConnect), connect(2*ms + ini),
			fault(3*ms+ini, proto.StateConnectingSendConnectMsg, proto.StateStartConnect), connect(3*ms + 3*ini),
			open(4*ms + 3*ini), fault(5*ms+3*ini, proto.StateOpened, proto.StateStartConnect), connect(5*ms + 3*ini),
			fault(6*ms+3*ini, proto.StateConnecting, proto.StateStartConnect), connect(6*ms + 4*ini)}, 0},
		{"max after a WAIT", []step{connect(ms), fault(2*ms, proto.StateWait, proto.StateStartConnect), connect(2*ms + max)}, 0},
		{"standby: no reconnect", []step{connect(ms), fault(2*ms, proto.StateConnecting, proto.StateStandby), connect(3 * ms)}, 0},
		{"at once after a WAIT", []step{connect(ms), fault(2*ms, proto.StateWait, proto.StateStartConnect), connect(2 * ms)}, 1},
		{"max after a first fault", []step{connect(ms), fault(2*ms, proto.StateConnecting, proto.StateStartConnect), connect(2*ms + max)}, 1},
		{"not doubled", []step{connect(ms),
			fault(2*ms, proto.StateConnecting, proto.StateStartConnect), connect(2*ms + ini),
			fault(3*ms+ini, proto.StateConnecting, proto.StateStartConnect), connect(3*ms + 2*ini)}, 1},
		{"backoff after an open session's fault", []step{connect(ms), open(2 * ms),
			fault(3*ms, proto.StateOpened, proto.StateStartConnect), connect(3*ms + ini)}, 1},
	} {
		h := testRun()
		w := backoffWatch{initial: ini, max: max}
		for _, s := range tc.steps {
			switch {
			case s.connect:
				w.connect(h, Connector, s.at)
			case s.fault:
				w.observe(Connector, &msgr.TraceEvent{Kind: msgr.TraceFault, Conn: &msgr.Connection{}, From: s.from}, s.at)
				fallthrough
			default:
				w.state(Connector, 0, s.from, s.to, s.at)
			}
		}
		if got := violations(h, InvBackoff); got != tc.wrong {
			t.Errorf("%s: %d %s violations, want %d: %v", tc.name, got, InvBackoff, tc.wrong, h.Check.Violations())
		}
	}
}

// acked fails a run of lossless sessions in which a message was read and never reported
// acknowledged (what a sender that stopped telling its AckObserver does), and passes one in
// which every read message was, or whose session was reset.
func TestAckedFailsUnreportedAcks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		acked  []uint64
		resets int
		wrong  int
	}{
		{"all acknowledged", []uint64{1, 2}, 0, 0},
		{"one never reported", []uint64{1}, 0, 1},
		{"none reported", nil, 0, 1},
		{"none reported, session reset", nil, 1, 0},
	} {
		h := testRun()
		for id := uint64(1); id <= 2; id++ {
			h.Check.SentOn("osd.1", "osd.0", 1, 0, id, true)
			h.Check.Received("osd.0#1", id)
		}
		for _, id := range tc.acked {
			h.Check.Acked(id, 0)
		}
		checkAcked(h, tc.resets)
		if got := violations(h, InvAcked); got != tc.wrong {
			t.Errorf("%s: %d %s violations, want %d: %v", tc.name, got, InvAcked, tc.wrong, h.Check.Violations())
		}
	}
}

// throttleGauge is a throttle's count, as throttle-held reads it.
type throttleGauge struct{ cur, max int64 }

func (g throttleGauge) Current() int64 { return g.cur }
func (g throttleGauge) Max() int64     { return g.max }

// throttle-held fails a dispatch while the message throttle holds nothing (what a receiver
// that never took the throttle shows) and a receiver without the throttle the variant set,
// and passes a dispatch that holds its unit.
func TestThrottleHeldFailsUntakenThrottle(t *testing.T) {
	for _, tc := range []struct {
		name  string
		g     throttleGauge
		found bool
		wrong int
	}{
		{"unit held", throttleGauge{1, 1}, true, 0},
		{"nothing held", throttleGauge{0, 1}, true, 1},
		{"no such throttle", throttleGauge{}, false, 1},
	} {
		h := testRun()
		checkThrottleHeld(h, "osd.0#1", 1, "client/messages", tc.g, tc.found)
		if got := violations(h, InvThrottleHeld); got != tc.wrong {
			t.Errorf("%s: %d %s violations, want %d: %v", tc.name, got, InvThrottleHeld, tc.wrong, h.Check.Violations())
		}
	}
}
