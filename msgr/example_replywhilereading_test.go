package msgr_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// replier answers every request from its fast dispatcher, as an rr server does.
type replier struct {
	msgr.NopDispatcher
	requests int
}

func (r *replier) CanFastDispatchAny() bool           { return true }
func (r *replier) CanFastDispatch(*msgr.Message) bool { return true }
func (r *replier) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	r.requests++
	c.Messenger().Release(m)
	if err := c.SendMessage(c.Messenger().NewMessage(wire.MsgOSDOpReply, nil)); err != nil {
		panic(err)
	}
}

// replyCounter counts the replies.
type replyCounter struct {
	msgr.NopDispatcher
	replies int
}

func (r *replyCounter) CanFastDispatchAny() bool           { return true }
func (r *replyCounter) CanFastDispatch(*msgr.Message) bool { return true }
func (r *replyCounter) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	r.replies++
	c.Messenger().Release(m)
}

// A server that is sent many requests at once, here 64 of 4 KiB, and answers them from a
// fast dispatcher: with ReplyWhileReading it writes the replies to what it has read after
// every 64 KiB (its PrefetchSize: one read), so that the first replies are on their way
// while it reads the rest, instead of once all of them are read. Meant for a kernel
// socket (epoll.New); the simulated network here only shows where the option goes.
func ExampleConfig_replyWhileReading() {
	for _, rwr := range []bool{false, true} {
		w := world.New(1, simnet.Config{Latency: time.Millisecond}, false)
		start := func(id int64, ip string, d msgr.Dispatcher) *msgr.Messenger {
			host := w.AddHost(ip, netip.MustParseAddr(ip))
			m, err := msgr.New(msgr.Config{
				Name: wire.NewName(wire.EntityOSD, id), Stack: host, Runtime: w, Rand: w.Rand(),
				PrefetchSize: 64 << 10, ReplyWhileReading: rwr,
			})
			if err != nil {
				panic(err)
			}
			m.SetPolicy(wire.EntityOSD, proto.LosslessPeer(0))
			if err := m.Bind(netip.AddrPortFrom(netip.MustParseAddr(ip), 0)); err != nil {
				panic(err)
			}
			if err := m.Start(); err != nil {
				panic(err)
			}
			m.AddDispatcherTail(d)
			return m
		}
		server := &replier{}
		client := &replyCounter{}
		a := start(0, "10.0.0.1", client)
		b := start(1, "10.0.0.2", server)
		conn, err := a.ConnectTo(wire.EntityOSD, b.MyAddr())
		if err != nil {
			panic(err)
		}
		payload := make([]byte, 4096)
		for range 64 {
			m := a.NewMessage(wire.MsgOSDOp, nil)
			m.Data = payload
			if err := conn.SendMessage(m); err != nil {
				panic(err)
			}
		}
		if err := w.RunUntil(func() bool { return client.replies == 64 }, time.Minute, 1000000); err != nil {
			panic(err)
		}
		fmt.Printf("ReplyWhileReading %v: %d requests answered, %d replies\n", rwr, server.requests, client.replies)
		a.Shutdown()
		b.Shutdown()
		if err := w.RunUntil(func() bool { return a.Finished() && b.Finished() }, time.Hour, 1000000); err != nil {
			panic(err)
		}
	}
	// Output:
	// ReplyWhileReading false: 64 requests answered, 64 replies
	// ReplyWhileReading true: 64 requests answered, 64 replies
}
