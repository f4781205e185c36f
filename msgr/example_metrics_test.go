package msgr_test

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// A messenger counts connections, faults by reason, messages and bytes each way, throttle
// waits and resets. Metrics returns a snapshot (it marshals to JSON, e.g. for expvar.Func);
// WritePrometheus renders snapshots in the Prometheus text format.
func ExampleMessenger_Metrics() {
	w := world.New(1, simnet.Config{Latency: time.Millisecond}, false)
	newOSD := func(id int64, ip string) *msgr.Messenger {
		m, err := msgr.New(msgr.Config{
			Name: wire.NewName(wire.EntityOSD, id), Stack: w.AddHost(ip, netip.MustParseAddr(ip)),
			Runtime: w, Rand: w.Rand(),
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
		m.AddDispatcherTail(msgr.NopDispatcher{})
		return m
	}
	a, b := newOSD(0, "10.0.0.1"), newOSD(1, "10.0.0.2")
	conn, err := a.ConnectTo(wire.EntityOSD, b.MyAddr())
	if err != nil {
		panic(err)
	}
	conn.SendMessage(wire.NewMessage(wire.MsgPing, []byte("hello")))
	if err := w.RunUntil(func() bool { return b.Metrics().MessagesIn == 1 }, time.Minute, 100000); err != nil {
		panic(err)
	}
	s := a.Metrics()
	fmt.Println(s.Name, "sessions connected:", s.SessionsConnected, "messages out:", s.MessagesOut)

	var text strings.Builder
	if err := msgr.WritePrometheus(&text, a.Metrics(), b.Metrics()); err != nil {
		panic(err)
	}
	for _, line := range strings.Split(text.String(), "\n") {
		if strings.HasPrefix(line, "msgr_messages_in_total") || strings.HasPrefix(line, "msgr_sessions_accepted_total") {
			fmt.Println(line)
		}
	}
	a.Shutdown()
	b.Shutdown()
	if err := w.RunUntil(func() bool { return a.Finished() && b.Finished() }, time.Hour, 100000); err != nil {
		panic(err)
	}
	// Output:
	// osd.0 sessions connected: 1 messages out: 1
	// msgr_sessions_accepted_total{msgr="osd.0"} 0
	// msgr_sessions_accepted_total{msgr="osd.1"} 1
	// msgr_messages_in_total{msgr="osd.0"} 0
	// msgr_messages_in_total{msgr="osd.1"} 1
}
