package proto

import (
	"slices"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The output queue writes the requeued messages first, in their order, then by priority,
// highest first, FIFO within a priority: Ceph's out_q is a map from priority to a list,
// taken from its highest key. A queue that wrote by arrival, or lowest priority first, would
// keep every per-priority FIFO check of the simulator green, so the order across priorities
// is pinned here.
func TestOutQueueOrderAcrossPriorities(t *testing.T) {
	msg := func(tid uint64, prio uint16) *wire.Message {
		m := wire.NewMessage(wire.MsgPing, nil)
		m.Header.Tid, m.Header.Priority = tid, prio
		return m
	}
	var q outQueue
	pushes := []struct {
		tid  uint64
		prio uint16
	}{{10, 127}, {11, 200}, {12, 127}, {13, 63}, {14, 200}, {15, 255}, {16, 63}, {17, 196}}
	for _, p := range pushes {
		q.push(msg(p.tid, p.prio))
	}
	q.requeue([]*wire.Message{msg(3, 63), msg(4, 255)})
	q.requeue([]*wire.Message{msg(1, 127), msg(2, 127)}) // an older socket's, ahead of the rest
	want := []uint64{1, 2, 3, 4, 15, 11, 14, 17, 10, 12, 13, 16}
	if q.len() != len(want) {
		t.Fatalf("len %d, want %d", q.len(), len(want))
	}
	var each []uint64
	q.each(func(m *wire.Message) { each = append(each, m.Header.Tid) })
	if !slices.Equal(each, want) {
		t.Errorf("each: %v, want %v", each, want)
	}
	var popped []uint64
	for m := q.pop(); m != nil; m = q.pop() {
		popped = append(popped, m.Header.Tid)
		if len(popped) == 6 {
			q.push(msg(20, 255)) // a later message of the highest priority goes before the rest
			q.push(msg(21, 1))
			want = slices.Insert(want, 6, 20)
			want = append(want, 21)
		}
	}
	if !slices.Equal(popped, want) {
		t.Errorf("pop: %v, want %v", popped, want)
	}
	if q.len() != 0 {
		t.Errorf("len %d after draining", q.len())
	}
}
