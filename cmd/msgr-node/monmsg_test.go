package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Messages a real Pacific ceph-mon (mon.a) sent the Go mon.b, cut out of the capture in
// testdata/streams (README there): its own MMonProbe, its probe reply and a PING_REPLY.
func monCapture(t *testing.T, name string) (wire.Header, []byte) {
	t.Helper()
	hb, err := os.ReadFile("testdata/mon/" + name + ".header.bin")
	if err != nil {
		t.Fatal(err)
	}
	h, err := wire.DecodeHeader(hb, true)
	if err != nil {
		t.Fatal(err)
	}
	front, err := os.ReadFile("testdata/mon/" + name + ".front.bin")
	if err != nil {
		t.Fatal(err)
	}
	return h, front
}

// Our MMonProbe is byte for byte what mon.a sends: the front (fsid, op, name, quorum, monmap,
// has_ever_joined, paxos versions, required features, release, leader), the header's type,
// version, compat version and priority.
func TestProbeShapedAsCephMon(t *testing.T) {
	h, front := monCapture(t, "probe")
	p, err := decodeMonProbe(front)
	if err != nil || p.Op != probeOpProbe || p.Name != "a" {
		t.Fatalf("mon.a's probe: %+v, %v", p, err)
	}
	ours := newProbeMessage(p.FSID, "a", 0)
	if !bytes.Equal(ours.Front, front) {
		t.Errorf("our probe front\n% x\nmon.a's\n% x", ours.Front, front)
	}
	o := &ours.Header
	if o.Type != h.Type || o.Version != h.Version || o.CompatVersion != h.CompatVersion || o.Priority != h.Priority {
		t.Errorf("our probe header type %d v%d compat %d prio %d; mon.a's %d v%d compat %d prio %d",
			o.Type, o.Version, o.CompatVersion, o.Priority, h.Type, h.Version, h.CompatVersion, h.Priority)
	}
	// A probe reply carries mon.a's monmap; it decodes and re-encodes to the same bytes.
	_, front = monCapture(t, "probe_reply")
	r, err := decodeMonProbe(front)
	if err != nil || r.Op != probeOpReply || len(r.Monmap) == 0 || !bytes.Equal(r.appendFront(nil), front) {
		t.Errorf("mon.a's probe reply: op %d, monmap %d bytes, %v", r.Op, len(r.Monmap), err)
	}
}

// mon.a's PING_REPLY decodes as our MMonPing, re-encodes to the same bytes, and its
// connection tracker has the layout ours uses (struct_v 1, compat 1, length, rank, epoch,
// version, half_life 12 h, then the reports): mon.a decodes ours.
func TestPingShapedAsCephMon(t *testing.T) {
	h, front := monCapture(t, "ping_reply")
	p, err := decodeMonPing(front)
	if err != nil || p.Op != pingOpReply || !bytes.Equal(p.appendFront(nil), front) {
		t.Fatalf("mon.a's PING_REPLY: %+v, %v", p, err)
	}
	tr := p.Tracker
	if len(tr) < 34 || tr[0] != 1 || tr[1] != 1 || int(binary.LittleEndian.Uint32(tr[2:])) != len(tr)-6 {
		t.Fatalf("mon.a's tracker header % x", tr[:min(len(tr), 6)])
	}
	if rank := int32(binary.LittleEndian.Uint32(tr[6:])); rank != 0 {
		t.Errorf("mon.a's tracker rank %d, want 0", rank)
	}
	if hl := math.Float64frombits(binary.LittleEndian.Uint64(tr[22:])); hl != 12*60*60 {
		t.Errorf("mon.a's tracker half_life %v at the offset ours has it", hl)
	}
	ours := newPingMessage(1, time.Unix(1700000000, 5000))
	mine := connectionTracker(1)
	if !bytes.Equal(mine[:6], []byte{1, 1, byte(len(mine) - 6), 0, 0, 0}) || !bytes.Equal(mine[22:30], tr[22:30]) {
		t.Errorf("our tracker % x does not follow mon.a's layout", mine)
	}
	o := &ours.Header
	if o.Type != h.Type || o.Version != h.Version || o.CompatVersion != h.CompatVersion || o.Priority != h.Priority {
		t.Errorf("our ping header type %d v%d compat %d prio %d; mon.a's %d v%d compat %d prio %d",
			o.Type, o.Version, o.CompatVersion, o.Priority, h.Type, h.Version, h.CompatVersion, h.Priority)
	}
	back, err := decodeMonPing(ours.Front)
	if err != nil || back.Op != pingOpPing || back.Stamp != wire.TimespecOf(time.Unix(1700000000, 5000)) {
		t.Errorf("our ping decodes as %+v, %v", back, err)
	}
}

func TestParseUUID(t *testing.T) {
	u, err := parseUUID("43073090-abd5-4d5b-a8fd-1fe645e6ca8c")
	if err != nil || u[0] != 0x43 || u[15] != 0x8c {
		t.Errorf("parseUUID: % x, %v", u, err)
	}
	for _, bad := range []string{"", "43073090abd54d5ba8fd1fe645e6ca8c", "43073090-abd5-4d5b-a8fd-1fe645e6ca8", "g3073090-abd5-4d5b-a8fd-1fe645e6ca8c"} {
		if _, err := parseUUID(bad); err == nil {
			t.Errorf("parseUUID(%q) accepted", bad)
		}
	}
}
