package pingpong

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/harness"
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
		m.Data = bytes.Clone(data) // data may be the shared pattern: flip bytes in a copy
		if !intact(m) {
			t.Fatalf("id %d: intact payload rejected", id)
		}
		for _, b := range [][]byte{front, m.Data} {
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

// Data sections are read-only slices of the one shared pattern whose capacity ends with
// them (an append copies instead of writing into the pattern), at the phase of their id.
func TestPayloadDataShared(t *testing.T) {
	for id := uint64(1); id < 600; id++ {
		n := 4096 + int(id*997%60000)
		data := payloadData(id, n)
		if len(data) != n || cap(data) != n {
			t.Fatalf("id %d: len %d cap %d, want %d", id, len(data), cap(data), n)
		}
		for i, v := range data {
			if v != byte(id*7+uint64(i)*13) {
				t.Fatalf("id %d: data[%d] = %d", id, i, v)
			}
		}
		if &data[0] != &dataPattern[int(byte(id*7*197))] {
			t.Fatalf("id %d: data section not cut from the shared pattern", id)
		}
	}
	if long := payloadData(5, maxSharedData+1); &long[0] == &dataPattern[(5*7*197)%256] || !matchesPattern(long, 5*7, 13, 0) {
		t.Fatalf("a data section longer than the shared pattern is not built on its own")
	}
}

// Fronts carved from a harness.SendMemory are what payloadOf builds.
func TestFrontFromSendMemory(t *testing.T) {
	var mem harness.SendMemory
	r := detrand.NewSeeded(9)
	for id := uint64(1); id <= 500; id++ {
		n := frontLen(r)
		if b := front(&mem, id, n); !bytes.Equal(b, payloadOf(id, n)) || cap(b) != n {
			t.Fatalf("id %d: front of %d bytes (capacity %d) differs from payloadOf", id, len(b), cap(b))
		}
	}
}

// matchesPattern is its definition, b[i] == byte(base + i*step) for every i >= from, for the
// workload's two steps (compared with the check buffers) and others (built), for sections
// shorter and longer than the buffers, intact and with one byte changed anywhere.
func TestMatchesPatternIsItsDefinition(t *testing.T) {
	r := detrand.NewSeeded(11)
	for range 2000 {
		step := []uint64{1, 13, 13, 1, 3}[r.IntN(5)]
		base := r.Uint64()
		n := r.IntN(300)
		if r.IntN(8) == 0 {
			n = maxSharedData + r.IntN(300) - 150
		}
		from := min(r.IntN(10), n)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(base + uint64(i)*step)
		}
		if n > 0 && r.Bool() {
			b[r.IntN(n)]++
		}
		want := true
		for i := from; i < n; i++ {
			want = want && b[i] == byte(base+uint64(i)*step)
		}
		if got := matchesPattern(b, base, step, from); got != want {
			t.Fatalf("matchesPattern(%d bytes, base %d, step %d, from %d) = %v, want %v", n, base, step, from, got, want)
		}
	}
}
