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

// printer prints each message it dispatches.
type printer struct {
	msgr.NopDispatcher
	got int
}

func (p *printer) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	p.got++
	fmt.Printf("%v got %q (seq %d) from %v\n", c.Messenger().Name(), m.Front, m.Header.Seq, m.Header.Src)
	return true
}

// Two OSD-like messengers exchange messages over a simulated network. With a real network
// the code is the same: use epoll.New(epoll.Options{}) as the Stack and leave Runtime nil.
func Example() {
	w := world.New(1, simnet.Config{Latency: time.Millisecond}, false)
	newOSD := func(id int64, ip string) (*msgr.Messenger, *printer) {
		host := w.AddHost(ip, netip.MustParseAddr(ip))
		m, err := msgr.New(msgr.Config{
			Name: wire.NewName(wire.EntityOSD, id), Stack: host, Runtime: w, Rand: w.Rand(),
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
		p := &printer{}
		m.AddDispatcherTail(p) // the first dispatcher makes the messenger ready
		return m, p
	}
	a, _ := newOSD(0, "10.0.0.1")
	b, pb := newOSD(1, "10.0.0.2")

	conn, err := a.ConnectTo(wire.EntityOSD, b.MyAddr())
	if err != nil {
		panic(err)
	}
	conn.SendMessage(wire.NewMessage(wire.MsgPing, []byte("hello")))
	conn.SendMessage(wire.NewMessage(wire.MsgPing, []byte("world")))

	if err := w.RunUntil(func() bool { return pb.got == 2 }, time.Minute, 100000); err != nil {
		panic(err)
	}
	a.Shutdown()
	b.Shutdown()
	if err := w.RunUntil(func() bool { return a.Finished() && b.Finished() }, time.Hour, 100000); err != nil {
		panic(err)
	}
	fmt.Println("session was lossless:", !a.Policy(wire.EntityOSD).Lossy)
	// Output:
	// osd.1 got "hello" (seq 1) from osd.0
	// osd.1 got "world" (seq 2) from osd.0
	// session was lossless: true
}
