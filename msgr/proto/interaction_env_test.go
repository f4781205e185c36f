package proto_test

import (
	"github.com/msgrsim/msgrsim/msgr/proto/prototest"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The environment of the interaction transcripts: prototest's World (named connections on
// scripted messengers, explicit sockets with an in-flight byte buffer per direction, a
// virtual clock, and every Host callback recorded as a text line), with the bytes on every
// socket rendered as frames (interaction_render_test.go).

// env is one transcript's world.
type env struct {
	*prototest.World
	replyTags map[wire.Tag]bool // reply tags written by a connection (coverage)
	decs      map[*prototest.Socket]*sockDec
}

// sockDec renders one socket: what its handshake settled so far, and a stream decoder per
// direction (the client's phases depend on the replies the server wrote, hence the shared
// conv).
type sockDec struct {
	conv conv
	dec  [2]*streamDec
}

func newEnv() *env {
	e := &env{World: prototest.New(), replyTags: map[wire.Tag]bool{}, decs: map[*prototest.Socket]*sockDec{}}
	e.Tap = e.render
	e.Rules = map[string]bool{}
	return e
}

// sock is the renderer of s.
func (e *env) sock(s *prototest.Socket) *sockDec {
	sd := e.decs[s]
	if sd == nil {
		sd = &sockDec{}
		sd.dec[0] = newStreamDec(true, &sd.conv)
		sd.dec[1] = newStreamDec(false, &sd.conv)
		e.decs[s] = sd
	}
	return sd
}

var addrString = prototest.AddrString
