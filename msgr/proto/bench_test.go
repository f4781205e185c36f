package proto_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/proto/prototest"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// pipe is an open lossless session between two Conns, with a pump that moves every byte one
// writes into the other (no sockets, no chunking).
type pipe struct {
	a, b   *proto.Conn
	ha, hb *prototest.Recycler
	w      *prototest.World
}

// newPipe opens a lossless session osd.1 → osd.2 with the given prefetch size and crcs.
func newPipe(tb testing.TB, prefetch int, crcHeader, crcData bool) *pipe {
	return newChunkPipe(tb, prefetch, crcHeader, crcData, 0)
}

// newChunkPipe is newPipe with the sender's Config.WriteChunk set to writeChunk.
func newChunkPipe(tb testing.TB, prefetch int, crcHeader, crcData bool, writeChunk int) *pipe {
	tb.Helper()
	return newPipeWith(tb, func(ma, mb *prototest.Msgr) {
		for _, m := range []*prototest.Msgr{ma, mb} {
			m.Cfg.PrefetchSize, m.Cfg.CRCHeader, m.Cfg.CRCData = prefetch, crcHeader, crcData
		}
		ma.Cfg.WriteChunk = writeChunk
	})
}

// newPipeWith opens a lossless session osd.1 → osd.2 with the messengers' configurations
// set by cfg.
func newPipeWith(tb testing.TB, cfg func(ma, mb *prototest.Msgr)) *pipe {
	return newPipeHost(tb, cfg, false)
}

// newPipeHost is newPipeWith; with dispatchOnly the acceptor takes only the messenger's
// dispatch throttle, as a Messenger's OSD-to-OSD session (its policy has no throttlers)
// does.
func newPipeHost(tb testing.TB, cfg func(ma, mb *prototest.Msgr), dispatchOnly bool) *pipe {
	tb.Helper()
	pol := proto.LosslessPeer(0)
	w, ma, mb := newLinkWorld(pol, pol)
	cfg(ma, mb)
	return openPipe(tb, w, pol, ma, mb, func(h prodHost) proto.Host {
		if dispatchOnly {
			return dispatchOnlyHost{h}
		}
		return h
	})
}

// openPipe opens the lossless session osd.1 → osd.2 of w's two messengers and pumps until
// both ends are open; hostB makes the acceptor's host from the production view of its
// recycler.
func openPipe(tb testing.TB, w *prototest.World, pol proto.Policy, ma, mb *prototest.Msgr, hostB func(prodHost) proto.Host) *pipe {
	tb.Helper()
	p := &pipe{w: w}
	p.ha, p.hb = prototest.NewRecycler(w.NewNode("a", ma)), prototest.NewRecycler(w.NewNode("b", mb))
	p.a = proto.NewConnector(ma.Cfg, prodHost{p.ha, p.ha}, addrB, wire.EntityOSD, pol, proto.Throttles{})
	p.b = proto.NewAcceptor(mb.Cfg, hostB(prodHost{p.hb, p.hb}), wire.LegacyAddr(addrA.Addr, 0))
	p.ha.C, p.hb.C = p.a, p.b
	p.a.Start()
	p.a.Connected()
	p.b.Start()
	for range 16 {
		if pump(p.a, p.b)+pump(p.b, p.a) == 0 {
			break
		}
	}
	if !p.a.State().IsOpen() || !p.b.State().IsOpen() {
		tb.Fatalf("session did not open: %v / %v", p.a.State(), p.b.State())
	}
	return p
}

// prodHost is a Recycler seen through the interfaces a messenger without a Tracer implements
// (Host and Buffers): it hides the Node's proto.StateObserver and proto.Reacher, which only
// tests and traced messengers have, so that the benchmarks measure the core as it runs in
// production.
type prodHost struct {
	proto.Host
	proto.Buffers
}

// dispatchOnlyHost is a prodHost whose policies come without throttlers: a connection takes
// only the dispatch throttle.
type dispatchOnlyHost struct{ prodHost }

func (h dispatchOnlyHost) PolicyFor(t wire.EntityType) (proto.Policy, proto.Throttles) {
	p, th := h.prodHost.PolicyFor(t)
	return p, proto.Throttles{Dispatch: th.Dispatch}
}

