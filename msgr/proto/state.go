package proto

import "strconv"

// State is a ProtocolV1 state. Names and numeric order are Ceph's (ProtocolV1.h), so every
// transition maps onto Ceph's code and msgr1-protocol.md §6.1; range checks rely on the order.
type State uint8

// ProtocolV1 states.
const (
	StateNone         State = iota // fresh, or detached during a replace
	StateStartConnect              // connector: waiting for TCP connect or backoff
	StateConnecting                // connector: writing its banner
	StateConnectingWaitBannerAndIdentify
	StateConnectingSendConnectMsg // connect written; reply, SEQ exchange
	StateStartAccept              // acceptor: before its banner
	StateAccepting                // acceptor: greeting written; reading banner, address, connect
	StateAcceptingWaitConnectMsgAuth
	StateAcceptingHandledConnectMsg // READY/SEQ written; waiting the client's seq
	StateOpened                     // session open, waiting for the next tag
	StateThrottleMessage
	StateThrottleBytes
	StateThrottleDispatchQueue
	StateReadMessageFront
	StateReadFooterAndDispatch
	StateClosed
	StateWait    // got WAIT: backing off ms_max_backoff before reconnecting
	StateStandby // idle lossless session without a socket
	numStates
)

var stateNames = [numStates]string{
	"NONE", "START_CONNECT", "CONNECTING", "CONNECTING_WAIT_BANNER_AND_IDENTIFY",
	"CONNECTING_SEND_CONNECT_MSG", "START_ACCEPT", "ACCEPTING", "ACCEPTING_WAIT_CONNECT_MSG_AUTH",
	"ACCEPTING_HANDLED_CONNECT_MSG", "OPENED", "THROTTLE_MESSAGE", "THROTTLE_BYTES",
	"THROTTLE_DISPATCH_QUEUE", "READ_MESSAGE_FRONT", "READ_FOOTER_AND_DISPATCH", "CLOSED", "WAIT",
	"STANDBY",
}

func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "STATE(" + strconv.Itoa(int(s)) + ")"
}

// AllStates lists every state in Ceph's order (for coverage reports).
func AllStates() []State {
	s := make([]State, numStates)
	for i := range s {
		s[i] = State(i)
	}
	return s
}

// connecting reports whether s is one of the connector's handshake states (Ceph's
// START_CONNECT..CONNECTING_SEND_CONNECT_MSG range).
func (s State) connecting() bool {
	return s >= StateStartConnect && s <= StateConnectingSendConnectMsg
}

// accepting reports whether s is in Ceph's START_ACCEPT..ACCEPTING_WAIT_CONNECT_MSG_AUTH range.
func (s State) accepting() bool {
	return s >= StateStartAccept && s <= StateAcceptingWaitConnectMsgAuth
}

// open reports whether the session is open (OPENED or in the middle of reading a message).
func (s State) open() bool {
	return s >= StateOpened && s <= StateReadFooterAndDispatch
}
