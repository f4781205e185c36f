package proto_test

import (
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/proto/prototest"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// recordHost is the batch benchmark's receiving host (only the dispatch throttle, no state
// watcher: the sessions that receive a buffered message in handleHeader) that also writes down what a test compares:
// every delivery (header, footer, sections, throttle units) and every fault (state, error).
type recordHost struct {
	dispatchOnlyHost
	log []string
}

func (h *recordHost) Deliver(m *wire.Message, r *proto.Reservation) {
	h.log = append(h.log, fmt.Sprintf("deliver %+v %+v front %q middle %q data %d/%#08x units %d/%d/%d",
		m.Header, m.Footer, m.Front, m.Middle, len(m.Data), crc32.ChecksumIEEE(m.Data),
		r.Messages, r.Bytes, r.Dispatch))
	h.dispatchOnlyHost.Deliver(m, r)
}

func (h *recordHost) Faulted(s proto.State, err error) {
	h.log = append(h.log, fmt.Sprintf("fault in %v: %v", s, err))
	h.dispatchOnlyHost.Faulted(s, err)
}

// newRecordPipe is newBatchPipe (with the given crcs) whose acceptor's host is a recordHost.
// Two of them open identical sessions: a stream written by one's connector is valid input for
// the other's acceptor.
func newRecordPipe(t testing.TB, crcHeader, crcData bool) (*pipe, *recordHost) {
	t.Helper()
	pol := proto.LosslessPeer(0)
	w, ma, mb := newLinkWorld(pol, pol)
	for _, m := range []*prototest.Msgr{ma, mb} {
		m.Cfg.PrefetchSize, m.Cfg.CRCHeader, m.Cfg.CRCData = 64<<10, crcHeader, crcData
	}
	var rh *recordHost
	p := openPipe(t, w, pol, ma, mb, func(h prodHost) proto.Host {
		rh = &recordHost{dispatchOnlyHost: dispatchOnlyHost{h}}
		return rh
	})
	rh.log = nil
	return p, rh
}

// wholeTestMessages are messages of every shape: data-only ones that lie whole in a 64 KiB
// prefetch buffer (handleHeader's whole-message case) and straddle its end as the stream goes on, empty
// ones, ones with a front or middle section, and one larger than the buffer.
func wholeTestMessages() []*wire.Message {
	var ms []*wire.Message
	add := func(front, middle string, data int) {
		m := wire.NewMessage(wire.MsgOSDOp, nil)
		if front != "" {
			m.Front = []byte(front)
		}
		if middle != "" {
			m.Middle = []byte(middle)
		}
		if data > 0 {
			m.Data = make([]byte, data)
			for i := range m.Data {
				m.Data[i] = byte(i*7 + len(ms))
			}
		}
		ms = append(ms, m)
	}
	add("", "", 0)
	add("", "", 1)
	add("front", "", 100)
	add("", "middle", 4096)
	add("front", "middle", 0)
	add("", "", 70000)
	for i := range 40 {
		add("", "", 4096+i*13)
	}
	add("", "", 0)
	add("f", "m", 5)
	add("", "", 4096)
	return ms
}

// writeStream sends ms on p's connector and returns the bytes it writes.
func writeStream(p *pipe, ms []*wire.Message) []byte {
	for _, m := range ms {
		p.a.Send(m)
	}
	var stream []byte
	for iov := p.a.Output(); len(iov) > 0; iov = p.a.Output() {
		n := 0
		for _, s := range iov {
			stream = append(stream, s...)
			n += len(s)
		}
		p.a.Wrote(n)
	}
	return stream
}

// TestWholeMessageMatchesPieces feeds the same byte stream to two identical acceptors, whole
// (as much per read as the prefetch buffer takes: most data-only messages lie whole in it and
// are received whole in handleHeader) and one byte per read (every message in pieces: the general path), and
// requires the same deliveries, throttle units, faults and states. The streams
// end clean, with a data byte flipped (a data crc error), with the footer's flags cleared
// (an incomplete message), and repeated (a seq going backwards on the socket), each with the
// crcs on and off.
func TestWholeMessageMatchesPieces(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(stream []byte, last int) []byte // last: where the last message starts
	}{
		{"clean", func(s []byte, _ int) []byte { return s }},
		{"bad data", func(s []byte, _ int) []byte { s[len(s)-wire.FooterSize(true)-1] ^= 0x40; return s }},
		{"incomplete", func(s []byte, _ int) []byte { s[len(s)-1] = 0; return s }},
		{"seq regression", func(s []byte, _ int) []byte { return append(s, s...) }},
		{"bad header", func(s []byte, last int) []byte { s[last+1+2] ^= 1; return s }},
	}
	for _, crcs := range []bool{true, false} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/crc=%v", tc.name, crcs), func(t *testing.T) {
				sender, _ := newRecordPipe(t, crcs, crcs)
				ms := wholeTestMessages()
				stream := writeStream(sender, ms[:len(ms)-1])
				last := len(stream)
				stream = append(stream, writeStream(sender, ms[len(ms)-1:])...)
				stream = tc.tamper(stream, last)
				log, wholeTaken, piecesTaken := feedWholeAndPieces(t, crcs, stream)
				// After a fault the reads differ (the whole feed's last read took bytes past
				// the faulty message): the bytes taken are compared on clean streams.
				if tc.name == "clean" && (len(log) != len(ms) || wholeTaken != len(stream) ||
					piecesTaken != len(stream)) {
					t.Errorf("clean stream: %d events for %d messages, %d and %d of %d bytes taken",
						len(log), len(ms), wholeTaken, piecesTaken, len(stream))
				}
				// Without crcs, a flipped data or header byte is delivered (the same way).
				if tc.name != "clean" && (crcs || tc.name == "incomplete" || tc.name == "seq regression") &&
					log[len(log)-1][:5] != "fault" {
					t.Errorf("%s: the last event is no fault: %s", tc.name, log[len(log)-1])
				}
			})
		}
	}
}

