package msgr

import "testing"

// The free list keeps released section buffers by size class: a section finds a released
// buffer of its class whatever message it came with (and in between, messages without that
// section leave it there); a new buffer has its class's size; released messages come back
// bare; the byte bound holds.
func TestMsgFreeSizeClasses(t *testing.T) {
	var f msgFree
	front, data := f.section(100), f.section(40000)
	if len(front) != 100 || cap(front) != 128 || len(data) != 40000 || cap(data) != 64<<10 {
		t.Fatalf("new sections: front %d/%d, data %d/%d; want capacities 128 and 64 KiB", len(front), cap(front), len(data), cap(data))
	}
	m := f.get()
	m.Header.Seq, m.Front, m.Data = 7, front, data
	f.put(m)
	for range 3 { // messages without a data section do not take the data buffer
		small := f.get()
		if small.Header.Seq != 0 || small.Front != nil || small.Data != nil {
			t.Fatalf("a released message came back with %+v", small)
		}
		small.Front = f.section(20)
		if cap(small.Front) != 64 && cap(small.Front) != 128 {
			t.Fatalf("a 20-byte front got capacity %d", cap(small.Front))
		}
		f.put(small)
	}
	if got := f.section(10000); cap(got) != 16<<10 {
		t.Fatalf("a 10000-byte section got capacity %d, want 16 KiB (its own class)", cap(got))
	}
	got := f.section(50000) // another size, the same class as 40000
	if len(got) != 50000 || cap(got) != cap(data) || &got[0] != &data[0] {
		t.Fatalf("the released 64 KiB data buffer was not reused for a 50000-byte section")
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
		if b := g.section(3 << 20); cap(b) != 4<<20 {
			t.Fatalf("a 3 MiB section got capacity %d", cap(b))
		}
	}
	if g.bytes != 0 {
		t.Fatalf("%d bytes left after taking every buffer", g.bytes)
	}
}
