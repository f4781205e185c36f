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

// A sender that takes its messages from Messenger.NewMessage allocates none in steady state:
// once the peer acknowledges a message, the messenger takes it back and lends it again.
func ExampleMessenger_NewMessage() {
	w := world.New(1, simnet.Config{Latency: time.Millisecond}, false)
	acked := 0
	start := func(id int64, ip string, trace func(msgr.TraceEvent)) *msgr.Messenger {
		host := w.AddHost(ip, netip.MustParseAddr(ip))
		m, err := msgr.New(msgr.Config{
			Name: wire.NewName(wire.EntityOSD, id), Stack: host, Runtime: w, Rand: w.Rand(),
			Tracer: trace,
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
		m.AddDispatcherTail(&printer{})
		return m
	}
	a := start(0, "10.0.0.1", func(ev msgr.TraceEvent) {
		if ev.Kind == msgr.TraceAcked {
			acked++
		}
	})
	b := start(1, "10.0.0.2", nil)
	conn, err := a.ConnectTo(wire.EntityOSD, b.MyAddr())
	if err != nil {
		panic(err)
	}

	first := a.NewMessage(wire.MsgPing, []byte("hello"))
	if err := conn.SendMessage(first); err != nil {
		panic(err) // not taken: the message would still be ours, to Release
	}
	// first is the messenger's now: it must not be touched until NewMessage lends it again.
	if err := w.RunUntil(func() bool { return acked == 1 }, time.Minute, 100000); err != nil {
		panic(err)
	}
	again := a.NewMessage(wire.MsgPing, []byte("world"))
	fmt.Println("the acknowledged message is lent again:", again == first)
	if err := conn.SendMessage(again); err != nil {
		panic(err)
	}
	if err := w.RunUntil(func() bool { return acked == 2 }, time.Minute, 100000); err != nil {
		panic(err)
	}
	a.Shutdown()
	b.Shutdown()
	if err := w.RunUntil(func() bool { return a.Finished() && b.Finished() }, time.Hour, 100000); err != nil {
		panic(err)
	}
	// Output:
	// osd.1 got "hello" (seq 1) from osd.0
	// the acknowledged message is lent again: true
	// osd.1 got "world" (seq 2) from osd.0
}
