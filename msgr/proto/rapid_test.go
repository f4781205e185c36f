package proto_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/proto/prototest"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"pgregory.net/rapid"
)

// Actions that cannot apply (no socket to cut, nobody dialling…) do nothing rather than skip:
// a fuzzer's bytes can draw the same action again and again, and rapid gives up on a run
// where every action skips.
//
// A rapid state-machine test of one lossless session between two messengers, A (which
// connects first) and B, against a reference model: the messages each side sent, in order.
// Random actions send messages both ways, move bytes in random chunks (or all of them), cut
// sockets (both ends
// fail, bytes in flight are lost) or fail one end, let dialling connections connect (a new
// acceptor each time, so reconnects go through the real accept path, replace included) or
// fail to, carry out replaces, and advance the clock through backoffs and timeouts.
//
// After every action:
//   - what each side delivered is a prefix of what the other sent, in order, without
//     duplicates;
//   - the sender's unacknowledged messages (sent list, requeued, queued) are exactly the
//     suffix of what it sent that the peer has not acknowledged, and that count only grows and
//     never passes what the peer delivered;
//   - no connection faulted for a reason other than its transport, a timeout or a race (no
//     protocol violation, bad crc, bad tag …), no session that opened was reset, no throttle
//     underflowed.
//
// At the end, with every dial answered and every timer run, everything sent was delivered
// exactly once and acknowledged.

func TestConnLifecycle(t *testing.T) {
	rapid.Check(t, testLifecycle)
}