// pump writes all of src's output into dst and returns the bytes moved.
func pump(src, dst *proto.Conn) int {
	moved := 0
	for {
		iov := src.Output()
		if len(iov) == 0 {
			return moved
		}
		n := 0
		for _, s := range iov {
			for len(s) > 0 {
				buf := dst.ReadBuf()
				if len(buf) == 0 {
					src.Wrote(n)
					return moved + n
				}
				k := copy(buf, s)
				dst.Received(k)
				s = s[k:]
				n += k
			}
		}
		src.Wrote(n)
		moved += n
	}
}

// sendOne sends m from a to b and brings b's ACK back: one message through both protocol
// cores, the way a pipelined session moves it.
func (p *pipe) sendOne(m *wire.Message) {
	m.Header.Seq, m.Footer = 0, wire.Footer{} // a new message: sealed (crcs) when written
	p.a.Send(m)
	pump(p.a, p.b)
	pump(p.b, p.a)
}

var pipeSizes = []int{0, 4 << 10, 64 << 10}

// BenchmarkSendReceive is one message through a lossless session: queued, framed with its
// header and data crcs, parsed and verified by the receiver, delivered (and recycled), and
// acknowledged back. No sockets: the pure protocol cost per message.
func BenchmarkSendReceive(b *testing.B) {
	for _, n := range pipeSizes {
		b.Run("size="+strconv.Itoa(n), func(b *testing.B) {
			p := newPipe(b, 64<<10, true, true)
			m := wire.NewMessage(wire.MsgOSDOp, nil)
			m.Data = make([]byte, n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				p.sendOne(m)
			}
			if p.hb.Count < b.N {
				b.Fatalf("delivered %d of %d", p.hb.Count, b.N)
			}
		})
	}
}

// BenchmarkSendReceiveChunked is BenchmarkSendReceive at 4 MiB with the sender's data crc
// computed whole when the message is encoded (chunk=0) or a chunk at a time right before
// the chunk is copied out (Config.WriteChunk), the copy being the receiver's into its
// buffer. Payloads rotate through 8 buffers (32 MiB), so that each message starts out of
// the L2 cache as a real application's data would.
func BenchmarkSendReceiveChunked(b *testing.B) {
	const size = 4 << 20
	for _, chunk := range []int{0, 64 << 10, 256 << 10} {
		b.Run("chunk="+strconv.Itoa(chunk), func(b *testing.B) {
			p := newChunkPipe(b, 64<<10, true, true, chunk)
			var ms [8]*wire.Message
			for i := range ms {
				ms[i] = wire.NewMessage(wire.MsgOSDOp, nil)
				ms[i].Data = make([]byte, size)
				for j := range ms[i].Data {
					ms[i].Data[j] = byte(i + j)
				}
			}
			b.SetBytes(size)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p.sendOne(ms[i%len(ms)])
				i++
			}
			if p.hb.Count < b.N {
				b.Fatalf("delivered %d of %d", p.hb.Count, b.N)
			}
		})
	}
}

// TestSendReceiveAllocs pins the data path at zero allocations: once a session is warm and
// delivered messages are recycled, sending, framing, parsing, verifying, delivering and
// acknowledging a message allocate nothing.
func TestSendReceiveAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation changes allocations")
	}
	for i, n := range append(pipeSizes, 64<<10) {
		chunk := 0
		if i == len(pipeSizes) {
			chunk = 16 << 10 // the data crc computed a chunk at a time as it is written
		}
		p := newChunkPipe(t, 64<<10, true, true, chunk)
		m := wire.NewMessage(wire.MsgOSDOp, nil)
		m.Data = make([]byte, n)
		for range 10 {
			p.sendOne(m) // warm: arenas, the sent list, recycled messages
		}
		before := p.hb.Count
		if got := testing.AllocsPerRun(200, func() { p.sendOne(m) }); got != 0 {
			t.Errorf("size %d, write chunk %d: %v allocations per message, want 0", n, chunk, got)
		}
		if p.hb.Count-before < 200 {
			t.Fatalf("size %d: only %d messages delivered", n, p.hb.Count-before)
		}
		if _, in, _, _ := p.b.Seqs(); in != uint64(p.hb.Count) {
			t.Fatalf("size %d: in_seq %d after %d deliveries", n, in, p.hb.Count)
		}
		if p.a.Queued() != 0 {
			t.Fatalf("size %d: %d messages left unacknowledged", n, p.a.Queued())
		}
	}
}

