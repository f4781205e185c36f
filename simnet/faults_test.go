package simnet

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/netio"
)

// ---- Chunker and Observer ----

// fixedChunker always returns k.
type fixedChunker struct{ k int }

func (c fixedChunker) Chunk(StreamID, Op, uint64, int) int { return c.k }

func TestChunkerOneByte(t *testing.T) {
	w := newWorld(t, 40, Config{})
	cl, srv := w.pair()
	w.net.SetChunker(fixedChunker{1})
	var deliveries, other int
	w.net.SetTracer(func(tr Transfer) {
		if tr.Kind == Deliver && tr.Bytes == 1 {
			deliveries++
		} else {
			other++
		}
	})
	msg := pattern(3000, 3)
	for i := range 5 {
		n, err := cl.Writev([][]byte{msg[i : i+7], msg[i+7:]})
		if n != 1 || err != nil {
			t.Fatalf("write %d = %d, %v; want 1 byte", i, n, err)
		}
	}
	got := w.transfer(cl, srv, msg[5:])
	if !bytes.Equal(got, msg) {
		t.Fatalf("bytes damaged by 1-byte chunks")
	}
	if deliveries != len(msg) || other != 0 {
		t.Fatalf("%d one-byte deliveries and %d others for %d bytes", deliveries, other, len(msg))
	}
	buf := make([]byte, 100)
	for sent := 0; sent < 50; {
		if n := writeSome(t, srv, msg[sent:50]); n != 1 {
			t.Fatalf("write of %d took %d", 50-sent, n)
		}
		sent++
	}
	w.settle()
	for i := range 50 {
		if n, err := cl.Read(buf); n != 1 || err != nil {
			t.Fatalf("read %d = %d, %v; want 1 byte", i, n, err)
		}
	}
	if _, err := cl.Read(buf); !errors.Is(err, netio.ErrWouldBlock) {
		t.Fatalf("read after 50 bytes: %v", err)
	}

	// Out-of-range results are clamped: 0 moves 1 byte, a huge count moves everything.
	w.net.SetChunker(fixedChunker{0})
	if n, err := cl.Writev([][]byte{msg[:10]}); n != 1 || err != nil {
		t.Fatalf("chunk 0: writev = %d, %v", n, err)
	}
	w.net.SetChunker(fixedChunker{1 << 30})
	if n, err := cl.Writev([][]byte{msg[:10]}); n != 10 || err != nil {
		t.Fatalf("huge chunk: writev = %d, %v", n, err)
	}
	if tr := w.net.Run(0); tr.Bytes != 11 {
		t.Fatalf("huge chunk: delivered %v", tr)
	}
	if n, _ := srv.Read(buf); n != 11 {
		t.Fatalf("huge chunk: read %d", n)
	}
	// nil restores the random choice: some write of 1000 bytes is not taken whole or singly.
	w.net.SetChunker(nil)
	sizes := map[int]bool{}
	for range 20 {
		n := writeSome(t, cl, msg[:1000])
		sizes[n] = true
		w.settle()
		readAvailable(t, srv)
	}
	if len(sizes) < 3 {
		t.Fatalf("random chunking after SetChunker(nil): sizes %v", sizes)
	}
}

// recordingChunker picks random sizes and checks that every operation's offset is where the
// previous operation of the same kind on the same stream stopped.
type recordingChunker struct {
	t    *testing.T
	rng  *detrand.Rand
	next map[StreamID][4]uint64 // per Op: the offset the next operation must start at
	last int                    // last chosen size
	ops  map[Op]int
}

func (c *recordingChunker) Chunk(s StreamID, op Op, off uint64, avail int) int {
	want := c.next[s]
	if off != want[op] {
		c.t.Fatalf("%v %v at offset %d, want %d", s, op, off, want[op])
	}
	// Bytes are written before they are delivered, delivered before they are read.
	if op == OpDeliver && off+uint64(avail) > want[OpWrite] || op == OpRead && off+uint64(avail) > want[OpDeliver] {
		c.t.Fatalf("%v %v: [%d, +%d) beyond the previous stage %v", s, op, off, avail, want)
	}
	c.last = c.rng.Range(1, avail)
	want[op] += uint64(c.last)
	c.next[s] = want
	c.ops[op]++
	return c.last
}

func TestChunkerOffsets(t *testing.T) {
	w := newWorld(t, 41, Config{SendBuf: 700, RecvBuf: 500, Latency: time.Millisecond})
	rc := &recordingChunker{t: t, rng: detrand.NewSeeded(9), next: map[StreamID][4]uint64{}, ops: map[Op]int{}}
	cl, srv := w.pair()
	w.net.SetChunker(rc)
	w.net.SetTracer(func(tr Transfer) {
		if tr.Kind == Deliver && tr.Bytes != rc.last {
			t.Fatalf("delivered %d, chunker chose %d", tr.Bytes, rc.last)
		}
	})
	up, down := pattern(20000, 1), pattern(15000, 2)
	var gotUp, gotDown []byte
	buf := make([]byte, 300)
	for round := 0; len(gotUp) < len(up) || len(gotDown) < len(down); round++ {
		if round > 100000 {
			t.Fatalf("stuck")
		}
		if sent := int(rc.next[StreamID{1, ClientToServer}][OpWrite]); sent < len(up) {
			if n := writeSome(t, cl, up[sent:]); n > 0 && n != rc.last {
				t.Fatalf("writev took %d, chunker chose %d", n, rc.last)
			}
		}
		if sent := int(rc.next[StreamID{1, ServerToClient}][OpWrite]); sent < len(down) {
			writeSome(t, srv, down[sent:])
		}
		if r := w.net.Runnable(); r > 0 {
			w.net.Run(w.rng.IntN(r))
		} else if due, ok := w.net.NextEvent(); ok {
			w.net.Clock().AdvanceTo(due)
		}
		if n, err := srv.Read(buf); err == nil {
			if n != rc.last {
				t.Fatalf("read %d, chunker chose %d", n, rc.last)
			}
			gotUp = append(gotUp, buf[:n]...)
		}
		if n, err := cl.Read(buf); err == nil {
			gotDown = append(gotDown, buf[:n]...)
		}
	}
	if !bytes.Equal(gotUp, up) || !bytes.Equal(gotDown, down) {
		t.Fatalf("streams damaged")
	}
	if rc.ops[OpWrite] < 20 || rc.ops[OpDeliver] < 20 || rc.ops[OpRead] < 20 {
		t.Fatalf("too few operations: %v", rc.ops)
	}
	// ShutRead: deliveries that are discarded are still OpDeliver at the right offsets.
	writeSome(t, cl, up[:100])
	if err := srv.Shutdown(netio.ShutRead); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if got := rc.next[StreamID{1, ClientToServer}]; got[OpDeliver] != got[OpWrite] {
		t.Fatalf("discarded bytes: offsets %v", got)
	}
}

// recordingObserver keeps what it is shown per stream, checking offsets.
type recordingObserver struct {
	t       *testing.T
	streams map[StreamID][]byte
	net     *Network
	dlv     map[StreamID]int // bytes delivered per stream, from the tracer
}

