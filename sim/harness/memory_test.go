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
