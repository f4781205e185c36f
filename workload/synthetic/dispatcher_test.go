package synthetic

import (
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// recorder is an Observer that keeps the violations.
type recorder struct {
	nopObserver
	viol []string
}

func (r *recorder) Violation(name, detail string) { r.viol = append(r.viol, name+": "+detail) }

func (r *recorder) has(name string) bool {
	for _, v := range r.viol {
		if strings.HasPrefix(v, name+":") {
			return true
		}
	}
	return false
}

// newBare is a workload with no messengers, to drive the dispatcher by hand.
func newBare(obs Observer) (*Workload, *dispatcher) {
	w := &Workload{obs: obs, byMsgr: map[*msgr.Messenger]*Node{}, byNonce: map[uint32]*Node{},
		pairs: map[*msgr.Connection][2]*Node{}, sent: map[uint64][]byte{}, connSent: map[*msgr.Connection][]uint64{}}
	return w, &dispatcher{w: w}
}

func pong(seq uint64, data string) *msgr.Message {
	m := wire.NewMessage(wire.MsgPing, nil)
	m.Data = Payload{Who: Pong, Seq: seq, Data: []byte(data)}.Encode()
	return m
}

// Ceph's checks fail on a wrong history: a PONG that overtakes an earlier one on its
// connection, and a PONG whose data differs from its PING's.
func TestDispatcherChecksCatchWrongHistories(t *testing.T) {
	rec := &recorder{}
	w, d := newBare(rec)
	c := &msgr.Connection{}
	w.sent[1], w.sent[2], w.sent[3] = []byte("one"), []byte("two"), []byte("three")
	w.connSent[c] = []uint64{1, 2, 3}

	d.FastDispatch(c, pong(1, "one"))
	if len(rec.viol) != 0 || w.Pending() != 2 {
		t.Fatalf("an in-order, intact PONG: %v, pending %d", rec.viol, w.Pending())
	}
	d.FastDispatch(c, pong(3, "three"))
	if !rec.has(InvFIFO) {
		t.Fatalf("PONG 3 before PONG 2 not reported: %v", rec.viol)
	}
	rec.viol = nil
	d.FastDispatch(c, pong(2, "TWO"))
	if !rec.has(InvPayload) || rec.has(InvFIFO) {
		t.Fatalf("altered data not reported (or a spurious FIFO report): %v", rec.viol)
	}
	if w.Pending() != 0 || len(w.connSent[c]) != 0 {
		t.Fatalf("pending %d, conn queue %v", w.Pending(), w.connSent[c])
	}
	// A PONG for a forgotten PING is not checked (Ceph: sent.count(seq) == 0).
	rec.viol = nil
	d.FastDispatch(c, pong(9, "whatever"))
	if len(rec.viol) != 0 {
		t.Fatalf("a forgotten PING's PONG was checked: %v", rec.viol)
	}
	// Garbage data, and the normal dispatch path, are reported too.
	m := wire.NewMessage(wire.MsgPing, nil)
	m.Data = []byte{1, 1, 0xff}
	d.FastDispatch(c, m)
	d.Dispatch(c, pong(1, "x"))
	if !rec.has(InvPayload) || !rec.has(InvDispatch) {
		t.Fatalf("garbage or normal dispatch not reported: %v", rec.viol)
	}
}

// Pending PINGs are forgotten exactly where Ceph forgets them.
func TestDispatcherForgetsPendingOnEvents(t *testing.T) {
	for _, ev := range []string{"connect", "accept", "remote_reset", "reset"} {
		w, d := newBare(nopObserver{})
		c := &msgr.Connection{}
		w.sent[1] = []byte("x")
		w.connSent[c] = []uint64{1}
		w.conns, w.pairs[c] = []*msgr.Connection{c}, [2]*Node{{}, {}}
		switch ev {
		case "connect":
			d.HandleFastConnect(c)
		case "accept":
			d.HandleFastAccept(c)
		case "remote_reset":
			d.HandleRemoteReset(c)
		case "reset":
			d.HandleReset(c)
		}
		if w.Pending() != 0 {
			t.Errorf("%s: pending PING not forgotten", ev)
		}
		if dropped := len(w.conns) == 0; dropped != (ev == "reset") {
			t.Errorf("%s: connection dropped from the available ones: %v", ev, dropped)
		}
	}
}
