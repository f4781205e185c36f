package msgr

import (
	"testing"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// TestDeliverKeepsHeldUnits: connHost.Deliver copies into the upcall the units of each
// throttle that holds some, with that throttle (releaseReservation returns them there), and
// leaves the rest of the slot's reservation zero, whatever the Reservation names.
func TestDeliverKeepsHeldUnits(t *testing.T) {
	m := &Messenger{}
	c := &Connection{m: m}
	h := (*connHost)(c)
	msgs, bytes, disp := NewThrottle(0), NewThrottle(0), NewThrottle(0)
	from := proto.Throttles{Messages: msgs, Bytes: bytes, Dispatch: disp}
	cases := []proto.Reservation{
		{From: from},                         // a 0-byte message: nothing held
		{Dispatch: 4096, From: from},         // the messenger's dispatch throttle alone
		{Messages: 1, Bytes: 10, From: from}, // the policy throttles
		{Messages: 1, From: from},
		{Bytes: 10, From: from},
		{Messages: 1, Bytes: 10, Dispatch: 10, From: from},
	}
	for i, r := range cases {
		msg := &wire.Message{}
		h.Deliver(msg, &r)
		u := &h.upcalls[len(h.upcalls)-1]
		want := proto.Reservation{Messages: r.Messages, Bytes: r.Bytes, Dispatch: r.Dispatch}
		if r.Messages != 0 {
			want.From.Messages = msgs
		}
		if r.Bytes != 0 {
			want.From.Bytes = bytes
		}
		if r.Dispatch != 0 {
			want.From.Dispatch = disp
		}
		if u.kind != upDeliver || u.msg != msg || u.res != want {
			t.Errorf("case %d: upcall %v %p %+v, want %v %p %+v", i, u.kind, u.msg, u.res, upDeliver, msg, want)
		}
	}
}
