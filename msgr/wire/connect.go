package wire

import (
	"encoding/binary"
	"fmt"
)

// Connect is ceph_msg_connect, sent by the connecting side after the banners and addresses
// (and again on the same socket after a RETRY_*, RESETSESSION or CHALLENGE_AUTHORIZER reply).
// AuthorizerLen bytes of authorizer follow it on the wire.
type Connect struct {
	Features           uint64
	HostType           EntityType // sent as le32
	GlobalSeq          uint32
	ConnectSeq         uint32
	ProtocolVersion    uint32
	AuthorizerProtocol uint32
	AuthorizerLen      uint32
	Flags              uint8 // ConnectLossy
}

// Encode writes the 33-byte form into b.
func (c *Connect) Encode(b []byte) {
	b = b[:ConnectLen]
	binary.LittleEndian.PutUint64(b[0:], c.Features)
	binary.LittleEndian.PutUint32(b[8:], uint32(c.HostType))
	binary.LittleEndian.PutUint32(b[12:], c.GlobalSeq)
	binary.LittleEndian.PutUint32(b[16:], c.ConnectSeq)
	binary.LittleEndian.PutUint32(b[20:], c.ProtocolVersion)
	binary.LittleEndian.PutUint32(b[24:], c.AuthorizerProtocol)
	binary.LittleEndian.PutUint32(b[28:], c.AuthorizerLen)
	b[32] = c.Flags
}

// DecodeConnect decodes a ceph_msg_connect from the first 33 bytes of b. The authorizer
// length is checked against limits; the authorizer itself is not read.
func DecodeConnect(b []byte, limits Limits) (Connect, error) {
	if len(b) < ConnectLen {
		return Connect{}, short("ceph_msg_connect", ConnectLen, len(b))
	}
	if hostType := binary.LittleEndian.Uint32(b[8:]); hostType > 0xff {
		return Connect{}, decodeErr("ceph_msg_connect host_type", 8,
			fmt.Errorf("%w: host_type %#x", ErrMalformed, hostType))
	}
	c := connectFields(b)
	if err := limits.CheckAuthorizerLen(c.AuthorizerLen); err != nil {
		return Connect{}, err
	}
	return c, nil
}

// connectFields reads the fields of a ceph_msg_connect (at least ConnectLen bytes) without
// checking them: a host_type over 0xff keeps its low byte.
func connectFields(b []byte) Connect {
	return Connect{
		Features:           binary.LittleEndian.Uint64(b[0:]),
		HostType:           EntityType(binary.LittleEndian.Uint32(b[8:])),
		GlobalSeq:          binary.LittleEndian.Uint32(b[12:]),
		ConnectSeq:         binary.LittleEndian.Uint32(b[16:]),
		ProtocolVersion:    binary.LittleEndian.Uint32(b[20:]),
		AuthorizerProtocol: binary.LittleEndian.Uint32(b[24:]),
		AuthorizerLen:      binary.LittleEndian.Uint32(b[28:]),
		Flags:              b[32],
	}
}

// ConnectReply is ceph_msg_connect_reply, the acceptor's answer to a Connect. AuthorizerLen
// bytes of authorizer reply follow it, and for TagSeq an le64 in_seq after that.
type ConnectReply struct {
	Tag             Tag
	Features        uint64
	GlobalSeq       uint32
	ConnectSeq      uint32
	ProtocolVersion uint32
	AuthorizerLen   uint32
	Flags           uint8
}

// Encode writes the 26-byte form into b.
func (r *ConnectReply) Encode(b []byte) {
	b = b[:ConnectReplyLen]
	b[0] = byte(r.Tag)
	binary.LittleEndian.PutUint64(b[1:], r.Features)
	binary.LittleEndian.PutUint32(b[9:], r.GlobalSeq)
	binary.LittleEndian.PutUint32(b[13:], r.ConnectSeq)
	binary.LittleEndian.PutUint32(b[17:], r.ProtocolVersion)
	binary.LittleEndian.PutUint32(b[21:], r.AuthorizerLen)
	b[25] = r.Flags
}

// DecodeConnectReply decodes a ceph_msg_connect_reply from the first 26 bytes of b. The tag
// must be a reply tag and the authorizer length within limits.
func DecodeConnectReply(b []byte, limits Limits) (ConnectReply, error) {
	if len(b) < ConnectReplyLen {
		return ConnectReply{}, short("ceph_msg_connect_reply", ConnectReplyLen, len(b))
	}
	r := replyFields(b)
	if !r.Tag.IsReply() {
		return ConnectReply{}, decodeErr("ceph_msg_connect_reply tag", 0, fmt.Errorf("%w: %v", ErrBadTag, r.Tag))
	}
	if err := limits.CheckAuthorizerLen(r.AuthorizerLen); err != nil {
		return ConnectReply{}, err
	}
	return r, nil
}

// replyFields reads the fields of a ceph_msg_connect_reply (at least ConnectReplyLen bytes)
// without checking them.
func replyFields(b []byte) ConnectReply {
	return ConnectReply{
		Tag:             Tag(b[0]),
		Features:        binary.LittleEndian.Uint64(b[1:]),
		GlobalSeq:       binary.LittleEndian.Uint32(b[9:]),
		ConnectSeq:      binary.LittleEndian.Uint32(b[13:]),
		ProtocolVersion: binary.LittleEndian.Uint32(b[17:]),
		AuthorizerLen:   binary.LittleEndian.Uint32(b[21:]),
		Flags:           b[25],
	}
}

// PutSeq writes an le64 sequence number (ACK payload, SEQ exchange) into b.
func PutSeq(b []byte, seq uint64) { binary.LittleEndian.PutUint64(b[:SeqLen], seq) }

// DecodeSeq reads an le64 sequence number.
func DecodeSeq(b []byte) (uint64, error) {
	if len(b) < SeqLen {
		return 0, short("seq", SeqLen, len(b))
	}
	return binary.LittleEndian.Uint64(b), nil
}