// feedWholeAndPieces feeds stream to the acceptors of two identical sessions (with or
// without crcs), whole and a byte per read, fails t unless they log the same events and end
// in the same state, and returns the events and the bytes each took.
func feedWholeAndPieces(t *testing.T, crcs bool, stream []byte) (log []string, wholeTaken, piecesTaken int) {
	t.Helper()
	whole, wholeLog := newRecordPipe(t, crcs, crcs)
	pieces, piecesLog := newRecordPipe(t, crcs, crcs)
	for wholeTaken < len(stream) {
		n := whole.b.Feed(stream[wholeTaken:])
		if n == 0 {
			break
		}
		wholeTaken += n
	}
	for piecesTaken < len(stream) && pieces.b.Feed(stream[piecesTaken:piecesTaken+1]) == 1 {
		piecesTaken++
	}
	if len(wholeLog.log) != len(piecesLog.log) {
		t.Errorf("whole: %d events, in pieces: %d", len(wholeLog.log), len(piecesLog.log))
	}
	for i := range min(len(wholeLog.log), len(piecesLog.log)) {
		if wholeLog.log[i] != piecesLog.log[i] {
			t.Fatalf("event %d differs:\nwhole:     %s\nin pieces: %s", i, wholeLog.log[i], piecesLog.log[i])
		}
	}
	if ws, ps := whole.b.State(), pieces.b.State(); ws != ps {
		t.Errorf("state: whole %v, in pieces %v", ws, ps)
	}
	return wholeLog.log, wholeTaken, piecesTaken
}

// FuzzWholeMatchesPieces is TestWholeMessageMatchesPieces on any stream after the handshake:
// its first byte turns the crcs off (odd) or on, the rest is what the acceptor reads once the
// session is open. The seeds are parts of the test's clean stream, with and without crcs.
func FuzzWholeMatchesPieces(f *testing.F) {
	for _, crcs := range []bool{true, false} {
		sender, _ := newRecordPipe(f, crcs, crcs)
		flag := byte(0)
		if !crcs {
			flag = 1
		}
		ms := wholeTestMessages()
		f.Add(append([]byte{flag}, writeStream(sender, append(ms[:5:5], ms[len(ms)-3:]...))...))
		sender, _ = newRecordPipe(f, crcs, crcs)
		f.Add(append([]byte{flag}, writeStream(sender, ms[6:9])...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 || len(data) > 32<<10 { // a byte per read: kept short
			return
		}
		feedWholeAndPieces(t, data[0]&1 == 0, data[1:])
	})
}

// unitsHost is a production host (no state watcher) that writes down the throttle units
// each delivered message holds.
type unitsHost struct {
	proto.Host
	proto.Buffers
	units [][3]int64
}

func (h *unitsHost) Deliver(m *wire.Message, r *proto.Reservation) {
	h.units = append(h.units, [3]int64{r.Messages, r.Bytes, r.Dispatch})
	h.Host.Deliver(m, r)
}

// TestPolicyThrottlesTakenWithoutWatcher: a session without a state watcher takes handleHeader's
// short way only when the dispatch throttle is its only one (dispatchOnly, set with the
// throttles); with policy throttles every message still takes a unit of the message throttle
// and its bytes from the byte and dispatch throttles.
func TestPolicyThrottlesTakenWithoutWatcher(t *testing.T) {
	for _, dispatchOnly := range []bool{false, true} {
		pol := proto.LosslessPeer(0)
		w, ma, mb := newLinkWorld(pol, pol)
		var uh *unitsHost
		p := openPipe(t, w, pol, ma, mb, func(h prodHost) proto.Host {
			uh = &unitsHost{Host: h, Buffers: h}
			if dispatchOnly {
				uh.Host = dispatchOnlyHost{h}
			}
			return uh
		})
		uh.units = nil
		p.sendOne(wire.NewMessage(wire.MsgOSDOp, make([]byte, 100)))
		want := [3]int64{1, 100, 100}
		if dispatchOnly {
			want = [3]int64{0, 0, 100}
		}
		if len(uh.units) != 1 || uh.units[0] != want {
			t.Errorf("dispatch only %v: delivered with units %v, want [%v]", dispatchOnly, uh.units, want)
		}
	}
}
