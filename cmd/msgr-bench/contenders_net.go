//go:build linux

package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// stdlibContender is msgr1's message framing over Go's net package, written the way a
// competent Go programmer would: goroutines per connection, bufio reads, net.Buffers writev
// batching. Every message has a 53-byte header with its crc32c, the data section and a 21-byte
// footer with the data crc32c, all computed by the sender and verified by the receiver, with
// the same codec (msgr/wire) the messenger uses; one-way receivers acknowledge with ACK frames
// as a lossless msgr1 session does. There is no handshake (it is not measured) and no
// reconnect logic: this is the cost of the framing, not of the protocol.
type stdlibContender struct{}

func (stdlibContender) name() string         { return "stdlib" }
func (stdlibContender) supports(c cell) bool { return true }
func (stdlibContender) start(l *load) (running, error) {
	return startFramed(l, &msgr1Framer{src: wire.NewName(wire.EntityOSD, 1)})
}

type msgr1Framer struct {
	src wire.EntityName
}

func (f *msgr1Framer) acks() bool { return true }

func (f *msgr1Framer) put(b *batcher, seq uint64, payload []byte) {
	h := wire.Header{Seq: seq, Tid: seq, Type: wire.MsgOSDOp, Priority: wire.PrioDefault, Version: 1,
		CompatVersion: 1, DataLen: uint32(len(payload)), Src: f.src}
	p := b.small(1 + wire.HeaderLen)
	p[0] = byte(wire.TagMsg)
	h.Encode(p[1:], true)
	b.payload(payload)
	ft := wire.Footer{FrontCRC: 0, MiddleCRC: 0, DataCRC: wire.CRC32C(0, payload), Flags: wire.FooterComplete}
	ft.Encode(b.small(wire.FooterLen), false)
}

func (f *msgr1Framer) putAck(b *batcher, seq uint64) {
	p := b.small(1 + wire.SeqLen)
	p[0] = byte(wire.TagAck)
	wire.PutSeq(p[1:], seq)
}

// get reads frames until a message arrives, verifying its header and data crcs.
func (f *msgr1Framer) get(r *bufio.Reader, rx *rxPool) (int, error) {
	hb := &rx.hdr
	for {
		tag, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		switch wire.Tag(tag) {
		case wire.TagAck:
			if _, err := io.ReadFull(r, hb[:wire.SeqLen]); err != nil {
				return 0, errShort("ack", err)
			}
			continue
		case wire.TagMsg:
		default:
			return 0, fmt.Errorf("unexpected tag %d", tag)
		}
		if _, err := io.ReadFull(r, hb[:]); err != nil {
			return 0, errShort("header", err)
		}
		h, err := wire.DecodeHeader(hb[:], true)
		if err != nil {
			return 0, err
		}
		if h.FrontLen != 0 || h.MiddleLen != 0 || h.DataLen > wire.DefaultMaxDataLen {
			return 0, fmt.Errorf("unexpected lengths %d+%d+%d", h.FrontLen, h.MiddleLen, h.DataLen)
		}
		data := rx.get(int(h.DataLen))
		if _, err := io.ReadFull(r, data); err != nil {
			return 0, errShort("data", err)
		}
		if _, err := io.ReadFull(r, hb[:wire.FooterLen]); err != nil {
			return 0, errShort("footer", err)
		}
		ft, _ := wire.DecodeFooter(hb[:wire.FooterLen], false)
		if got := wire.CRC32C(0, data); ft.Flags&wire.FooterComplete == 0 || got != ft.DataCRC {
			return 0, fmt.Errorf("data crc %#x, footer says %#x", got, ft.DataCRC)
		}
		return len(data), nil
	}
}

// rawFramedContender sends 4-byte length-prefixed frames and reads each payload exactly into
// the next of a few rotating buffers: the cost of discrete messages over TCP without any
// protocol (no crc, no acks): the framing-free limit.
type rawFramedContender struct{}

