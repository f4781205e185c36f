package simnet

import (
	"errors"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// pumpAndRead runs every runnable transfer (the first each time, as a cheap scheduler) and
// then drains the receiver, as a simulator stepping the network and one reader would.
func pumpAndRead(b testing.TB, n *Network, dst *Socket, buf []byte) int {
	got := 0
	for n.Runnable() > 0 {
		n.Run(0)
	}
	for {
		k, err := dst.Read(buf)
		got += k
		if errors.Is(err, netio.ErrWouldBlock) {
			return got
		}
		if err != nil {
			b.Fatalf("read: %v", err)
		}
	}
}

// sendMessage writes msg completely, pumping whenever the send buffer fills.
func sendMessage(b testing.TB, n *Network, src, dst *Socket, msg []byte, buf []byte, bufs [][]byte) int {
	got := 0
	for len(msg) > 0 {
		bufs[0] = msg
		k, err := src.Writev(bufs)
		if err != nil && !errors.Is(err, netio.ErrWouldBlock) {
			b.Fatalf("writev: %v", err)
		}
		msg = msg[k:]
		if k == 0 {
			got += pumpAndRead(b, n, dst, buf)
			if due, ok := n.NextEvent(); ok && n.Runnable() == 0 {
				n.Clock().AdvanceTo(due)
			}
		}
	}
	return got
}

// BenchmarkStream measures bytes per second through one connection when the application
// writes 4 KiB messages and the network and the reader are pumped after every message.
func BenchmarkStream(b *testing.B) {
	for _, bc := range []struct {
		name    string
		latency time.Duration
	}{{"write=4KiB", 0}, {"write=4KiB/latency=1ms", time.Millisecond}} {
		b.Run(bc.name, func(b *testing.B) {
			w := newWorld(b, 1, Config{Latency: bc.latency})
			cl, srv := w.pair()
			msg := pattern(4096, 1)
			buf := make([]byte, 64<<10)
			bufs := make([][]byte, 1)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			start := w.net.Stats().Transfers
			b.ResetTimer()
			for range b.N {
				sendMessage(b, w.net, cl, srv, msg, buf, bufs)
				pumpAndRead(b, w.net, srv, buf)
				if due, ok := w.net.NextEvent(); ok {
					w.net.Clock().AdvanceTo(due)
				}
			}
			b.StopTimer()
			transfers := w.net.Stats().Transfers - start
			b.ReportMetric(float64(transfers)/float64(b.N), "transfers/op")
			b.ReportMetric(float64(transfers)/b.Elapsed().Seconds(), "transfers/s")
		})
	}
}

// BenchmarkTransfer measures one small write, one Run and one Read: the cost per transfer
// when messages are small.
func BenchmarkTransfer(b *testing.B) {
	w := newWorld(b, 2, Config{})
	cl, srv := w.pair()
	bufs := [][]byte{make([]byte, 1)}
	buf := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := cl.Writev(bufs); err != nil {
			b.Fatal(err)
		}
		w.net.Run(0)
		if _, err := srv.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunnableManyIdle shows that idle connections cost nothing per scheduling call:
// 1000 established, idle connections and one busy one.
func BenchmarkRunnableManyIdle(b *testing.B) {
	w := newWorld(b, 3, Config{Backlog: 2000})
	l := w.listen(w.b, testPort, 0)
	for range 1000 {
		w.connect(w.a, l.Addr())
	}
	w.settle()
	cl := w.connect(w.a, l.Addr())
	w.settle()
	for range 1001 {
		if _, err := l.Accept(); err != nil {
			b.Fatal(err)
		}
	}
	srv := cl.c.ends[server]
	bufs := [][]byte{make([]byte, 1)}
	buf := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := cl.Writev(bufs); err != nil {
			b.Fatal(err)
		}
		if w.net.Runnable() != 1 {
			b.Fatal("not runnable")
		}
		w.net.Run(0)
		if _, err := srv.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSteadyStateAllocatesNothing(t *testing.T) {
	w := newWorld(t, 4, Config{Latency: time.Millisecond})
	cl, srv := w.pair()
	p := mustPoller(t, w.b)
	if err := p.Add(srv.FD(), netio.Read); err != nil {
		t.Fatal(err)
	}
	msg := pattern(10000, 2)
	buf := make([]byte, 64<<10)
	bufs := make([][]byte, 1)
	evs := make([]netio.Event, 8)
	step := func() {
		sendMessage(t, w.net, cl, srv, msg, buf, bufs)
		if due, ok := w.net.NextEvent(); ok {
			w.net.Clock().AdvanceTo(due)
		}
		p.Wait(evs, 0)
		pumpAndRead(t, w.net, srv, buf)
	}
	for range 100 {
		step() // Warm up: fill the chunk pool and grow the queues.
	}
	if allocs := testing.AllocsPerRun(1000, step); allocs != 0 {
		t.Fatalf("%v allocations per message", allocs)
	}
}
