package proto_test

import (
	"errors"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/proto"
)

// A handshake that does not finish within ms_connection_ready_timeout faults on the side
// that is waiting, connector or acceptor, and not a moment before: the deadline is armed when
// the handshake starts. Here the peer never answers: no byte crosses the link.
func TestHandshakeTimesOutOnEitherSide(t *testing.T) {
	for _, side := range []string{"connector", "acceptor"} {
		t.Run(side, func(t *testing.T) {
			l := newLink(t, 1, proto.LosslessPeer(0), proto.LosslessPeer(0))
			c := l.a
			if side == "acceptor" {
				c = l.b
			}
			start := l.w.Now
			at, ok := c.NextDeadline()
			if !ok || at != start+proto.DefaultReadyTimeout {
				t.Fatalf("next deadline %v (armed %v), want the ready timeout at %v", at, ok, start+proto.DefaultReadyTimeout)
			}
			l.w.Now = at - time.Millisecond
			c.Tick()
			if len(l.w.Faults) != 0 {
				t.Fatalf("faulted before the deadline: %s", l.faults())
			}
			l.w.Now = at
			c.Tick()
			if len(l.w.Faults) != 1 || !errors.Is(l.w.Faults[0].Err, proto.ErrHandshakeTimeout) {
				t.Fatalf("at the deadline: faults %q, want one handshake timeout", l.faults())
			}
		})
	}
}