// TestSectionsWithoutCRC: messages with front, middle and data sections are received intact
// with header and data crcs turned off (a section's running crc is then not kept at all; a
// regression: it was dereferenced anyway, found by the fuzz seeds).
func TestSectionsWithoutCRC(t *testing.T) {
	for _, crc := range [][2]bool{{false, false}, {true, false}, {false, true}} {
		p := newPipe(t, 4096, crc[0], crc[1])
		for _, n := range []int{1, 300, 5000} {
			m := wire.NewMessage(wire.MsgOSDOp, make([]byte, n))
			m.Middle, m.Data = make([]byte, n/2+1), make([]byte, 3*n)
			m.Data[len(m.Data)-1] = 7
			before := p.hb.Count
			p.sendOne(m)
			if p.hb.Count != before+1 {
				t.Fatalf("crc %v, size %d: not delivered", crc, n)
			}
		}
	}
}

// batchLen is the number of messages BenchmarkSendReceiveBatch moves per round: msgr-bench's
// rr depth.
const batchLen = 128

// BenchmarkSendReceiveBatch is BenchmarkSendReceive with batchLen messages in flight: all are
// queued, written in one batch, read by the receiver as a stream (as much as its prefetch
// buffer holds per read, see pumpStream) and parsed, and acknowledged with one ACK, as in
// msgr-bench's rr cell at depth 128. It reports the cost per message
// (ns/msg), and under callgrind the instructions per message are the difference of two runs
// with different -test.benchtime=Nx divided by the difference of messages (N·batchLen).
func BenchmarkSendReceiveBatch(b *testing.B) {
	for _, n := range []int{0, 4 << 10} {
		b.Run("size="+strconv.Itoa(n), func(b *testing.B) {
			p := newBatchPipe(b)
			ms := make([]*wire.Message, batchLen)
			for i := range ms {
				ms[i] = wire.NewMessage(wire.MsgOSDOp, nil)
				ms[i].Data = make([]byte, n)
			}
			b.SetBytes(int64(n * batchLen))
			b.ReportAllocs()
			rounds := 0
			for b.Loop() {
				p.sendBatch(ms)
				rounds++
			}
			if p.hb.Count < rounds*batchLen {
				b.Fatalf("delivered %d of %d", p.hb.Count, rounds*batchLen)
			}
			if p.a.Queued() != 0 {
				b.Fatalf("%d messages left unacknowledged", p.a.Queued())
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rounds*batchLen), "ns/msg")
		})
	}
}

// newBatchPipe is the session BenchmarkSendReceiveBatch measures: a 64 KiB prefetch
// buffer, header and data crcs, and only the dispatch throttle, as msgr-bench's messenger.
func newBatchPipe(tb testing.TB) *pipe {
	return newPipeHost(tb, func(ma, mb *prototest.Msgr) {
		for _, m := range []*prototest.Msgr{ma, mb} {
			m.Cfg.PrefetchSize, m.Cfg.CRCHeader, m.Cfg.CRCData = 64<<10, true, true
		}
	}, true)
}

// sendBatch sends ms from a to b in one batch and brings b's ACK back.
func (p *pipe) sendBatch(ms []*wire.Message) {
	for _, m := range ms {
		m.Header.Seq, m.Footer = 0, wire.Footer{} // new messages: sealed when written
		p.a.Send(m)
	}
	pumpStream(p.a, p.b)
	pumpStream(p.b, p.a)
}

// pumpStream is pump as a socket moves bytes: each ReadBuf is filled with as much of the
// output as fits, across slices, before Received (a read(2) of a 64 KiB prefetch buffer
// returns many messages at once), rather than one Received per slice of the output.
func pumpStream(src, dst *proto.Conn) int {
	moved := 0
	for {
		iov := src.Output()
		if len(iov) == 0 {
			return moved
		}
		n, i, off := 0, 0, 0
		for i < len(iov) {
			buf := dst.ReadBuf()
			if len(buf) == 0 {
				src.Wrote(n)
				return moved + n
			}
			k := 0
			for k < len(buf) && i < len(iov) {
				c := copy(buf[k:], iov[i][off:])
				k, off = k+c, off+c
				if off == len(iov[i]) {
					i, off = i+1, 0
				}
			}
			dst.Received(k)
			n += k
		}
		src.Wrote(n)
		moved += n
	}
}

