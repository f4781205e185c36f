package check

import "testing"

// A connection that accepted a socket and opened no session must not start connecting; one
// that opened may (a lossless session reconnects), and so may a connector, or a session that
// adopted a socket (it never passes START_ACCEPT).
func TestAcceptDial(t *testing.T) {
	w := newWire(t)
	// c is the connection a used monitor left accepted (usedChecker): a new run's connector.
	a, b, c, d := EventConn{1, 1, 1}, EventConn{1, 1, 4}, EventConn{1, 1, 2}, EventConn{1, 2, 4}
	w.s.Step(a, StepAccept)
	w.s.Step(a, StepOpened)
	w.s.Step(a, StepConnect) // opened, faulted, reconnects
	w.s.Step(c, StepConnect) // a connector
	w.s.Step(c, StepConnect)
	w.s.Step(b, StepAccept)
	w.s.Step(d, StepConnect) // another incarnation's connection with b's number
	w.want()

	w.s.Step(b, StepConnect) // accepted, never opened: a half-open accepted connection dials
	w.want(InvAcceptDial)
}
