package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Monitor-to-monitor messages, shaped as Ceph Pacific's ceph-mon sends them (checked against the
// bytes a real mon.a sent to the Go mon.b): header type, version, compat version and
// priority, and the front layout.
const (
	msgMonProbe uint16 = 67  // MSG_MON_PROBE
	msgMonPing  uint16 = 140 // MSG_MON_PING

	monProbeVersion = 8 // MMonProbe HEAD_VERSION in Pacific (leader added in 8)
	monProbeCompat  = 5
	monPingVersion  = 1
	monPingCompat   = 1

	probeOpProbe = 1 // MMonProbe::OP_PROBE
	probeOpReply = 2 // MMonProbe::OP_REPLY

	pingOpPing  = 1 // MMonPing::PING
	pingOpReply = 2 // MMonPing::PING_REPLY

	releasePacific = 16 // ceph_release_t::pacific
)

var errShortFront = errors.New("front too short")

// monProbe is MMonProbe's front: fsid, op, name, quorum, monmap, has_ever_joined, paxos
// versions, required features, release and leader.
type monProbe struct {
	FSID             [16]byte
	Op               int32
	Name             string
	Quorum           []int32
	Monmap           []byte
	HasEverJoined    bool
	PaxosFirst       uint64
	PaxosLast        uint64
	RequiredFeatures uint64
	Release          uint8
	Leader           int32
}

func (p *monProbe) appendFront(b []byte) []byte {
	b = append(b, p.FSID[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(p.Op))
	b = wire.AppendCephString(b, p.Name)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(p.Quorum)))
	for _, r := range p.Quorum {
		b = binary.LittleEndian.AppendUint32(b, uint32(r))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(p.Monmap)))
	b = append(b, p.Monmap...)
	b = append(b, boolByte(p.HasEverJoined))
	b = binary.LittleEndian.AppendUint64(b, p.PaxosFirst)
	b = binary.LittleEndian.AppendUint64(b, p.PaxosLast)
	b = binary.LittleEndian.AppendUint64(b, p.RequiredFeatures)
	b = append(b, p.Release)
	return binary.LittleEndian.AppendUint32(b, uint32(p.Leader))
}

// decodeMonProbe decodes an MMonProbe front of version 8.
func decodeMonProbe(b []byte) (monProbe, error) {
	var p monProbe
	r := reader{b: b}
	copy(p.FSID[:], r.take(16))
	p.Op = int32(r.u32())
	p.Name = string(r.take(int(r.u32())))
	p.Quorum = make([]int32, 0, min(int(r.peekU32()), len(b)/4))
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		p.Quorum = append(p.Quorum, int32(r.u32()))
	}
	p.Monmap = r.take(int(r.u32()))
	p.HasEverJoined = r.u8() != 0
	p.PaxosFirst, p.PaxosLast, p.RequiredFeatures = r.u64(), r.u64(), r.u64()
	p.Release = r.u8()
	p.Leader = int32(r.u32())
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the front", len(r.b))
	}
	if r.err != nil {
		return monProbe{}, fmt.Errorf("MMonProbe: %w", r.err)
	}
	return p, nil
}

// newProbeMessage is an OP_PROBE from mon name (with rank rank) to a cluster's monitors.
// paxosLast carries the sender's counter: a real mon sends its last committed version there,
// and a monitor that is probing does not read it in a probe, so every probe differs (its front
// crc identifies it in the peer's log).
func newProbeMessage(fsid [16]byte, name string, paxosLast uint64) *wire.Message {
	p := monProbe{FSID: fsid, Op: probeOpProbe, Name: name, PaxosLast: paxosLast, Release: releasePacific, Leader: -1}
	m := wire.NewMessage(msgMonProbe, p.appendFront(nil))
	m.Header.Version, m.Header.CompatVersion, m.Header.Priority = monProbeVersion, monProbeCompat, wire.PrioHigh
	return m
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// reader decodes little-endian fields, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		if r.err == nil {
			r.err = errShortFront
		}
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) peekU32() uint32 {
	if len(r.b) < 4 {
		return 0
	}
	return binary.LittleEndian.Uint32(r.b)
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// monPing is MMonPing's front: op, stamp (utime_t), the sender's connection tracker (a
// bufferlist) and a padding length with that many zeros (min_message_size).
type monPing struct {
	Op      uint8
	Stamp   wire.Timespec
	Tracker []byte
	Pad     uint32
}

func (p *monPing) appendFront(b []byte) []byte {
	b = append(b, p.Op)
	b = binary.LittleEndian.AppendUint32(b, p.Stamp.Sec)
	b = binary.LittleEndian.AppendUint32(b, p.Stamp.Nsec)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(p.Tracker)))
	b = append(b, p.Tracker...)
	b = binary.LittleEndian.AppendUint32(b, p.Pad)
	return append(b, make([]byte, p.Pad)...)
}

// decodeMonPing decodes an MMonPing front.
func decodeMonPing(b []byte) (monPing, error) {
	var p monPing
	r := reader{b: b}
	p.Op = r.u8()
	p.Stamp.Sec, p.Stamp.Nsec = r.u32(), r.u32()
	p.Tracker = r.take(int(r.u32()))
	p.Pad = r.u32()
	r.take(int(p.Pad))
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the front", len(r.b))
	}
	if r.err != nil {
		return monPing{}, fmt.Errorf("MMonPing: %w", r.err)
	}
	return p, nil
}

// connectionTracker encodes the ConnectionTracker a monitor of rank rank sends in its pings:
// versioned (struct_v 1, compat 1, length), rank, epoch, version, half_life (a double) and
// an empty map of peer reports: this peer reports nothing.
func connectionTracker(rank int32) []byte {
	var body []byte
	body = binary.LittleEndian.AppendUint32(body, uint32(rank))
	body = binary.LittleEndian.AppendUint32(body, 0) // epoch
	body = binary.LittleEndian.AppendUint64(body, 0) // version
	body = binary.LittleEndian.AppendUint64(body, math.Float64bits(12*60*60))
	body = binary.LittleEndian.AppendUint32(body, 0) // peer_reports: none
	b := []byte{1, 1}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(body)))
	return append(b, body...)
}

// newPingMessage is an MMonPing PING stamped t. A monitor answers every PING with a
// PING_REPLY carrying the same stamp, so stamps identify messages in both directions.
func newPingMessage(rank int32, t time.Time) *wire.Message {
	p := monPing{Op: pingOpPing, Stamp: wire.TimespecOf(t), Tracker: connectionTracker(rank)}
	m := wire.NewMessage(msgMonPing, p.appendFront(nil))
	m.Header.Version, m.Header.CompatVersion, m.Header.Priority = monPingVersion, monPingCompat, wire.PrioHigh
	return m
}