// TestSendReceiveBatchAllocs is TestSendReceiveAllocs for batches of batchLen messages.
func TestSendReceiveBatchAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation changes allocations")
	}
	for _, n := range []int{0, 4 << 10} {
		p := newBatchPipe(t)
		ms := make([]*wire.Message, batchLen)
		for i := range ms {
			ms[i] = wire.NewMessage(wire.MsgOSDOp, nil)
			ms[i].Data = make([]byte, n)
		}
		for range 4 {
			p.sendBatch(ms) // warm
		}
		before := p.hb.Count
		if got := testing.AllocsPerRun(50, func() { p.sendBatch(ms) }); got != 0 {
			t.Errorf("size %d: %v allocations per batch of %d, want 0", n, got, batchLen)
		}
		if p.hb.Count-before < 50*batchLen {
			t.Fatalf("size %d: only %d messages delivered", n, p.hb.Count-before)
		}
		if p.a.Queued() != 0 {
			t.Fatalf("size %d: %d messages left unacknowledged", n, p.a.Queued())
		}
	}
}

// TestHeaderLimits: a header whose lengths exceed the receiver's limits faults the session
// before anything of the message is read, whether the limits are set or the defaults (a
// zero field); lengths at the limits pass.
func TestHeaderLimits(t *testing.T) {
	for _, tc := range []struct {
		limits              wire.Limits
		front, middle, data int
		ok                  bool
	}{
		{wire.Limits{MaxDataLen: 1000}, 0, 0, 1000, true},
		{wire.Limits{MaxDataLen: 1000}, 0, 0, 1001, false},
		{wire.Limits{MaxFrontLen: 100}, 101, 0, 0, false},
		{wire.Limits{MaxMiddleLen: 100}, 0, 101, 0, false},
		{wire.Limits{MaxMessageLen: 1000}, 300, 300, 400, true},
		{wire.Limits{MaxMessageLen: 1000}, 300, 300, 401, false},
		{wire.Limits{}, 0, 0, 1 << 20, true},
	} {
		p := newPipeWith(t, func(_, mb *prototest.Msgr) { mb.Cfg.Limits = tc.limits })
		m := wire.NewMessage(wire.MsgOSDOp, make([]byte, tc.front))
		m.Middle, m.Data = make([]byte, tc.middle), make([]byte, tc.data)
		p.sendOne(m)
		if got := p.hb.Count == 1; got != tc.ok {
			t.Errorf("%+v, %d+%d+%d: delivered %v, want %v", tc.limits, tc.front, tc.middle, tc.data, got, tc.ok)
		}
		faulted := false
		for _, f := range p.w.Faults {
			faulted = faulted || errors.Is(f.Err, wire.ErrTooLarge)
		}
		if faulted == tc.ok {
			t.Errorf("%+v, %d+%d+%d: faulted with ErrTooLarge %v (faults %v)", tc.limits, tc.front, tc.middle, tc.data, faulted, p.w.Faults)
		}
	}
}

// throttleObsHost is a dispatchOnlyHost with an Observer that records the states in which a
// received message started waiting for a full throttle.
type throttleObsHost struct {
	dispatchOnlyHost
	waits *[]proto.State
}

func (h throttleObsHost) Throttled(s proto.State) { *h.waits = append(*h.waits, s) }

// TestDispatchThrottleOnlyFull: a session with only the dispatch throttle (handleHeader's
// short way past the policy throttles) parks a message at a full dispatch throttle, reports
// the wait once, in StateThrottleDispatchQueue, and delivers the message when the retry finds
// room.
func TestDispatchThrottleOnlyFull(t *testing.T) {
	pol := proto.LosslessPeer(0)
	w, ma, mb := newLinkWorld(pol, pol)
	mb.Th[2].Max = 4096
	var waits []proto.State
	p := openPipe(t, w, pol, ma, mb, func(h prodHost) proto.Host {
		return throttleObsHost{dispatchOnlyHost{h}, &waits}
	})
	if !mb.Th[2].TryGet(4096) { // the dispatcher holds the whole throttle
		t.Fatal("dispatch throttle not empty")
	}
	p.sendOne(wire.NewMessage(wire.MsgOSDOp, make([]byte, 100)))
	if p.hb.Count != 0 || p.b.State() != proto.StateThrottleDispatchQueue {
		t.Fatalf("delivered %d, state %v: want the message parked at the dispatch throttle", p.hb.Count, p.b.State())
	}
	if len(waits) != 1 || waits[0] != proto.StateThrottleDispatchQueue {
		t.Fatalf("Throttled reports %v, want one in %v", waits, proto.StateThrottleDispatchQueue)
	}
	mb.Th[2].Put(4096)
	if err := w.Advance(10 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	p.b.Tick()
	pump(p.b, p.a)
	if p.hb.Count != 1 || len(waits) != 1 || !p.b.State().IsOpen() {
		t.Fatalf("after the retry: delivered %d, %d waits, state %v", p.hb.Count, len(waits), p.b.State())
	}
}
