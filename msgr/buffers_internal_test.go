package msgr

import "testing"

// The free list keeps released section buffers by size class: a section finds a released
// buffer of its class whatever message it came with (and in between, messages without that
// section leave it there); a new buffer has its class's size; the byte bound holds.
func TestMsgFreeSizeClasses(t *testing.T) {
	var f msgFree
	m := f.get([3]uint32{100, 0, 40000})
	if cap(m.Front) != 128 || len(m.Front) != 0 || m.Middle != nil || cap(m.Data) != 64<<10 || len(m.Data) != 0 {
		t.Fatalf("new message: front %d/%d, middle %v, data %d/%d; want capacities 128 and 64 KiB",
			len(m.Front), cap(m.Front), m.Middle, len(m.Data), cap(m.Data))
	}
	data := m.Data[:40000]
	m.Front, m.Data = m.Front[:100], data
	f.put(m)
	for range 3 { // messages without a data section do not take the data buffer
		small := f.get([3]uint32{20, 0, 0})
		if small.Data != nil || cap(small.Front) != 64 {
			t.Fatalf("front-only message: front capacity %d, data %v", cap(small.Front), small.Data)
		}
		f.put(small)
	}
	if got := f.get([3]uint32{8, 0, 10000}); cap(got.Data) != 16<<10 {
		t.Fatalf("a 10000-byte data section got capacity %d, want 16 KiB (its own class)", cap(got.Data))
	}
	got := f.get([3]uint32{8, 0, 50000}) // another size, the same class as 40000
	if cap(got.Data) != cap(data) || &got.Data[:1][0] != &data[0] {
		t.Fatalf("the released 64 KiB data buffer was not reused for a 50000-byte section")
	}
	if len(got.Data) != 0 || got.Header.Seq != 0 || got.Footer.Flags != 0 {
		t.Fatalf("reused message not reset: %+v", got)
	}

	// The byte bound: buffers beyond maxFreeBytes are dropped, the messages still kept.
	var g msgFree
	for range maxFreeBytes/(4<<20) + 2 {
		g.put(&Message{Data: make([]byte, 4<<20)})
	}
	if g.bytes != maxFreeBytes || len(g.bufs[22]) != maxFreeBytes/(4<<20) || len(g.msgs) != maxFreeBytes/(4<<20)+2 {
		t.Fatalf("after releasing %d 4 MiB buffers: %d bytes kept in %d buffers, %d messages", maxFreeBytes/(4<<20)+2, g.bytes, len(g.bufs[22]), len(g.msgs))
	}
	for range maxFreeBytes / (4 << 20) {
		if b := g.get([3]uint32{0, 0, 3 << 20}); cap(b.Data) != 4<<20 {
			t.Fatalf("a 3 MiB section got capacity %d", cap(b.Data))
		}
	}
	if g.bytes != 0 {
		t.Fatalf("%d bytes left after taking every buffer", g.bytes)
	}
}
