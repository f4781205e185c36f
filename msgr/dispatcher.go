package msgr

import "github.com/msgrsim/msgrsim/msgr/wire"

// Message is a msgr1 message (see package wire).
type Message = wire.Message

// Dispatcher receives messages and connection events (Ceph's Dispatcher). Embed NopDispatcher
// and override what you need.
//
// Fast dispatch runs on the connection's event center, in arrival order, and must not block.
// Dispatch runs on the messenger's dispatch center, one message at a time, highest priority
// first; the first dispatcher that returns true consumes the message. Connection events are
// queued with the messages (at the highest priority), except the Fast* ones, which run
// synchronously before any message of the new session is dispatched.
type Dispatcher interface {
	// CanFastDispatchAny reports whether this dispatcher may fast-dispatch anything.
	CanFastDispatchAny() bool
	// CanFastDispatch reports whether m should be fast-dispatched.
	CanFastDispatch(m *Message) bool
	// FastDispatch handles m on the connection's center.
	FastDispatch(c *Connection, m *Message)
	// FastPreprocess sees every message before the dispatch path is chosen.
	FastPreprocess(c *Connection, m *Message)
	// Dispatch handles m on the dispatch center; true consumes it.
	Dispatch(c *Connection, m *Message) bool

	HandleConnect(c *Connection)     // outgoing session (re)established
	HandleFastConnect(c *Connection) // same, synchronously
	HandleAccept(c *Connection)      // incoming session established
	HandleFastAccept(c *Connection)  // same, synchronously
	HandleReset(c *Connection) bool  // session dropped (lossy fault, replaced, marked down)
	HandleRemoteReset(c *Connection) // the peer reset the session: messages may have been lost
	HandleRefused(c *Connection) bool
}

// NopDispatcher implements Dispatcher by doing nothing; embed it.
type NopDispatcher struct{}

func (NopDispatcher) CanFastDispatchAny() bool             { return false }
func (NopDispatcher) CanFastDispatch(*Message) bool        { return false }
func (NopDispatcher) FastDispatch(*Connection, *Message)   {}
func (NopDispatcher) FastPreprocess(*Connection, *Message) {}
func (NopDispatcher) Dispatch(*Connection, *Message) bool  { return false }
func (NopDispatcher) HandleConnect(*Connection)            {}
func (NopDispatcher) HandleFastConnect(*Connection)        {}
func (NopDispatcher) HandleAccept(*Connection)             {}
func (NopDispatcher) HandleFastAccept(*Connection)         {}
func (NopDispatcher) HandleReset(*Connection) bool         { return false }
func (NopDispatcher) HandleRemoteReset(*Connection)        {}
func (NopDispatcher) HandleRefused(*Connection) bool       { return false }