func (o *recordingObserver) Written(s StreamID, off uint64, p []byte) {
	if off != uint64(len(o.streams[s])) || len(p) == 0 {
		o.t.Fatalf("%v: shown %d bytes at %d after %d", s, len(p), off, len(o.streams[s]))
	}
	if o.dlv[s] > int(off) {
		o.t.Fatalf("%v: bytes delivered before being observed", s)
	}
	o.streams[s] = append(o.streams[s], p...)
}

func TestObserver(t *testing.T) {
	w := newWorld(t, 42, Config{SendBuf: 3000, RecvBuf: 2000})
	o := &recordingObserver{t: t, streams: map[StreamID][]byte{}, net: w.net, dlv: map[StreamID]int{}}
	w.net.SetObserver(o)
	w.net.SetTracer(func(tr Transfer) {
		if tr.Kind != Deliver {
			return
		}
		s := StreamID{tr.Conn, ClientToServer}
		if p := tr.From.Port(); p == testPort || p == testPort+1 {
			s.Dir = ServerToClient
		}
		o.dlv[s] += tr.Bytes
		if o.dlv[s] > len(o.streams[s]) {
			t.Fatalf("%v: delivered %d, observed %d", s, o.dlv[s], len(o.streams[s]))
		}
	})
	cl, srv := w.pair()
	cl2, srv2 := w.pair2()
	written := map[StreamID][]byte{}
	write := func(s *Socket, id StreamID, msg []byte) {
		// Three buffers, one empty, so the observer sees pieces of several.
		cut := len(msg) / 3
		n, err := s.Writev([][]byte{msg[:cut], nil, msg[cut:]})
		if err != nil && !errors.Is(err, netio.ErrWouldBlock) {
			t.Fatal(err)
		}
		written[id] = append(written[id], msg[:n]...)
	}
	for i := range 200 {
		msg := pattern(4+i*7%1500, byte(i))
		write(cl, StreamID{1, ClientToServer}, msg)
		write(srv, StreamID{1, ServerToClient}, msg[1:])
		write(cl2, StreamID{2, ClientToServer}, msg[2:])
		write(srv2, StreamID{2, ServerToClient}, msg[3:])
		if i%3 == 0 {
			w.settle()
			for _, s := range []*Socket{cl, srv, cl2, srv2} {
				readAvailable(t, s)
			}
		}
	}
	if len(written) != 4 {
		t.Fatalf("streams written: %d", len(written))
	}
	for id, want := range written {
		if len(want) < 1000 || !bytes.Equal(o.streams[id], want) {
			t.Fatalf("%v: observed %d bytes, written %d (equal=%v)", id, len(o.streams[id]), len(want), bytes.Equal(o.streams[id], want))
		}
	}
	w.net.SetObserver(nil)
	writeSome(t, cl, []byte("unseen"))
	if len(o.streams[StreamID{1, ClientToServer}]) != len(written[StreamID{1, ClientToServer}]) {
		t.Fatalf("observer called after removal")
	}
}

// c returns host C, adding it if needed.
func (w *world) c() *Host {
	if h := w.net.Host(ipC); h != nil {
		return h
	}
	return w.net.AddHost("c", ipC)
}

// pair2 makes a second connected pair on another listener port.
func (w *world) pair2() (cl, srv *Socket) {
	w.t.Helper()
	l := w.listen(w.b, testPort+1, 0)
	cl = w.connect(w.a, l.Addr())
	w.settle()
	s, err := l.Accept()
	if err != nil {
		w.t.Fatalf("accept: %v", err)
	}
	return cl, s.(*Socket)
}