func (rawFramedContender) name() string         { return "rawframed" }
func (rawFramedContender) supports(c cell) bool { return true }
func (rawFramedContender) start(l *load) (running, error) {
	return startFramed(l, lenFramer{})
}

type lenFramer struct{}

func (lenFramer) acks() bool              { return false }
func (lenFramer) putAck(*batcher, uint64) {}
func (lenFramer) put(b *batcher, _ uint64, payload []byte) {
	binary.LittleEndian.PutUint32(b.small(4), uint32(len(payload)))
	b.payload(payload)
}

func (lenFramer) get(r *bufio.Reader, rx *rxPool) (int, error) {
	lb := rx.hdr[:4]
	if _, err := io.ReadFull(r, lb); err != nil {
		return 0, err
	}
	n := binary.LittleEndian.Uint32(lb)
	if n > wire.DefaultMaxDataLen {
		return 0, fmt.Errorf("frame of %d bytes", n)
	}
	if _, err := io.ReadFull(r, rx.get(int(n))); err != nil {
		return 0, errShort("payload", err)
	}
	return int(n), nil
}

// rawTCPContender is a plain byte stream: the sender writes payloads back to back, the
// receiver reads as much as the kernel has into one reused buffer and counts size-byte
// messages. It is the loopback ceiling; it flatters raw TCP, as nothing lands in a buffer of
// its own. Pingpong reads exactly size bytes and answers size bytes; rr needs framing for its
// 0-byte replies, so rawtcp does not run it, nor 0-byte messages.
type rawTCPContender struct{}

func (rawTCPContender) name() string { return "rawtcp" }
func (rawTCPContender) supports(c cell) bool {
	return c.size > 0 && c.mode != modeRR && c.mode != modeThink
}

func (rawTCPContender) start(l *load) (running, error) {
	r := &framedRun{netRun: netRun{l: l}, payload: pattern(l.cell.size)}
	pairs, err := r.dialPairs(l.cell.conns)
	if err != nil {
		_ = r.stop()
		return nil, err
	}
	for _, p := range pairs {
		if l.cell.mode == modeOneway {
			cr := l.credit(p.index)
			r.goRun(func() error { return rawStreamSender(r, p.client, cr) })
			r.goRun(func() error { return rawStreamReceiver(r, p.server, p.index, cr) })
			continue
		}
		r.goRun(func() error { return rawPingClient(r, p.client, p.index) })
		r.goRun(func() error { return rawPingServer(r, p.server) })
	}
	return r, nil
}

func rawStreamSender(r *framedRun, c net.Conn, cr *credit) error {
	b := newBatcher(c)
	for {
		if cr.sent-cr.recv.Load() >= cr.max {
			if err := b.flush(); err != nil {
				return err
			}
		}
		if !cr.acquire(&r.l.stop) {
			return nil
		}
		b.payload(r.payload)
		if b.frameDone() {
			if err := b.flush(); err != nil {
				return err
			}
		}
	}
}

func rawStreamReceiver(r *framedRun, c net.Conn, i int, cr *credit) error {
	size := uint64(r.l.cell.size)
	buf := make([]byte, max(readBufSize, min(r.l.cell.size, 4<<20)))
	var bytes, msgs uint64
	for {
		n, err := c.Read(buf)
		bytes += uint64(n)
		for ; msgs < bytes/size; msgs++ {
			r.l.complete(i, 0)
		}
		cr.released()
		if err != nil {
			return err
		}
	}
}

func rawPingClient(r *framedRun, c net.Conn, i int) error {
	buf := make([]byte, r.l.cell.size)
	times := newSendTimes(1, 1)
	t := now()
	for !r.l.stop.Load() {
		times.push(t)
		if _, err := c.Write(r.payload); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		t = now()
		r.l.complete(i, times.pop(t))
	}
	return nil
}

func rawPingServer(r *framedRun, c net.Conn) error {
	buf := make([]byte, r.l.cell.size)
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		if _, err := c.Write(r.payload); err != nil {
			return err
		}
	}
}
