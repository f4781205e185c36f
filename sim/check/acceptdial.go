package check

// InvAcceptDial: a connection that accepted a socket and never opened a session on it
// started connecting. msgr1's fault handling (§6.3; Ceph's ProtocolV1::fault) closes such a
// half-open accepted connection: it has no session, nothing queued (it is registered only
// once it opens) and never replaced another, so there is nothing to keep and nobody to
// reconnect to. A connection that adopted a socket for an existing session (a replace) never
// passes START_ACCEPT, and one that opened may reconnect: neither is bound. The mutation
// score found the gap: ACCEPTING_WAIT_CONNECT_MSG_AUTH left out of the accepting states
// (a fault while reading a cephx authorizer) turned the connection into a connector, and no
// delivery check noticed.
const InvAcceptDial = "accept-dial"

// ConnStep is a step of one connection's handshake, as the harness sees its state changes
// (msgr.TraceState), for the accept-dial rule.
type ConnStep uint8

// The steps the rule watches.
const (
	// StepAccept: the connection starts accepting a socket (START_ACCEPT).
	StepAccept ConnStep = iota + 1
	// StepOpened: a session opened on it (as the acceptor, ACCEPTING_HANDLED_CONNECT_MSG;
	// or OPENED).
	StepOpened
	// StepConnect: it starts connecting (START_CONNECT).
	StepConnect
)

func init() {
	InvariantDoc[InvAcceptDial] = "a connection that accepted a socket and never opened a session never starts connecting: a fault closes a half-open accepted connection (§6.3; Ceph's fault(): !once_ready, nothing queued, START_ACCEPT..ACCEPTING_WAIT_CONNECT_MSG_AUTH, not replacing)"
	AllInvariants = append(AllInvariants, InvAcceptDial)
}

// connSteps is what the rule knows of a connection that accepted a socket and has not
// opened a session yet.
type connSteps struct {
	accepted bool
}

// Step takes a handshake step of connection ec.
func (s *Sessions) Step(ec EventConn, step ConnStep) {
	st := s.steps[ec]
	switch step {
	case StepAccept:
		s.steps[ec] = connSteps{accepted: true}
	case StepOpened:
		delete(s.steps, ec) // opened: it may reconnect
	case StepConnect:
		s.evaluated(InvAcceptDial)
		if st.accepted {
			s.violate(InvAcceptDial, "%d.%d conn %d: accepted a socket, opened no session, and started connecting",
				ec.Msgr, ec.Inc, ec.Conn)
		}
		delete(s.steps, ec)
	}
}