func TestStringers(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{ClientToServer.String(), "c2s"}, {ServerToClient.String(), "s2c"}, {Dir(7).String(), "dir(7)"},
		{StreamID{3, ServerToClient}.String(), "c3/s2c"},
		{OpWrite.String(), "write"}, {OpDeliver.String(), "deliver"}, {OpRead.String(), "read"}, {Op(0).String(), "op(0)"},
		{ResetBoth.String(), "both"}, {ResetSend.String(), "send"}, {ResetRecv.String(), "recv"}, {ResetHow(9).String(), "reset(9)"},
		{ConnectOK.String(), "ok"}, {ConnectRefuse.String(), "refuse"}, {ConnectHang.String(), "hang"},
		{ConnectResetAfterAccept.String(), "reset-after-accept"}, {ConnectFault(9).String(), "fault(9)"},
		{Hang.String(), "hang"},
		{Transfer{Kind: Deliver, Conn: 2, Bytes: 5, Corrupt: true, CorruptOffset: 77}.String(),
			"c2 deliver invalid AddrPort>invalid AddrPort 5B corrupt@77"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// ---- Latency spread and jitter ----

func TestLatencySpreadAndJitter(t *testing.T) {
	const base, spread, jitter = time.Millisecond, 5 * time.Millisecond, 2 * time.Millisecond
	run := func(seed uint64) (string, []time.Duration) {
		w := newWorld(t, seed, Config{Latency: base, LatencySpread: spread, Jitter: jitter})
		var trace strings.Builder
		w.net.SetTracer(func(tr Transfer) { fmt.Fprintf(&trace, "%v %v\n", w.net.now(), tr) })
		l := w.listen(w.b, testPort, 100)
		var lats []time.Duration
		var cls []*Socket
		for range 12 {
			cl := w.connect(w.a, l.Addr())
			lats = append(lats, cl.c.latency)
			if cl.c.latency < base || cl.c.latency > base+spread || cl.c.estDue != cl.c.latency {
				t.Fatalf("latency %v, connect due %v", cl.c.latency, cl.c.estDue)
			}
			cls = append(cls, cl)
		}
		w.settle()
		srvs := map[uint64]*Socket{}
		for range cls {
			s, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			srvs[s.(*Socket).Conn()] = s.(*Socket)
		}
		for i, cl := range cls {
			srv := srvs[cl.Conn()]
			// Writes at several times; record where each ends and when it was written.
			msg := pattern(4000, byte(i))
			type wr struct {
				end int
				at  time.Duration
			}
			var wrs []wr
			sent, jittered := 0, false
			for k := 0; sent < len(msg); k++ {
				n := writeSome(t, cl, msg[sent:min(len(msg), sent+300)])
				sent += n
				wrs = append(wrs, wr{sent, w.net.now()})
				segs := cl.outStream().segs.s
				for j := 1; j < len(segs); j++ {
					if segs[j].due < segs[j-1].due {
						t.Fatalf("due times decrease: %v", segs)
					}
				}
				if last := segs[len(segs)-1].due; last > w.net.now()+cl.c.latency {
					jittered = true
				} else if last < w.net.now()+cl.c.latency {
					t.Fatalf("due %v before now %v + latency %v", last, w.net.now(), cl.c.latency)
				}
				w.net.Clock().AdvanceTo(w.net.now() + time.Duration(w.rng.IntN(400))*time.Microsecond)
			}
			if !jittered {
				t.Fatalf("no write was jittered")
			}
			// Deliver, checking each delivered byte's due time.
			dlv := 0
			w.net.SetTracer(func(tr Transfer) {
				fmt.Fprintf(&trace, "%v %v\n", w.net.now(), tr)
				if tr.Conn != cl.Conn() || tr.Kind != Deliver {
					return
				}
				dlv += tr.Bytes
				for _, x := range wrs {
					if dlv-1 < x.end {
						if x.at+cl.c.latency > w.net.now() {
							t.Fatalf("byte %d delivered at %v, written at %v, latency %v", dlv-1, w.net.now(), x.at, cl.c.latency)
						}
						break
					}
				}
			})
			if got := w.transfer(cl, srv, nil); !bytes.Equal(got, msg) {
				t.Fatalf("stream reordered or damaged")
			}
		}
		return trace.String(), lats
	}
	t1, lats := run(5)
	t2, _ := run(5)
	t3, _ := run(6)
	if t1 != t2 {
		t.Fatalf("same seed, different traces")
	}
	if t1 == t3 {
		t.Fatalf("different seeds, same trace")
	}
	slices.Sort(lats)
	if lats = slices.Compact(lats); len(lats) < 6 {
		t.Fatalf("latencies not spread: %v", lats)
	}
}

// ---- Clogs ----

func TestClog(t *testing.T) {
	w := newWorld(t, 43, Config{SendBuf: 100, Latency: time.Millisecond})
	cl, srv := w.pair()
	start := w.net.now()
	until := start + 10*time.Millisecond
	w.net.Clog(ipA, ipB, until)
	writeAll(t, cl, []byte("held"))
	writeAll(t, srv, []byte("free"))
	if due, ok := w.net.NextEvent(); !ok || due != start+time.Millisecond {
		t.Fatalf("NextEvent = %v, %v; want the latency", due, ok)
	}
	w.net.Clock().AdvanceTo(start + time.Millisecond)
	if r := w.net.Runnable(); r != 1 {
		t.Fatalf("runnable %d, want only the unclogged direction", r)
	}
	if tr := w.net.Run(0); tr.From != srv.LocalAddr() {
		t.Fatalf("ran %v", tr)
	}
	if due, ok := w.net.NextEvent(); !ok || due != until {
		t.Fatalf("NextEvent = %v, %v; want the clog's end %v", due, ok, until)
	}
	if st := w.net.Stats(); st.Clogged != 1 {
		t.Fatalf("Clogged = %d", st.Clogged)
	}
	// The writer fills its buffer and sees EAGAIN.
	for writeSome(t, cl, make([]byte, 50)) > 0 {
	}
	if _, err := cl.Writev([][]byte{{1}}); !errors.Is(err, netio.ErrWouldBlock) {
		t.Fatalf("clogged writer: %v", err)
	}
	w.net.Clock().AdvanceTo(until - 1)
	if w.net.Runnable() != 0 {
		t.Fatalf("runnable before the clog ends")
	}
	w.net.Clock().AdvanceTo(until)
	if w.net.Runnable() != 1 {
		t.Fatalf("not runnable when the clog ends")
	}
	if got, _ := readAvailable(t, srv); len(got) != 0 {
		t.Fatalf("read %q while clogged", got)
	}
	w.settle()
	if got, _ := readAvailable(t, srv); string(got[:4]) != "held" || len(got) != 100 {
		t.Fatalf("after the clog: %q", got)
	}

	// Overlapping clogs: the latest until wins; Unclog removes exactly one pattern.
	now := w.net.now()
	w.net.Clog(ipA, ipB, now+20*time.Millisecond)
	w.net.Clog(ipA, ipB, now+5*time.Millisecond) // Same pattern: keeps the later until.
	w.net.Clog(netip.Addr{}, ipB, now+30*time.Millisecond)
	w.net.Clog(ipB, netip.Addr{}, now+3*time.Millisecond)
	writeSome(t, cl, []byte("x"))
	writeSome(t, srv, []byte("y"))
	checkNext := func(want time.Duration) {
		t.Helper()
		if due, ok := w.net.NextEvent(); !ok || due != want {
			t.Fatalf("NextEvent = %v, %v; want %v", due, ok, want)
		}
	}
	checkNext(now + 3*time.Millisecond) // The s2c clog outlasts the latency.
	w.net.Clock().AdvanceTo(now + time.Millisecond)
	checkNext(now + 3*time.Millisecond)
	w.net.Unclog(netip.Addr{}, ipB)
	checkNext(now + 3*time.Millisecond)
	w.net.Clock().AdvanceTo(now + 3*time.Millisecond)
	if tr := w.net.Run(0); tr.From != srv.LocalAddr() || w.net.Runnable() != 0 {
		t.Fatalf("ran %v with %d runnable", tr, w.net.Runnable())
	}
	checkNext(now + 20*time.Millisecond) // The 20ms clog stays; the 30ms one was unclogged.
	w.net.Unclog(ipA, netip.Addr{})      // No such pattern: nothing changes.
	checkNext(now + 20*time.Millisecond)
	// A FIN is clogged too, and Heal removes clogs.
	w.net.Clog(ipB, ipA, now+50*time.Millisecond)
	if err := srv.Shutdown(netio.ShutWrite); err != nil {
		t.Fatal(err)
	}
	w.net.Clock().AdvanceTo(now + 20*time.Millisecond)
	if w.net.Runnable() != 1 {
		t.Fatalf("runnable %d at 20ms", w.net.Runnable())
	}
	w.net.Run(0)
	checkNext(now + 50*time.Millisecond)
	w.net.Heal()
	if w.net.Runnable() != 1 {
		t.Fatalf("FIN not runnable after Heal")
	}
	if tr := w.net.Run(0); !tr.FIN {
		t.Fatalf("ran %v", tr)
	}

	// Connect attempts wait for both directions.
	l := w.listen(w.b, testPort+1, 0)
	now = w.net.now()
	w.net.Clog(ipB, ipA, now+7*time.Millisecond)
	c2 := w.connect(w.a, l.Addr())
	w.net.Clock().AdvanceTo(now + time.Millisecond)
	if w.net.Runnable() != 0 {
		t.Fatalf("clogged connect runnable")
	}
	checkNext(now + 7*time.Millisecond)
	w.net.Clock().AdvanceTo(now + 7*time.Millisecond)
	if tr := w.net.Run(0); tr.Kind != Establish || c2.ConnectError() != nil {
		t.Fatalf("connect after the clog: %v, %v", tr, c2.ConnectError())
	}
}

// ---- Partitions ----

func TestPartition(t *testing.T) {
	w := newWorld(t, 44, Config{SendBuf: 200, Latency: time.Millisecond})
	cl, srv := w.pair()
	w.net.Partition(ipA, ipB)
	if !w.net.Blocked(ipA, ipB) || w.net.Blocked(ipB, ipA) || w.net.Blocked(ipA, ipA) {
		t.Fatalf("Blocked: a>b %v b>a %v a>a %v", w.net.Blocked(ipA, ipB), w.net.Blocked(ipB, ipA), w.net.Blocked(ipA, ipA))
	}
	up := pattern(1000, 4)
	sent := writeSome(t, cl, up)
	writeAll(t, srv, []byte("reply"))
	w.settle() // Delivers the reply; the other direction is held and NextEvent ignores it.
	if got, _ := readAvailable(t, cl); string(got) != "reply" {
		t.Fatalf("unblocked direction: %q", got)
	}
	if got, _ := readAvailable(t, srv); len(got) != 0 {
		t.Fatalf("blocked direction delivered %d bytes", len(got))
	}
	if _, ok := w.net.NextEvent(); ok || w.net.Runnable() != 0 {
		t.Fatalf("blocked stream scheduled")
	}
	if st := w.net.Stats(); st.Partitioned != 1 {
		t.Fatalf("Partitioned = %d", st.Partitioned)
	}
	w.net.Clock().AdvanceTo(w.net.now() + time.Hour)
	if w.net.Runnable() != 0 {
		t.Fatalf("blocked stream runnable an hour later")
	}
	for n := writeSome(t, cl, up[sent:]); n > 0; n = writeSome(t, cl, up[sent:]) {
		sent += n
	}
	w.net.Heal()
	if w.net.Blocked(ipA, ipB) {
		t.Fatalf("still blocked after Heal")
	}
	if got := w.transfer(cl, srv, up[sent:]); !bytes.Equal(got, up) {
		t.Fatalf("after Heal: %d bytes, equal=%v", len(got), bytes.Equal(got, up))
	}

	// Wildcards and symmetric partitions.
	w.net.Partition(netip.Addr{}, ipB)
	if !w.net.Blocked(ipA, ipB) || !w.net.Blocked(ipC, ipB) || !w.net.Blocked(ipB, ipB) || w.net.Blocked(ipB, ipA) {
		t.Fatalf("wildcard partition")
	}
	w.net.Heal()
}

func TestIsolate(t *testing.T) {
	w := newWorld(t, 45, Config{Latency: time.Millisecond})
	c := w.net.AddHost("c", ipC)
	la := w.listen(w.a, testPort, 0)
	lb := w.listen(w.b, testPort, 0)
	lc := w.listen(c, testPort, 0)
	w.net.Isolate(ipB)
	if !w.net.Blocked(ipA, ipB) || !w.net.Blocked(ipB, ipC) || w.net.Blocked(ipA, ipC) || w.net.Blocked(ipB, ipB) {
		t.Fatalf("Blocked after Isolate")
	}
	toB := w.connect(w.a, lb.Addr())   // Hangs: B is isolated.
	fromB := w.connect(w.b, la.Addr()) // Hangs too.
	aToC := w.connect(w.a, lc.Addr())  // Unaffected.
	loop := w.connect(w.b, lb.Addr())  // Loopback is not on the network.
	w.settle()
	if aToC.ConnectError() != nil || loop.ConnectError() != nil {
		t.Fatalf("unaffected connects: %v, %v", aToC.ConnectError(), loop.ConnectError())
	}
	for _, s := range []*Socket{toB, fromB} {
		if err := s.ConnectError(); !errors.Is(err, netio.ErrInProgress) {
			t.Fatalf("connect across the isolation: %v", err)
		}
	}
	if _, ok := w.net.NextEvent(); ok {
		t.Fatalf("hung connects reported by NextEvent")
	}
	w.net.Clock().AdvanceTo(time.Minute)
	if w.net.Runnable() != 0 {
		t.Fatalf("hung connects runnable")
	}
	if st := w.net.Stats(); st.Partitioned != 2 {
		t.Fatalf("Partitioned = %d", st.Partitioned)
	}
	// The connectors give up (their timeout); one is left to complete after Heal.
	if err := fromB.Close(); err != nil {
		t.Fatal(err)
	}
	w.net.Heal()
	w.settle()
	if toB.ConnectError() != nil {
		t.Fatalf("connect after Heal: %v", toB.ConnectError())
	}
	if s, err := lb.Accept(); err != nil || s.(*Socket).Conn() != loop.Conn() {
		t.Fatalf("accept loopback: %v", err)
	}
	if s, err := lb.Accept(); err != nil || s.(*Socket).Conn() != toB.Conn() {
		t.Fatalf("accept after Heal: %v", err)
	}
	if _, err := la.Accept(); !errors.Is(err, netio.ErrWouldBlock) {
		t.Fatalf("abandoned connect was accepted: %v", err)
	}
}

// ---- Resets ----

// resetSetup builds a pair with bytes buffered unread at both ends and bytes in flight in
// both directions, watched by a poller at each end.
func resetSetup(t *testing.T, seed uint64) (w *world, cl, srv *Socket, pa, pb *Poller) {
	w = newWorld(t, seed, Config{Latency: time.Millisecond})
	w.net.SetChunker(fixedChunker{1 << 20})
	cl, srv = w.pair()
	writeSome(t, cl, []byte("to-server"))
	writeSome(t, srv, []byte("to-client"))
	w.settle()
	writeSome(t, cl, []byte("lost-up"))
	writeSome(t, srv, []byte("lost-down"))
	pa, pb = mustPoller(t, w.a), mustPoller(t, w.b)
	for _, x := range []struct {
		p *Poller
		s *Socket
	}{{pa, cl}, {pb, srv}} {
		if err := x.p.Add(x.s.FD(), netio.Read); err != nil {
			t.Fatal(err)
		}
		if !x.p.HasReady() {
			t.Fatalf("buffered bytes not readable")
		}
	}
	return w, cl, srv, pa, pb
}

func TestReset(t *testing.T) {
	for _, c := range []struct {
		how                  ResetHow
		end                  Dir
		keepCl, keepSrv      bool // the end still reads its buffered bytes
		wrCl, wrSrv          error
		rdAfterCl, rdAfterSr error
	}{
		{ResetBoth, ClientToServer, false, false, netio.ErrReset, netio.ErrReset, netio.ErrReset, netio.ErrReset},
		{ResetSend, ClientToServer, true, true, netio.ErrBrokenPipe, netio.ErrReset, netio.ErrReset, netio.ErrReset},
		{ResetSend, ServerToClient, true, true, netio.ErrReset, netio.ErrBrokenPipe, netio.ErrReset, netio.ErrReset},
		{ResetRecv, ClientToServer, false, true, netio.ErrReset, netio.ErrBrokenPipe, netio.ErrReset, netio.ErrReset},
		{ResetRecv, ServerToClient, true, false, netio.ErrBrokenPipe, netio.ErrReset, netio.ErrReset, netio.ErrReset},
	} {
		t.Run(fmt.Sprintf("%v/%v", c.how, c.end), func(t *testing.T) {
			w, cl, srv, pa, pb := resetSetup(t, 46)
			delivered := w.net.Stats().BytesDelivered
			if !w.net.Reset(cl.Conn(), c.end, c.how) {
				t.Fatalf("Reset returned false")
			}
			if w.net.Reset(cl.Conn(), c.end, c.how) {
				t.Fatalf("second Reset returned true")
			}
			// Both pollers report the error at once, whatever the mask.
			for _, p := range []*Poller{pa, pb} {
				if evs := wait(t, p); len(evs) != 1 || evs[0].Events != netio.Read|netio.Write {
					t.Fatalf("poller after reset: %v", evs)
				}
			}
			w.settle()
			if w.net.Stats().BytesDelivered != delivered {
				t.Fatalf("in-flight bytes delivered after the reset")
			}
			check := func(name string, s *Socket, keep bool, buffered string, wr, rd error) {
				t.Helper()
				if n, err := s.Writev([][]byte{[]byte("more")}); n != 0 || !errors.Is(err, wr) {
					t.Fatalf("%s writev = %d, %v; want %v", name, n, err, wr)
				}
				got, err := readAvailable(t, s)
				if keep && string(got) != buffered || !keep && len(got) != 0 || !errors.Is(err, rd) {
					t.Fatalf("%s read %q, %v; want kept=%v then %v", name, got, err, keep, rd)
				}
				if _, err := s.Read(make([]byte, 10)); !errors.Is(err, rd) {
					t.Fatalf("%s second read: %v", name, err)
				}
				if err := s.Shutdown(netio.ShutWrite); !errors.Is(err, netio.ErrNotConnected) {
					t.Fatalf("%s shutdown: %v", name, err)
				}
			}
			check("client", cl, c.keepCl, "to-client", c.wrCl, c.rdAfterCl)
			check("server", srv, c.keepSrv, "to-server", c.wrSrv, c.rdAfterSr)
			st := w.net.Stats()
			if st.Resets != 1 || len(w.net.Conns()) != 0 {
				t.Fatalf("resets %d, conns %v", st.Resets, w.net.Conns())
			}
			if cl.Close() != nil || srv.Close() != nil {
				t.Fatalf("close after reset")
			}
		})
	}
}

func TestResetEdgeCases(t *testing.T) {
	w := newWorld(t, 47, Config{Latency: time.Millisecond})
	if w.net.Reset(99, ClientToServer, ResetBoth) {
		t.Fatalf("reset of an unknown connection")
	}
	l := w.listen(w.b, testPort, 0)
	// A pending connect is refused.
	c1 := w.connect(w.a, l.Addr())
	if !w.net.Reset(c1.Conn(), ServerToClient, ResetSend) {
		t.Fatalf("reset of a pending connect")
	}
	if err := c1.ConnectError(); !errors.Is(err, netio.ErrRefused) {
		t.Fatalf("reset connect: %v", err)
	}
	w.settle()
	if _, err := l.Accept(); !errors.Is(err, netio.ErrWouldBlock) {
		t.Fatalf("reset connect was established")
	}
	// A connection still in the accept queue: the accepted socket reads ECONNRESET.
	c2 := w.connect(w.a, l.Addr())
	w.settle()
	if !w.net.Reset(c2.Conn(), ClientToServer, ResetBoth) {
		t.Fatalf("reset of a queued connection")
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, netio.ErrReset) {
		t.Fatalf("accepted after reset: %v", err)
	}
	// A connection closed at both ends is not live.
	c3 := w.connect(w.a, l.Addr())
	w.settle()
	s3, _ := l.Accept()
	c3.Close()
	s3.Close()
	if w.net.Reset(c3.Conn(), ClientToServer, ResetBoth) {
		t.Fatalf("reset of a closed connection")
	}
	// Invalid arguments panic.
	for _, f := range []func(){
		func() { w.net.Reset(1, Dir(2), ResetBoth) },
		func() { w.net.Reset(1, ClientToServer, ResetHow(3)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			f()
		}()
	}
}

func TestConns(t *testing.T) {
	w := newWorld(t, 48, Config{Latency: time.Millisecond})
	l := w.listen(w.b, testPort, 0)
	if len(w.net.Conns()) != 0 {
		t.Fatalf("conns in an empty network")
	}
	established := w.connect(w.a, l.Addr())
	refused := w.connect(w.a, netip.AddrPortFrom(ipB, 1))
	w.settle()
	pending := w.connect(w.b, netip.AddrPortFrom(ipA, 1))
	srv, _ := l.Accept()
	writeAll(t, established, []byte("12345"))
	writeAll(t, srv.(*Socket), []byte("12"))
	closed := w.connect(w.a, l.Addr())
	w.settle()
	cs, _ := l.Accept()
	closed.Close()
	cs.Close()
	queued := w.connect(w.a, l.Addr())
	w.settle()
	// Refused connects (refused, pending) and one closed at both ends are not listed.
	if !errors.Is(refused.ConnectError(), netio.ErrRefused) || !errors.Is(pending.ConnectError(), netio.ErrRefused) {
		t.Fatalf("setup: %v, %v", refused.ConnectError(), pending.ConnectError())
	}
	want := []ConnInfo{
		{ID: established.Conn(), Client: established.LocalAddr(), Server: l.Addr(), ClientHost: "a", ServerHost: "b",
			Established: true, Bytes: [2]uint64{5, 2}},
		{ID: queued.Conn(), Client: queued.LocalAddr(), Server: l.Addr(), ClientHost: "a", ServerHost: "b", Established: true},
	}
	if got := w.net.Conns(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Conns:\n got  %+v\n want %+v", got, want)
	}
	// Connect attempts not yet decided are listed, with the target host's name if any.
	toB := w.connect(w.c(), l.Addr())
	nowhere := w.connect(w.b, netip.AddrPortFrom(netip.MustParseAddr("10.9.9.9"), 1))
	want = append(want,
		ConnInfo{ID: toB.Conn(), Client: toB.LocalAddr(), Server: l.Addr(), ClientHost: "c", ServerHost: "b"},
		ConnInfo{ID: nowhere.Conn(), Client: nowhere.LocalAddr(), Server: nowhere.RemoteAddr(), ClientHost: "b"})
	if got := w.net.Conns(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Conns:\n got  %+v\n want %+v", got, want)
	}
	// Many dead connections are pruned; lookups still work for live ones.
	for range 200 {
		c := w.connect(w.a, netip.AddrPortFrom(ipB, 1))
		w.settle()
		c.Close()
	}
	if len(w.net.conns) > 100 {
		t.Fatalf("%d connections kept", len(w.net.conns))
	}
	if !w.net.Reset(established.Conn(), ClientToServer, ResetBoth) {
		t.Fatalf("live connection not found after pruning")
	}
}

// ---- Connect faults ----

func TestConnectFaults(t *testing.T) {
	w := newWorld(t, 49, Config{Latency: time.Millisecond})
	l := w.listen(w.b, testPort, 0)
	type call struct{ from, to netip.AddrPort }
	var calls []call
	decide := map[netip.AddrPort]ConnectFault{}
	w.net.SetConnectFault(func(from, to netip.AddrPort) ConnectFault {
		calls = append(calls, call{from, to})
		return decide[from]
	})
	var trs []Transfer
	w.net.SetTracer(func(tr Transfer) { trs = append(trs, tr) })
	// Refuse, although the listener has room.
	ref := w.connect(w.a, l.Addr())
	decide[ref.LocalAddr()] = ConnectRefuse
	if len(calls) != 0 {
		t.Fatalf("fault function called at Connect")
	}
	w.settle()
	if err := ref.ConnectError(); !errors.Is(err, netio.ErrRefused) || len(calls) != 1 || calls[0] != (call{ref.LocalAddr(), l.Addr()}) {
		t.Fatalf("refuse: %v, calls %v", err, calls)
	}
	if _, err := l.Accept(); !errors.Is(err, netio.ErrWouldBlock) {
		t.Fatalf("refused connection queued")
	}
	// Hang: a Hang transfer, then nothing, until SetConnectFault again.
	hang := w.connect(w.a, l.Addr())
	decide[hang.LocalAddr()] = ConnectHang
	w.settle()
	if len(trs) != 2 || trs[1].Kind != Hang || trs[1].Conn != hang.Conn() || len(calls) != 2 {
		t.Fatalf("hang: transfers %v, calls %d", trs, len(calls))
	}
	if err := hang.ConnectError(); !errors.Is(err, netio.ErrInProgress) {
		t.Fatalf("hung connect: %v", err)
	}
	if _, ok := w.net.NextEvent(); ok || w.net.Runnable() != 0 {
		t.Fatalf("hung connect scheduled")
	}
	w.net.Clock().AdvanceTo(w.net.now() + time.Hour)
	if w.net.Runnable() != 0 || len(w.net.Conns()) != 1 {
		t.Fatalf("hung connect runnable, or not live: %v", w.net.Conns())
	}
	decide[hang.LocalAddr()] = ConnectOK
	w.net.SetConnectFault(w.net.connectFault) // Lifts the fault: decided anew.
	if w.net.Runnable() != 1 {
		t.Fatalf("released connect not runnable")
	}
	w.settle()
	if hang.ConnectError() != nil || len(calls) != 3 {
		t.Fatalf("released connect: %v, calls %d", hang.ConnectError(), len(calls))
	}
	if s, err := l.Accept(); err != nil || s.(*Socket).Conn() != hang.Conn() {
		t.Fatalf("accept released connect: %v", err)
	}
	// ResetAfterAccept: established and queued; the first delivery resets.
	for _, viaFIN := range []bool{false, true} {
		ra := w.connect(w.a, l.Addr())
		decide[ra.LocalAddr()] = ConnectResetAfterAccept
		w.settle()
		if ra.ConnectError() != nil {
			t.Fatalf("reset-after-accept: connect %v", ra.ConnectError())
		}
		s, err := l.Accept()
		if err != nil {
			t.Fatalf("reset-after-accept not queued: %v", err)
		}
		srv := s.(*Socket)
		if viaFIN {
			srv.Shutdown(netio.ShutWrite)
		} else if n := writeSome(t, ra, []byte("hello")); n != 5 {
			t.Fatalf("write before the reset: %d", n)
		}
		trs = trs[:0]
		w.settle()
		if len(trs) != 1 || trs[0].Kind != Reset || !trs[0].RST {
			t.Fatalf("reset-after-accept transfers: %v", trs)
		}
		for _, x := range []*Socket{ra, srv} {
			if _, err := x.Read(make([]byte, 10)); !errors.Is(err, netio.ErrReset) {
				t.Fatalf("reset-after-accept read: %v", err)
			}
		}
	}
	// nil removes the function.
	w.net.SetConnectFault(nil)
	ok := w.connect(w.a, l.Addr())
	decide[ok.LocalAddr()] = ConnectRefuse
	n := len(calls)
	w.settle()
	if ok.ConnectError() != nil || len(calls) != n {
		t.Fatalf("after SetConnectFault(nil): %v", ok.ConnectError())
	}
	st := w.net.Stats()
	if st.ConnectRefusedInjected != 1 || st.ConnectHung != 1 || st.Refused != 1 || st.Resets != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// ---- Corruption ----

func TestCorrupt(t *testing.T) {
	w := newWorld(t, 50, Config{Latency: time.Millisecond})
	cl, srv := w.pair()
	seen := &recordingObserver{t: t, streams: map[StreamID][]byte{}, dlv: map[StreamID]int{}}
	w.net.SetObserver(seen)
	var corrupt []Transfer
	w.net.SetTracer(func(tr Transfer) {
		if tr.Corrupt {
			corrupt = append(corrupt, tr)
		}
	})
	up := StreamID{cl.Conn(), ClientToServer}
	msg := pattern(5000, 6)
	w.net.Corrupt(up, 100, 3)
	w.net.Corrupt(up, 2000, 0)
	w.net.Corrupt(up, 2000, 7)  // Same byte: moves to 2001.
	w.net.Corrupt(up, 2002, 12) // Bit 12&7 = 4.
	w.net.Corrupt(StreamID{99, ClientToServer}, 0, 0)
	got := w.transfer(cl, srv, msg)
	want := slices.Clone(msg)
	want[100] ^= 1 << 3
	want[2000] ^= 1
	want[2001] ^= 1 << 7
	want[2002] ^= 1 << 4
	if len(got) != len(msg) {
		t.Fatalf("got %d bytes", len(got))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("byte %d: got %08b, want %08b (sent %08b)", i, got[i], want[i], msg[i])
		}
	}
	if !bytes.Equal(seen.streams[up], msg) {
		t.Fatalf("observer saw corrupted bytes")
	}
	var offs []uint64
	for _, tr := range corrupt {
		if tr.Conn != up.Conn || tr.From != cl.LocalAddr() {
			t.Fatalf("corruption on the wrong stream: %v", tr)
		}
		offs = append(offs, tr.CorruptOffset)
	}
	if fmt.Sprint(offs) != "[100 2000 2001 2002]" || w.net.Stats().Corruptions != 4 {
		t.Fatalf("corruptions at %v, stats %d", offs, w.net.Stats().Corruptions)
	}
	// An offset already delivered hits the next byte delivered; the other direction is
	// separate.
	down := StreamID{cl.Conn(), ServerToClient}
	w.transfer(srv, cl, pattern(10, 1))
	w.net.Corrupt(down, 3, 0)
	got = w.transfer(srv, cl, []byte{0, 0, 0})
	if !bytes.Equal(got, []byte{1, 0, 0}) || len(corrupt) != 5 || corrupt[4].CorruptOffset != 10 {
		t.Fatalf("late corruption: %v, %v", got, corrupt[4:])
	}
	// Bit counts: exactly one bit flipped per corrupted byte.
	for i := range msg {
		if d := bits.OnesCount8(msg[i] ^ want[i]); d > 1 {
			t.Fatalf("byte %d: %d bits", i, d)
		}
	}
}

// ---- Crashes ----

func TestCrash(t *testing.T) {
	w := newWorld(t, 51, Config{Latency: time.Millisecond})
	c := w.net.AddHost("c", ipC)
	lb := w.listen(w.b, testPort, 0)
	la := w.listen(w.a, testPort, 0)
	// B has: an accepted connection from A with bytes in flight both ways, a connection from
	// A still queued on its listener, an outgoing connection to A, a pending connect to C.
	aCl, bSrv := w.pair2()
	queued := w.connect(w.a, lb.Addr())
	bOut := w.connect(w.b, la.Addr())
	w.settle()
	aSrv, _ := la.Accept()
	bPending := w.connect(w.b, netip.AddrPortFrom(ipC, 1))
	writeSome(t, aCl, []byte("up"))
	writeSome(t, bSrv, []byte("down"))
	pa, pb := mustPoller(t, w.a), mustPoller(t, w.b)
	pa.Add(aCl.FD(), netio.Read)
	pa.Add(aSrv.FD(), netio.Read)
	pa.Add(queued.FD(), netio.Read)
	pb.Add(bSrv.FD(), netio.Read|netio.Write)
	pb.Wake()
	if len(wait(t, pa)) != 0 || !pb.HasReady() {
		t.Fatalf("setup")
	}
	oldPort := bOut.LocalAddr().Port()
	w.b.Crash()
	w.b.Crash() // No-op.
	if !w.b.Crashed() {
		t.Fatalf("not crashed")
	}
	// Peers see ECONNRESET at once, on reads, writes and their poller.
	if evs := wait(t, pa); len(evs) != 3 {
		t.Fatalf("peers' poller: %v", evs)
	}
	for _, s := range []*Socket{aCl, queued, aSrv.(*Socket)} {
		if _, err := s.Read(make([]byte, 4)); !errors.Is(err, netio.ErrReset) {
			t.Fatalf("peer read: %v", err)
		}
		if _, err := s.Writev([][]byte{{1}}); !errors.Is(err, netio.ErrReset) {
			t.Fatalf("peer write: %v", err)
		}
	}
	// The host's descriptors are closed and its poller reports nothing.
	for _, s := range []*Socket{bSrv, bOut, bPending} {
		if s.FD() != -1 {
			t.Fatalf("socket fd %d after crash", s.FD())
		}
		if _, err := s.Read(make([]byte, 1)); !errors.Is(err, netio.ErrBadFD) {
			t.Fatalf("crashed host's read: %v", err)
		}
	}
	if lb.FD() != -1 || pb.HasReady() || len(wait(t, pb)) != 0 {
		t.Fatalf("listener fd %d, poller ready %v", lb.FD(), pb.HasReady())
	}
	for _, err := range []error{
		func() error { _, err := w.b.Connect(la.Addr()); return err }(),
		func() error { _, err := w.b.Listen(lb.Addr(), 0); return err }(),
		func() error { _, err := w.b.NewPoller(); return err }(),
	} {
		if !errors.Is(err, netio.ErrUnreachable) {
			t.Fatalf("crashed host: %v", err)
		}
	}
	w.settle()
	if w.net.Stats().BytesDelivered != 0 || len(w.net.Conns()) != 0 {
		t.Fatalf("in-flight bytes delivered or connections live: %v", w.net.Conns())
	}
	st := w.net.Stats()
	if st.Crashes != 1 || st.Resets != 3 {
		t.Fatalf("stats %+v", st)
	}
	// Connects to the crashed host are refused.
	toDead := w.connect(w.a, lb.Addr())
	w.settle()
	if !errors.Is(toDead.ConnectError(), netio.ErrRefused) {
		t.Fatalf("connect to a crashed host: %v", toDead.ConnectError())
	}
	// Restart: same IP, fresh descriptors, ports after the old ones.
	pending := w.connect(c, lb.Addr()) // Decided after the restart.
	w.net.RemoveHost(ipB)
	if w.net.Host(ipB) != nil {
		t.Fatalf("host still there")
	}
	b2 := w.net.AddHost("b2", ipB)
	l2 := w.listen(b2, testPort, 0)
	if l2.FD() != firstFD {
		t.Fatalf("restarted host's first fd %d", l2.FD())
	}
	out2 := w.connect(b2, la.Addr())
	if p := out2.LocalAddr().Port(); p <= oldPort {
		t.Fatalf("restarted host reused port %d (old %d)", p, oldPort)
	}
	w.settle()
	if out2.ConnectError() != nil || pending.ConnectError() != nil {
		t.Fatalf("connects after restart: %v, %v", out2.ConnectError(), pending.ConnectError())
	}
	s, err := l2.Accept()
	if err != nil || s.(*Socket).Conn() != pending.Conn() {
		t.Fatalf("accept on the restarted host: %v", err)
	}
	if got := w.transfer(pending, s.(*Socket), []byte("hi")); string(got) != "hi" {
		t.Fatalf("after restart: %q", got)
	}
	// RemoveHost of an unknown address panics; of a live host crashes it first.
	w.net.RemoveHost(ipC)
	if !c.Crashed() {
		t.Fatalf("RemoveHost did not crash the host")
	}
	defer func() {
		if recover() == nil {
			t.Fatalf("RemoveHost of an unknown host did not panic")
		}
	}()
	w.net.RemoveHost(ipC)
}

// TestUnplug: an unplugged host's peers learn nothing. A's connection to B stays open: A
// writes and nothing fails, B's socket (which nothing reads any more) still gets the bytes, no
// reset is counted; a new host at B's address takes new connects, on ports after the old
// host's, and A's old connection lives on beside the new one.
func TestUnplug(t *testing.T) {
	w := newWorld(t, 52, Config{Latency: time.Millisecond})
	la := w.listen(w.a, testPort, 0)
	cl, srv := w.pair() // A's client to B's listener
	bOut := w.connect(w.b, la.Addr())
	w.settle()
	aSrv, err := la.Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	oldPort := bOut.LocalAddr().Port()
	w.net.Unplug(ipB)
	if w.net.Host(ipB) != nil || w.b.Crashed() {
		t.Fatalf("host still there, or crashed")
	}
	if got := w.transfer(cl, srv, []byte("after")); string(got) != "after" {
		t.Fatalf("A's write after the unplug reached %q", got)
	}
	writeAll(t, aSrv.(*Socket), []byte("more"))
	w.settle()
	if _, err := readAvailable(t, cl); !errors.Is(err, netio.ErrWouldBlock) {
		t.Fatalf("A's old connection: %v", err)
	}
	if st := w.net.Stats(); st.Resets != 0 || st.Crashes != 0 {
		t.Fatalf("stats %+v", st)
	}
	b2 := w.net.AddHost("b2", ipB)
	l2 := w.listen(b2, testPort, 0)
	cl2 := w.connect(w.a, l2.Addr())
	out2 := w.connect(b2, la.Addr())
	if p := out2.LocalAddr().Port(); p <= oldPort {
		t.Fatalf("the new host reused port %d (old %d)", p, oldPort)
	}
	w.settle()
	s2, err := l2.Accept()
	if err != nil || cl2.ConnectError() != nil || s2.(*Socket).Conn() != cl2.Conn() {
		t.Fatalf("connect to the new host: %v, %v", err, cl2.ConnectError())
	}
	if got := w.transfer(cl, srv, []byte("old")); string(got) != "old" {
		t.Fatalf("old connection after the new host came: %q", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatalf("Unplug of an unknown host did not panic")
		}
	}()
	w.net.Unplug(ipC)
}

// ---- Determinism with faults ----

// faultScript runs a fixed sequence of calls with every fault and returns the trace.
func faultScript(t *testing.T, seed uint64) string {
	w := newWorld(t, seed, Config{SendBuf: 500, RecvBuf: 400, Latency: time.Millisecond,
		LatencySpread: 2 * time.Millisecond, Jitter: time.Millisecond})
	var b strings.Builder
	w.net.SetTracer(func(tr Transfer) { fmt.Fprintf(&b, "%v %v\n", w.net.now(), tr) })
	c := w.net.AddHost("c", ipC)
	w.listen(w.b, testPort, 0)
	w.listen(c, testPort, 0)
	calls := 0
	w.net.SetConnectFault(func(from, to netip.AddrPort) ConnectFault {
		calls++
		return ConnectFault(calls % 4)
	})
	var socks []*Socket
	for i := range 8 {
		h, to := w.a, ipB
		if i%3 == 2 {
			to = ipC
		}
		socks = append(socks, w.connect(h, netip.AddrPortFrom(to, testPort)))
	}
	step := func(k int) {
		for range k {
			if r := w.net.Runnable(); r > 0 {
				w.net.Run(w.rng.IntN(r))
			} else if due, ok := w.net.NextEvent(); ok {
				w.net.Clock().AdvanceTo(due)
			}
			for _, s := range socks {
				s.Writev([][]byte{pattern(w.rng.Range(1, 300), 1)})
				s.Read(make([]byte, 200))
			}
		}
	}
	step(20)
	w.net.Clog(ipA, ipB, w.net.now()+3*time.Millisecond)
	w.net.Corrupt(StreamID{1, ClientToServer}, 50, 2)
	step(20)
	w.net.Partition(ipA, ipC)
	w.net.SetConnectFault(nil)
	step(20)
	w.net.Reset(2, ClientToServer, ResetSend)
	w.net.Heal()
	step(20)
	w.b.Crash()
	step(20)
	fmt.Fprintf(&b, "%+v\n", w.net.Stats())
	return b.String()
}

func TestFaultDeterminism(t *testing.T) {
	a, b, c := faultScript(t, 1), faultScript(t, 1), faultScript(t, 2)
	if a != b {
		t.Fatalf("same seed, different traces")
	}
	if a == c {
		t.Fatalf("different seeds, same trace")
	}
	for _, want := range []string{"hang", "refuse", "RST", "corrupt@"} {
		if !strings.Contains(a, want) {
			t.Fatalf("trace lacks %q:\n%s", want, a)
		}
	}
}

// ---- Allocation ----

// TestFaultHooksAllocateNothing: a Chunker, an Observer, jitter and a clog on another link add
// no allocation to the steady state.
func TestFaultHooksAllocateNothing(t *testing.T) {
	w := newWorld(t, 52, Config{Latency: time.Millisecond, Jitter: 100 * time.Microsecond})
	cl, srv := w.pair()
	w.net.SetChunker(fixedChunker{1000})
	w.net.SetObserver(nopObserver{})
	w.net.Clog(ipC, ipB, time.Hour)
	msg := pattern(10000, 2)
	buf := make([]byte, 64<<10)
	bufs := make([][]byte, 1)
	step := func() {
		sendMessage(t, w.net, cl, srv, msg, buf, bufs)
		if due, ok := w.net.NextEvent(); ok {
			w.net.Clock().AdvanceTo(due)
		}
		pumpAndRead(t, w.net, srv, buf)
	}
	for range 100 {
		step()
	}
	if allocs := testing.AllocsPerRun(500, step); allocs != 0 {
		t.Fatalf("%v allocations per message", allocs)
	}
}

type nopObserver struct{}

func (nopObserver) Written(StreamID, uint64, []byte) {}

// TestSegQueueReady checks the cached due prefix of segQueue against a brute-force count,
// under random pushes (some joining the last segment), time steps and consumption.
func TestSegQueueReady(t *testing.T) {
	rng := detrand.NewSeeded(53)
	for round := range 200 {
		var q segQueue
		type ref struct {
			due time.Duration
			n   int
		}
		var model []ref
		var now, lastDue time.Duration
		for step := range 500 {
			switch rng.IntN(4) {
			case 0, 1:
				due := max(lastDue, now+time.Duration(rng.IntN(5)))
				if rng.IntN(3) == 0 {
					due = lastDue // Joins the last segment, which may be due already.
				}
				lastDue = due
				n := rng.Range(1, 50)
				q.push(due, n)
				model = append(model, ref{due, n})
			case 2:
				now += time.Duration(rng.IntN(3))
			case 3:
				want := 0
				for _, r := range model {
					if r.due <= now {
						want += r.n
					}
				}
				if got := q.ready(now); got != want {
					t.Fatalf("round %d step %d: ready %d, want %d", round, step, got, want)
				}
				if want == 0 {
					continue
				}
				k := rng.Range(1, want)
				q.consume(k)
				for k > 0 {
					m := min(k, model[0].n)
					model[0].n -= m
					k -= m
					if model[0].n == 0 {
						model = model[1:]
					}
				}
				if len(model) > 0 && q.headDue() != model[0].due {
					t.Fatalf("head due %v, want %v", q.headDue(), model[0].due)
				}
			}
		}
	}
}

// TestTamper: bytes rewritten on the path reach the reader as rewritten, the Observer saw
// the originals, and bytes already delivered (or never written) cannot be rewritten.
func TestTamper(t *testing.T) {
	w := newWorld(t, 51, Config{Latency: time.Millisecond})
	cl, srv := w.pair()
	seen := &recordingObserver{t: t, streams: map[StreamID][]byte{}, dlv: map[StreamID]int{}}
	w.net.SetObserver(seen)
	up := StreamID{cl.Conn(), ClientToServer}
	msg := pattern(3000, 7)
	for rest := msg; len(rest) > 0; {
		rest = rest[writeSome(t, cl, rest):] // no settle: nothing is delivered yet
	}
	if _, ok := w.net.Undelivered(up, 2990, 20); ok {
		t.Fatal("Undelivered past what was written")
	}
	orig, ok := w.net.Undelivered(up, 1000, 4)
	if !ok || !bytes.Equal(orig, msg[1000:1004]) {
		t.Fatalf("Undelivered = %x %v, want %x", orig, ok, msg[1000:1004])
	}
	patch := []byte{^msg[1000], ^msg[1001], ^msg[1002], ^msg[1003]}
	if !w.net.Tamper(up, 1000, patch) {
		t.Fatal("Tamper refused undelivered bytes")
	}
	got := w.transfer(cl, srv, nil)
	want := slices.Clone(msg)
	copy(want[1000:], patch)
	if !bytes.Equal(got, want) {
		t.Fatal("the reader did not read the tampered bytes")
	}
	if !bytes.Equal(seen.streams[up], msg) {
		t.Fatal("the observer saw tampered bytes")
	}
	if w.net.Tamper(up, 1000, patch) {
		t.Fatal("Tamper rewrote delivered bytes")
	}
	if st := w.net.Stats(); st.Tampered != 1 {
		t.Fatalf("Stats.Tampered = %d, want 1", st.Tampered)
	}
}