// FuzzConnLifecycle is TestConnLifecycle as a native fuzz target (go test -fuzz).
func FuzzConnLifecycle(f *testing.F) {
	for _, seed := range [][]byte{
		{},
		{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		[]byte(strings.Repeat("\x05\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00", 32)),
		[]byte(strings.Repeat("msgr1 lifecycle!", 64)),
	} {
		f.Add(seed)
	}
	f.Fuzz(rapid.MakeFuzz(testLifecycle))
}

// side is one messenger of the model.
type side struct {
	Name string
	M    *prototest.Msgr
	sent []uint64 // tids, in send order
	tid  uint64
	// acked is how many of sent the session no longer holds (acknowledged): it only grows.
	acked int
}

type lifecycle struct {
	e      *prototest.World
	sides  [2]*side
	naccep int
	log    []string                // the actions so far (for failure messages)
	resets map[*prototest.Node]int // remote_reset events applied to the model
	lost   int                     // messages lost to remote resets
}

func testLifecycle(t *rapid.T) {
	e := prototest.New()
	e.Quiet = true
	peers := rapid.Bool().Draw(t, "lossless_peer")
	pa, pb := proto.LosslessClient(0), proto.StatefulServer(0)
	if peers {
		pa, pb = proto.LosslessPeer(0), proto.LosslessPeer(0)
	}
	l := &lifecycle{e: e, resets: map[*prototest.Node]int{}}
	l.sides[0] = &side{Name: "A", M: e.NewMsgr(wire.NewName(wire.EntityOSD, 1), prototest.DefaultAddr(1), 10, pa)}
	l.sides[1] = &side{Name: "B", M: e.NewMsgr(wire.NewName(wire.EntityOSD, 2), prototest.DefaultAddr(2), 10, pb)}
	A, B := l.sides[0].M, l.sides[1].M
	e.NewConnector("a", A, B, B.Addr)
	if peers && rapid.Bool().Draw(t, "both dial") {
		e.NewConnector("b", B, A, A.Addr)
	}
	actions := map[string]func(*rapid.T){
		"send A":          func(t *rapid.T) { l.send(t, 0) },
		"send B":          func(t *rapid.T) { l.send(t, 1) },
		"flush":           l.flush,
		"deliver":         l.deliver,
		"cut":             l.cut,
		"transport error": l.transportError,
		"connect":         l.connect,
		"replace":         func(t *rapid.T) { l.did("replace"); l.e.CarryOutAll() },
		"tick":            l.tick,
		"pump":            l.pump,
		"":                l.check,
	}
	for range 3 { // about 90 actions: several reconnects per case
		t.Repeat(actions)
	}
	l.finish(t)
}

func (l *lifecycle) did(format string, args ...any) {
	l.log = append(l.log, fmt.Sprintf("@%v ", l.e.Now)+fmt.Sprintf(format, args...))
}

func (l *lifecycle) fatalf(t *rapid.T, format string, args ...any) {
	var b strings.Builder
	fmt.Fprintf(&b, format, args...)
	b.WriteString("\nactions:\n\t" + strings.Join(l.log, "\n\t"))
	b.WriteString("\nconnections:")
	for _, n := range l.e.Nodes {
		b.WriteString("\n\t" + n.StateLine() + "\n\t\t" + n.SeqsLine())
	}
	b.WriteString("\nfaults:")
	for _, f := range l.e.Faults {
		fmt.Fprintf(&b, "\n\t%s in %v: %v", f.Node.Name, f.State, f.Err)
	}
	t.Fatal(b.String())
}

// holder is the connection holding a side's session (its registry entry).
func (s *side) holder() *prototest.Node { return s.M.Registry }

func (l *lifecycle) send(t *rapid.T, i int) {
	s := l.sides[i]
	n := s.holder()
	if n == nil || n.C == nil || n.C.State() == proto.StateClosed {
		l.did("no session: nothing to do")
		return
	}
	size := rapid.SampledFrom([]int{0, 1, 9, 300, 5000}).Draw(t, "size")
	s.tid++
	m := wire.NewMessage(wire.MsgPing, make([]byte, size))
	m.Header.Tid, m.Header.Priority = s.tid, wire.PrioDefault
	if !n.C.Send(m) {
		l.fatalf(t, "%s: Send on %s (%v) refused", s.Name, n.Name, n.C.State())
	}
	s.sent = append(s.sent, s.tid)
	l.did("send %s tid=%d size=%d on %s", s.Name, s.tid, size, n.Name)
	l.e.Drain()
}

// live lists the nodes for which ok holds, in creation order.
func (l *lifecycle) live(ok func(n *prototest.Node) bool) []*prototest.Node {
	var ns []*prototest.Node
	for _, n := range l.e.Nodes {
		if n.C != nil && ok(n) {
			ns = append(ns, n)
		}
	}
	return ns
}

func (l *lifecycle) flush(t *rapid.T) {
	ns := l.live(func(n *prototest.Node) bool { return n.Sock != nil && n.C.HasOutput() })
	if len(ns) == 0 {
		l.did("nothing to write: nothing to do")
		return
	}
	n := rapid.SampledFrom(ns).Draw(t, "writer")
	chunk := rapid.IntRange(1, 600).Draw(t, "chunk")
	limit := rapid.IntRange(1, 8000).Draw(t, "limit")
	k := l.e.Write(n, chunk, limit)
	l.did("flush %s chunk=%d limit=%d: %d bytes", n.Name, chunk, limit, k)
}

func (l *lifecycle) deliver(t *rapid.T) {
	ns := l.live(func(n *prototest.Node) bool {
		s := n.Sock
		return s != nil && (len(s.Flight[1-n.Side]) > 0 || (!s.Open[1-n.Side] && !s.EOF[n.Side]))
	})
	if len(ns) == 0 {
		l.did("nothing to read: nothing to do")
		return
	}
	n := rapid.SampledFrom(ns).Draw(t, "reader")
	chunk := rapid.IntRange(1, 600).Draw(t, "chunk")
	limit := rapid.IntRange(1, 8000).Draw(t, "limit")
	k, eof := l.e.Read(n, chunk, limit)
	l.did("deliver %s chunk=%d limit=%d: %d bytes eof=%v", n.Name, chunk, limit, k, eof)
}

// pump moves bytes until nothing moves (replaces included).
func (l *lifecycle) pump(t *rapid.T) {
	l.did("pump")
	if err := l.e.Stabilize(); err != nil {
		l.fatalf(t, "%v", err)
	}
}

func (l *lifecycle) sockets() []*prototest.Socket {
	var ss []*prototest.Socket
	for _, n := range l.e.Nodes {
		if n.Sock != nil && !slices.Contains(ss, n.Sock) {
			ss = append(ss, n.Sock)
		}
	}
	return ss
}

func (l *lifecycle) cut(t *rapid.T) {
	ss := l.sockets()
	if len(ss) == 0 {
		l.did("no socket: nothing to do")
		return
	}
	s := rapid.SampledFrom(ss).Draw(t, "socket")
	l.did("cut %v", s)
	l.e.Cut(s)
}

func (l *lifecycle) transportError(t *rapid.T) {
	ns := l.live(func(n *prototest.Node) bool { return n.Sock != nil })
	if len(ns) == 0 {
		l.did("no socket: nothing to do")
		return
	}
	n := rapid.SampledFrom(ns).Draw(t, "node")
	l.did("transport error %s", n.Name)
	l.e.CloseEnd(n)
	n.C.TransportError(prototest.ErrCut)
	l.e.Drain()
}

func (l *lifecycle) connect(t *rapid.T) {
	ns := l.live(func(n *prototest.Node) bool { return n.Dialing })
	if len(ns) == 0 {
		l.did("nobody dialling: nothing to do")
		return
	}
	n := rapid.SampledFrom(ns).Draw(t, "dialer")
	if rapid.IntRange(0, 4).Draw(t, "refused") == 0 {
		l.did("connect %s: refused", n.Name)
		n.Dialing = false
		n.C.ConnectFailed(errors.New("connection refused"), true)
		l.e.Drain()
		return
	}
	l.dial(n)
}

func (l *lifecycle) dial(n *prototest.Node) {
	l.naccep++
	acc := l.e.NewAcceptor(fmt.Sprintf("acc%d", l.naccep), n.Target)
	l.did("connect %s to %s", n.Name, acc.Name)
	l.e.Connect(n, acc)
}

func (l *lifecycle) tick(t *rapid.T) {
	d := rapid.SampledFrom([]time.Duration{time.Millisecond, 200 * time.Millisecond, time.Second,
		time.Second, proto.DefaultReadyTimeout, proto.DefaultMaxBackoff, proto.DefaultIdleTimeout}).Draw(t, "advance")
	l.did("tick %v", d)
	if err := l.e.Advance(d); err != nil {
		l.fatalf(t, "%v", err)
	}
}

// unacked lists the tids a connection still holds for sending: sent list, requeued, queued.
func unacked(c *proto.Conn) []uint64 { return tidsOf(c.Pending()) }

func tidsOf(ms []*wire.Message) []uint64 {
	tids := make([]uint64, len(ms))
	for i, m := range ms {
		tids[i] = m.Header.Tid
	}
	return tids
}

func (l *lifecycle) check(t *rapid.T) {
	e := l.e
	for _, p := range e.Problems {
		l.fatalf(t, "environment: %s", p)
	}
	for _, f := range e.Faults {
		if !expectedFault(f.Err) {
			l.fatalf(t, "%s faulted in %v for a reason other than transport, timeout or race: %v", f.Node.Name, f.State, f.Err)
		}
	}
	for _, n := range e.Nodes {
		// A half-open accepted socket that faults is dropped with a reset event; a session
		// that opened is never stopped.
		if n.C.Inspect().OnceReady && slices.Contains(n.Events, proto.EventReset) {
			l.fatalf(t, "%s: session stopped (events %v): a lossless session must survive faults", n.Name, n.Events)
		}
		l.remoteResets(t, n)
	}
	for i, s := range l.sides {
		peer := l.sides[1-i]
		got := tidsOf(peer.M.Delivered)
		if len(got) > len(s.sent) || !slices.Equal(got, s.sent[:len(got)]) {
			l.fatalf(t, "%s delivered %v, not a prefix of what %s sent %v", peer.Name, got, s.Name, s.sent)
		}
		n := s.holder()
		if n == nil || n.C == nil {
			if len(s.sent) > 0 {
				l.fatalf(t, "%s sent messages without a session", s.Name)
			}
			continue
		}
		held := unacked(n.C)
		k := len(s.sent) - len(held)
		if k < 0 || !slices.Equal(held, s.sent[k:]) {
			l.fatalf(t, "%s (%s) holds %v for sending; sent %v: not an unacknowledged suffix", s.Name, n.Name, held, s.sent)
		}
		if k < s.acked {
			l.fatalf(t, "%s: %d messages acknowledged, %d before: acknowledgements went back", s.Name, k, s.acked)
		}
		if k > len(got) {
			l.fatalf(t, "%s: %d messages acknowledged but %s delivered only %d", s.Name, k, peer.Name, len(got))
		}
		s.acked = k
	}
}

// remoteResets applies the remote_reset events of n to the model. A lossless session can be
// reset by the protocol (a connect_seq 0 against a session the connector never saw open is a
// "peer restart", §3.2 rule 8e); its sender then discards what it had not had acknowledged,
// and tells its dispatchers with remote_reset. Those messages are lost, legitimately: they
// leave the model, and they must not have been delivered (beyond what the peer delivered
// before the reset) — nor be delivered later.
func (l *lifecycle) remoteResets(t *rapid.T, n *prototest.Node) {
	k := 0
	for _, ev := range n.Events {
		if ev == proto.EventRemoteReset {
			k++
		}
	}
	for ; l.resets[n] < k; l.resets[n]++ {
		i := slices.IndexFunc(l.sides[:], func(s *side) bool { return s.M == n.M })
		s, peer := l.sides[i], l.sides[1-i]
		got := len(peer.M.Delivered)
		if got < s.acked || got > len(s.sent) {
			l.fatalf(t, "%s reset: %d delivered by %s, %d acknowledged of %d sent", n.Name, got, peer.Name, s.acked, len(s.sent))
		}
		l.did("%s: remote_reset: %d messages of %s lost", n.Name, len(s.sent)-got, s.Name)
		l.lost += len(s.sent) - got
		s.sent = s.sent[:got]
		s.acked = got
	}
}

// expectedFault: a lossless session may fault because its transport failed, a timer expired
// or it lost a connection race; anything else is a bug here (no corrupt input is injected).
func expectedFault(err error) bool {
	return errors.Is(err, proto.ErrTransport) || errors.Is(err, proto.ErrTimeout) ||
		(errors.Is(err, proto.ErrRejected) && strings.Contains(err.Error(), "WAIT"))
}

// done: everything sent both ways was delivered and acknowledged, nothing is in flight.
func (l *lifecycle) done() bool {
	for i, s := range l.sides {
		if len(l.sides[1-i].M.Delivered) != len(s.sent) {
			return false
		}
		if n := s.holder(); n != nil && n.C != nil && n.C.Queued() > 0 {
			return false
		}
	}
	for _, s := range l.sockets() {
		if len(s.Flight[0])+len(s.Flight[1]) > 0 {
			return false
		}
	}
	return true
}

// finish lets the session settle: every dial succeeds, replaces are carried out, bytes move,
// and the clock advances to the next timer while work remains.
func (l *lifecycle) finish(t *rapid.T) {
	l.did("finish")
	for range 200 {
		for _, n := range l.live(func(n *prototest.Node) bool { return n.Dialing }) {
			l.dial(n)
		}
		if err := l.e.Stabilize(); err != nil {
			l.fatalf(t, "%v", err)
		}
		l.check(t)
		if l.done() && len(l.live(func(n *prototest.Node) bool { return n.Dialing })) == 0 {
			for i, s := range l.sides {
				if got := tidsOf(l.sides[1-i].M.Delivered); !slices.Equal(got, s.sent) {
					l.fatalf(t, "%s delivered %v, %s sent %v", l.sides[1-i].Name, got, s.Name, s.sent)
				}
			}
			return
		}
		if _, at := l.e.NextDue(l.e.Now + proto.DefaultIdleTimeout); at > 0 {
			if err := l.e.Advance(at - l.e.Now); err != nil {
				l.fatalf(t, "%v", err)
			}
		} else if len(l.live(func(n *prototest.Node) bool { return n.Dialing })) == 0 {
			l.fatalf(t, "stuck: work remains, no timer, nobody dialling")
		}
	}
	l.fatalf(t, "the session did not settle")
}
