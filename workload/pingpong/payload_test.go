package pingpong

import (
	"encoding/binary"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The payloads are the pattern byte by byte (as first written: b[i] = byte(id*31+i) after the
// id in the front, byte(id*7+i*13) in the data), and intact rejects any single changed byte.
func TestPayloadPattern(t *testing.T) {
	r := detrand.NewSeeded(3)
	for id := uint64(1); id < 40; id++ {
		front := payload(r, id)
		if binary.LittleEndian.Uint64(front) != id {
			t.Fatalf("id %d: front starts with %d", id, binary.LittleEndian.Uint64(front))
		}
		for i := 8; i < len(front); i++ {
			if front[i] != byte(id*31+uint64(i)) {
				t.Fatalf("id %d: front[%d] = %d", id, i, front[i])
			}
		}
		data := payloadData(id, int(id*997%70000))
		for i, v := range data {
			if v != byte(id*7+uint64(i)*13) {
				t.Fatalf("id %d: data[%d] = %d", id, i, v)
			}
		}
		m := wire.NewMessage(wire.MsgPing, front)
		m.Header.Tid = id
		m.Data = data
		if !intact(m) {
			t.Fatalf("id %d: intact payload rejected", id)
		}
		for _, b := range [][]byte{front, data} {
			for _, i := range []int{0, 8, 255, 256, 257, 511, 4095, len(b) - 1} {
				if i < 0 || i >= len(b) {
					continue
				}
				b[i] ^= 0x40
				if intact(m) {
					t.Fatalf("id %d: a flipped byte at %d of %d accepted", id, i, len(b))
				}
				b[i] ^= 0x40
			}
		}
	}
}
