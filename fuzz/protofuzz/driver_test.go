package protofuzz

import (
	"errors"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// streamsDir holds the real Ceph streams the seeds are made of.
const streamsDir = "../../msgr/wire/testdata/streams"

func seeds(t *testing.T, acceptor bool) [][]byte {
	t.Helper()
	s, err := Seeds(acceptor, streamsDir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The harness reaches deep: the real client's stream opens a session on the acceptor and its
// messages are delivered; the real monitor's stream does the same on the connector.
func TestHarnessFollowsCapturedStreams(t *testing.T) {
	for _, acceptor := range []bool{true, false} {
		captures, err := captureSeeds(acceptor, streamsDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range captures {
			d := newDriver(c.input, acceptor, nil)
			for d.step() {
				d.writeAll()
			}
			opened, delivered := d.w.States.Has(proto.StateOpened), len(d.n.Delivered)
			if len(d.w.Problems) > 0 || !opened || (delivered == 0) == c.messages {
				t.Errorf("acceptor=%v %s: problems %v, opened %v, delivered %d (state %v)", acceptor, c.name,
					d.w.Problems, opened, delivered, d.c.State())
			}
			if err := d.finish(); err != nil {
				t.Errorf("acceptor=%v %s: %v", acceptor, c.name, err)
			}
		}
	}
}

// The seeds together reach every state of both sides' handshakes, the open states and the
// throttles.
func TestSeedsReachStates(t *testing.T) {
	var reached uint64
	for _, acceptor := range []bool{true, false} {
		for _, in := range seeds(t, acceptor) {
			if err := checkConn(in, acceptor); err != nil {
				t.Fatalf("seed % x: %v", in[:min(len(in), 32)], err)
			}
			d := newDriver(in, acceptor, nil)
			for d.step() {
				d.writeAll()
			}
			reached |= uint64(d.w.States)
		}
	}
	for _, s := range proto.AllStates() {
		if s != proto.StateNone && reached&(1<<s) == 0 {
			t.Errorf("no seed reaches %v", s)
		}
	}
}

// The properties catch what they are meant to catch: each case breaks one thing in an open
// session (an OSD acceptor that received a message, its output not yet written) and expects
// the driver's checks to say so. What the connection holds is read through proto.Conn.Inspect,
// whose fidelity proto's own tests check (TestInspectReportsWhatTheConnHolds); the cases
// that cannot break a real connection from outside change what the checks see (tamper).
func TestChecksHaveTeeth(t *testing.T) {
	bad := wire.NewMessage(wire.MsgPing, nil)
	cases := []struct {
		name    string
		tweak   func(*proto.Config) // the connection's configuration, before it starts
		breakIt func(d *driver)
		want    string
	}{
		{"unclassified fault", nil, func(d *driver) { d.n.Faulted(proto.StateOpened, errors.New("boom")) }, "unclassified"},
		{"fault without a reason", nil, func(d *driver) { d.n.Faulted(proto.StateOpened, nil) }, "without a reason"},
		{"leaving CLOSED", nil, func(d *driver) { d.n.StateChanged(proto.StateClosed, proto.StateOpened) }, "left CLOSED"},
		{"unknown state", nil, func(d *driver) { d.n.StateChanged(proto.StateOpened, numStates) }, "unknown state"},
		{"no timer", nil, func(d *driver) { d.tamper = func(v view) view { v.armed = false; return v } }, "stalled"},
		{"old seq delivered", nil, func(d *driver) { d.n.Deliver(bad, &proto.Reservation{}) }, "delivered seq 0"},
		{"delivered on a closed session", nil, func(d *driver) {
			d.c.Stop()
			m := *bad
			m.Header.Seq = 2
			d.n.Deliver(&m, &proto.Reservation{})
		}, "delivered seq 2 in state CLOSED"},
		{"sections not as announced", nil, func(d *driver) {
			m := *bad
			m.Header.Seq, m.Front, d.watch.lastSeq = 1, []byte("x"), 0
			d.n.Deliver(&m, &proto.Reservation{})
		}, "delivered sections 1+0+0"},
		{"unverified message delivered", nil, func(d *driver) {
			m := *bad
			m.Header.Seq, d.watch.lastSeq = 1, 0 // in_seq is 1
			d.n.Deliver(&m, &proto.Reservation{})
		}, "does not verify"},
		{"message over the limits delivered", nil, func(d *driver) {
			m := *bad
			m.Header.Seq, m.Header.DataLen, d.watch.lastSeq = 1, 300<<10, 0
			m.Data = make([]byte, 300<<10)
			d.n.Deliver(&m, &proto.Reservation{})
		}, "over the limits"},
		{"huge read", nil, func(d *driver) { d.tamper = func(v view) view { v.ins.ReadWant = 1 << 20; return v } }, "reading 1048576 bytes"},
		{"prefetch buffer grown", nil, func(d *driver) { d.tamper = func(v view) view { v.ins.PrefetchLen *= 2; return v } },
			"prefetch buffer of 8192 bytes"},
		{"huge authorizer held", nil, func(d *driver) { d.tamper = func(v view) view { v.ins.AuthorizerLen = 5000; return v } },
			"authorizer of 5000 bytes"},
		{"receiving over the limits", nil, func(d *driver) {
			d.tamper = func(v view) view { v.ins.Receiving, v.ins.ReceivingHeader.FrontLen = true, 1<<30; return v }
		}, "receiving a message over the limits"},
		{"output without a socket", nil, func(d *driver) { d.n.Sock = nil }, "output pending"},
		{"non-server standby holding messages", nil, func(d *driver) {
			d.tamper = func(v view) view { v.state, v.server, v.ins.Queued = proto.StateStandby, false, 1; return v }
		}, "a non-server STANDBY holds 1 messages"},
		{"throttle underflow", nil, func(d *driver) { d.m.Th[0].Put(1) }, "below zero"},
		{"throttle leak", nil, func(d *driver) { d.m.Th[1].Cur = 7 }, "still holds 7"},
		{"CLOSED holding messages", nil, func(d *driver) {
			d.c.Stop()
			d.tamper = func(v view) view { v.ins.Sent = 1; return v }
		}, "CLOSED holds 1"},
		{"never times out", func(cfg *proto.Config) { cfg.IdleTimeout = 1 << 60 }, func(*driver) {}, "still in OPENED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(Input(5, 0x22, nil, nil), true, tc.tweak)
			for d.step() {
			}
			if err := d.check(); err != nil || d.c.State() != proto.StateOpened || len(d.n.Delivered) != 1 {
				t.Fatalf("before: %v in %v, %d delivered", err, d.c.State(), len(d.n.Delivered))
			}
			tc.breakIt(d)
			err := d.check()
			if err == nil {
				err = d.finish()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// An input over MaxConnInput is out of scope, not a failure.
func TestLongInputsAreSkipped(t *testing.T) {
	for _, check := range []func([]byte) error{CheckAcceptor, CheckConnector} {
		if err := check(make([]byte, MaxConnInput+1)); err == nil || !strings.Contains(err.Error(), "out of scope") {
			t.Errorf("an oversized input: %v", err)
		}
	}
}
