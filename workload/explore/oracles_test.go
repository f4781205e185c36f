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
