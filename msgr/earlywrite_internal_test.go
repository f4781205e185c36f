//go:build linux

package msgr

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// writeLog is a netio.Stack over epoll whose connected sockets record the bytes of every
// Writev, and whose WriteChunk is chunk (netio.ChunkedWriter).
type writeLog struct {
	netio.Stack
	chunk int
	mu    sync.Mutex
	on    bool
	sizes []int
}

func (s *writeLog) WriteChunk() int { return s.chunk }

func (s *writeLog) Connect(addr netip.AddrPort) (netio.Socket, error) {
	sock, err := s.Stack.Connect(addr)
	if err != nil {
		return nil, err
	}
	return &loggedSocket{Socket: sock, log: s}, nil
}

// record starts (or stops) recording, forgetting what was recorded.
func (s *writeLog) record(on bool) {
	s.mu.Lock()
	s.on, s.sizes = on, nil
	s.mu.Unlock()
}

func (s *writeLog) recorded() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.sizes...)
}

type loggedSocket struct {
	netio.Socket
	log *writeLog
}

func (s *loggedSocket) Writev(bufs [][]byte) (int, error) {
	n, err := s.Socket.Writev(bufs)
	s.log.mu.Lock()
	if s.log.on && n > 0 {
		s.log.sizes = append(s.log.sizes, n)
	}
	s.log.mu.Unlock()
	return n, err
}

// countingDispatcher counts (and releases) what it is given.
type countingDispatcher struct {
	NopDispatcher
	n atomic.Int64
}

func (d *countingDispatcher) CanFastDispatchAny() bool      { return true }
func (d *countingDispatcher) CanFastDispatch(*Message) bool { return true }
func (d *countingDispatcher) FastDispatch(c *Connection, m *Message) {
	c.Messenger().Release(m)
	d.n.Add(1)
}

// A flush that takes many small messages on a kernel stack (a positive WriteChunk) writes
// them in doubling chunks, the first after earlyWriteFirst messages, so that the peer starts
// on them while the rest are encoded; without WriteChunk (the simulator's stacks) the batch
// leaves in one Writev, as before. Messages of a batch that carries earlyWriteBytes or more
// leave in one Writev either way.
func TestFlushWritesEarly(t *testing.T) {
	const frame = 1 + wire.HeaderLen + wire.FooterLen // a message without sections, framed
	for _, tc := range []struct {
		name  string
		chunk int
		n     int
		data  int
		want  []int // Writev sizes, in frames of a 0-byte message (data 0)
	}{
		{"kernel", 256 << 10, 600, 0, []int{128, 128, 256, 88}},
		{"kernel-exact", 256 << 10, 512, 0, []int{128, 128, 256}},
		{"kernel-short", 256 << 10, 128, 0, []int{128}},
		{"sim", 0, 600, 0, []int{600}},
		{"kernel-1k", 256 << 10, 300, 1024, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &writeLog{Stack: epoll.New(epoll.Options{}), chunk: tc.chunk}
			rt := &event.GoRuntime{}
			disp := &countingDispatcher{}
			mk := func(n int64, stack netio.Stack, d Dispatcher) *Messenger {
				return startOSD(t, Config{Name: wire.NewName(wire.EntityOSD, n), Stack: stack, Runtime: rt,
					Rand: detrand.NewSeeded(uint64(n) + 5), Workers: 1, ClusterProtocol: 10}, n == 0, d)
			}
			srv := mk(0, epoll.New(epoll.Options{}), disp)
			cli := mk(1, log, &countingDispatcher{})
			defer stopPair(rt, cli, srv)
			c, err := cli.ConnectTo(wire.EntityOSD, srv.MyAddr())
			if err != nil {
				t.Fatal(err)
			}
			wait := waiter(t)
			wait("the session", func() bool { return c.IsConnected() && c.Queued() == 0 })
			// Hold the client's center while the messages are sent: its flush then takes
			// them all at once.
			held, release := make(chan struct{}), make(chan struct{})
			c.center.Post(func() {
				close(held)
				<-release
			})
			<-held
			payload := make([]byte, tc.data)
			for i := range tc.n {
				m := cli.NewMessage(wire.MsgOSDOp, nil)
				m.Header.Tid = uint64(i)
				m.Data = payload
				if err := c.SendMessage(m); err != nil {
					t.Fatal(err)
				}
			}
			log.record(true)
			close(release)
			total := tc.n * (frame + tc.data)
			// The log records a Writev once it returned, which may be after the server has
			// the bytes: wait for both.
			wait("every message", func() bool {
				sum := 0
				for _, n := range log.recorded() {
					sum += n
				}
				return disp.n.Load() == int64(tc.n) && sum >= total
			})
			got := log.recorded()
			log.record(false)
			if tc.want == nil { // one batch of large messages: no early write
				sum := 0
				for _, n := range got {
					sum += n
				}
				if sum != total {
					t.Fatalf("wrote %v (%d bytes), want %d bytes", got, sum, total)
				}
				if early := earlyWriteFirst * (frame + tc.data); got[0] == early {
					t.Errorf("Writev sizes %v: the first %d messages were written early", got, earlyWriteFirst)
				}
				return
			}
			want := make([]int, len(tc.want))
			for i, k := range tc.want {
				want[i] = k * frame
			}
			if len(got) != len(want) {
				t.Fatalf("Writev sizes %v, want %v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("Writev sizes %v, want %v", got, want)
				}
			}
		})
	}
}
