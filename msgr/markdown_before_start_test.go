package msgr_test

import (
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// A connection marked down before its center ran its start stays closed: it never connects
// and never sends what was queued on it. (Found by the cluster workload, seed 21 of the
// swarm: a client, paused, timed out an operation and marked its session down; when the
// client resumed, the closed session started anyway, connected and delivered the operation
// next to the one resent on the new session — see testdata/regressions.)
func TestMarkDownBeforeStartStaysClosed(t *testing.T) {
	for _, viaMessenger := range []bool{false, true} {
		w := world.New(1, simnet.Config{Latency: 50 * time.Microsecond}, false)
		a := newSimNode(t, w, wire.NewName(wire.EntityClient, 1), "10.0.0.1", false, false)
		b := newSimNode(t, w, wire.NewName(wire.EntityOSD, 0), "10.0.0.2", true, false)
		c, err := a.m.ConnectTo(wire.EntityOSD, b.m.MyAddr())
		if err != nil {
			t.Fatal(err)
		}
		msg := wire.NewMessage(wire.MsgPing, []byte("queued before mark_down"))
		msg.Header.Tid = 1
		if err := c.SendMessage(msg); err != nil {
			t.Fatal(err)
		}
		if viaMessenger {
			a.m.MarkDown(b.m.MyAddr())
		} else {
			c.MarkDown()
		}
		// Nothing ran yet: the start, the flush and the mark_down are all posted.
		if err := w.RunUntil(func() bool { return false }, 200*time.Millisecond, 100_000); err == nil {
			t.Fatal("RunUntil(false) returned nil")
		}
		if got := b.rec.count(); got != 0 {
			t.Fatalf("via messenger %v: the peer got %d messages from a connection marked down before it started", viaMessenger, got)
		}
		if st := c.State(); st != proto.StateClosed {
			t.Fatalf("via messenger %v: connection marked down before start is in %v", viaMessenger, st)
		}
		if n := len(b.m.Connections()); n != 0 {
			t.Fatalf("via messenger %v: the peer accepted %d connections", viaMessenger, n)
		}
	}
}
