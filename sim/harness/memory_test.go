package harness

import (
	"bytes"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// SendMemory's messages are what wire.NewMessage builds and its byte slices are zero, of
// capacity n, each its own region: writing one to its end and appending to it leaves every
// other intact.
func TestSendMemory(t *testing.T) {
	var mem SendMemory
	var msgs []*wire.Message
	for i := range 400 {
		n := 1 + i*37%300
		if i%50 == 0 {
			n = MaxSlabBytes + i
		}
		b := mem.Bytes(n)
		if len(b) != n || cap(b) != n || !bytes.Equal(b, make([]byte, n)) {
			t.Fatalf("Bytes(%d): len %d cap %d, not zero", n, len(b), cap(b))
		}
		for j := range b {
			b[j] = byte(i)
		}
		m := mem.Message(wire.MsgPing, b)
		if want := wire.NewMessage(wire.MsgPing, b); m.Header != want.Header || &m.Front[0] != &b[0] {
			t.Fatalf("message %d: %+v, want %+v", i, m.Header, want.Header)
		}
		m.Header.Tid = uint64(i)
		msgs = append(msgs, m)
	}
	for _, m := range msgs {
		m.Front = append(m.Front, 0xff)
	}
	for _, m := range msgs {
		i := m.Header.Tid
		if m.Header.Type != wire.MsgPing || !bytes.Equal(m.Front[:len(m.Front)-1], bytes.Repeat([]byte{byte(i)}, len(m.Front)-1)) {
			t.Fatalf("message %d or its front overwritten by another", i)
		}
	}
}

// A SendMemory after Release, and one made later that takes the released blocks, hands out
// zeroed messages and bytes: what an earlier run wrote into a block never shows.
func TestSendMemoryRelease(t *testing.T) {
	for round := range 3 {
		var mem SendMemory
		for i := range 300 {
			n := 1 + i*53%2000
			b := mem.Bytes(n)
			if !bytes.Equal(b, make([]byte, n)) {
				t.Fatalf("round %d: Bytes(%d) not zero", round, n)
			}
			for j := range b {
				b[j] = 0xa5
			}
			m := mem.Message(wire.MsgPing, b)
			if m.Header.Tid != 0 || m.Middle != nil || m.Data != nil {
				t.Fatalf("round %d: message %d not as new: %+v", round, i, m.Header)
			}
			m.Header.Tid, m.Data = 99, b
		}
		mem.Release()
		if mem.blocks != nil || len(mem.msgs) != 0 || len(mem.bytes) != 0 {
			t.Fatalf("round %d: Release left blocks in the memory", round)
		}
	}
}
