package msgr_test

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/netio/inject"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// contentDispatcher compares every message it gets with the sections all messages were sent
// with, counts them, and releases them (so receives reuse their buffers).
type contentDispatcher struct {
	msgr.NopDispatcher
	front, middle, data []byte
	got, fromOSD, bad   int
}

func (d *contentDispatcher) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	d.got++
	if m.Header.Src.Type == wire.EntityOSD {
		d.fromOSD++
	}
	if !bytes.Equal(m.Front, d.front) || !bytes.Equal(m.Middle, d.middle) || (len(m.Data) != 0 && !bytes.Equal(m.Data, d.data)) {
		d.bad++
	}
	c.Messenger().Release(m)
	return true
}

// TestSentBuffersUnchanged: the messenger never writes into the sections of a message it
// sends. The simulator's workloads rely on it: their data sections are read-only slices of
// one shared buffer. Every message here shares the same three section buffers; the sockets
// are cut again and again, so lossless messages are re-encoded and resent, and received
// messages are released and their buffers reused; afterwards the shared buffers must hold
// what they held before, and every receiver must have got them intact.
func TestSentBuffersUnchanged(t *testing.T) {
	pattern := func(n int, mul byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i)*mul + 1
		}
		return b
	}
	front, middle, data := pattern(300, 3), pattern(40, 5), pattern(70000, 7)
	want := [][]byte{bytes.Clone(front), bytes.Clone(middle), bytes.Clone(data)}
	for seed := uint64(1); seed <= 4; seed++ {
		w := world.New(seed, simnet.Config{Latency: 50 * time.Microsecond}, false)
		type peer struct {
			m   *msgr.Messenger
			inj *inject.Stack
			d   *contentDispatcher
		}
		mk := func(name wire.EntityName, ip string, bind bool) peer {
			addr := netip.MustParseAddr(ip)
			inj := inject.New(w.AddHost(name.String(), addr), inject.Options{Controllable: true})
			m, err := msgr.New(msgr.Config{Name: name, Stack: inj, Runtime: w, Rand: w.Rand(), ClusterProtocol: 10})
			if err != nil {
				t.Fatal(err)
			}
			m.SetPolicy(wire.EntityOSD, proto.LosslessPeer(0))
			m.SetPolicy(wire.EntityClient, proto.StatelessServer(0))
			if bind {
				if err := m.Bind(netip.AddrPortFrom(addr, 0)); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.Start(); err != nil {
				t.Fatal(err)
			}
			d := &contentDispatcher{front: want[0], middle: want[1], data: want[2]}
			m.AddDispatcherTail(d)
			return peer{m, inj, d}
		}
		a := mk(wire.NewName(wire.EntityOSD, 0), "10.0.0.1", true)
		b := mk(wire.NewName(wire.EntityOSD, 1), "10.0.0.2", true)
		cl := mk(wire.NewName(wire.EntityClient, 4100), "10.0.0.3", false)
		send := func(from, to peer, n int) {
			c, err := from.m.ConnectTo(wire.EntityOSD, to.m.MyAddr())
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				m := wire.NewMessage(wire.MsgPing, front)
				m.Middle = middle
				if i%3 == 0 {
					m.Data = data
				}
				m.Header.Tid = uint64(i + 1)
				if err := c.SendMessage(m); err != nil {
					t.Fatal(err)
				}
			}
		}
		const n = 60
		send(a, b, n)
		send(b, a, n)
		send(cl, a, n)
		for k := 1; k <= 8; k++ {
			w.Schedule(time.Duration(k)*300*time.Microsecond, func() {
				[]peer{a, b, cl}[k%3].inj.CutAll()
			})
		}
		done := func() bool { return b.d.fromOSD == n && a.d.fromOSD == n }
		if err := w.RunUntil(done, time.Minute, 1_000_000); err != nil {
			t.Fatalf("seed %d: %v (a got %d, b got %d)", seed, err, a.d.got, b.d.got)
		}
		for i, s := range [][]byte{front, middle, data} {
			if !bytes.Equal(s, want[i]) {
				t.Fatalf("seed %d: section %d of the sent messages was written to", seed, i)
			}
		}
		for _, p := range []peer{a, b, cl} {
			if p.d.bad != 0 {
				t.Fatalf("seed %d: %s received %d of %d messages with other content", seed, p.m.Name(), p.d.bad, p.d.got)
			}
		}
	}
}

// dataRecorder fast-dispatches, records where each message's data section lives, and
// releases the message.
type dataRecorder struct {
	msgr.NopDispatcher
	data []*byte // &m.Data[0], nil without data
}

func (d *dataRecorder) CanFastDispatchAny() bool           { return true }
func (d *dataRecorder) CanFastDispatch(*msgr.Message) bool { return true }
func (d *dataRecorder) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	var p *byte
	if len(m.Data) > 0 {
		p = &m.Data[0]
	}
	d.data = append(d.data, p)
	c.Messenger().Release(m)
}

// TestReleasedDataBufferReused: a released message's data buffer is reused by a later
// receive of another size of the same size class, even when messages without data were
// received in between (their recycled message no longer takes the buffer with it).
func TestReleasedDataBufferReused(t *testing.T) {
	w := world.New(1, simnet.Config{Latency: 50 * time.Microsecond}, false)
	a := newSimNode(t, w, wire.NewName(wire.EntityOSD, 0), "10.0.0.1", true, false)
	d := &dataRecorder{}
	b := newSimNode(t, w, wire.NewName(wire.EntityOSD, 1), "10.0.0.2", true, false)
	b.m.AddDispatcherHead(d)
	c, err := a.m.ConnectTo(wire.EntityOSD, b.m.MyAddr())
	if err != nil {
		t.Fatal(err)
	}
	send := func(dataLen int) {
		m := wire.NewMessage(wire.MsgPing, []byte("front"))
		if dataLen > 0 {
			m.Data = make([]byte, dataLen)
		}
		if err := c.SendMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(n int) {
		if err := w.RunUntil(func() bool { return len(d.data) == n }, time.Minute, 1_000_000); err != nil {
			t.Fatalf("%v (%d received, want %d)", err, len(d.data), n)
		}
	}
	send(40000)
	wait(1)
	send(0)
	send(0)
	wait(3)
	send(50000)
	wait(4)
	if d.data[0] == nil || d.data[3] != d.data[0] {
		t.Fatalf("the 50000-byte data section was not received into the released 40000-byte one's buffer")
	}
}
