package msgr

import (
	"reflect"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The free list keeps released section buffers by size class: a section finds a released
// buffer of its class whatever message it came with (and in between, messages without that
// section leave it there); a new buffer has its class's size; the byte bound holds.
func TestMsgFreeSizeClasses(t *testing.T) {
	var f msgFree
	m := f.get()
	if m.Front != nil || m.Middle != nil || m.Data != nil {
		t.Fatalf("new message has sections: %+v", m)
	}
	m.Front, m.Data = f.section(100), f.section(40000)
	if len(m.Front) != 100 || cap(m.Front) != 128 || len(m.Data) != 40000 || cap(m.Data) != 64<<10 {
		t.Fatalf("new sections: front %d/%d, data %d/%d; want capacities 128 and 64 KiB",
			len(m.Front), cap(m.Front), len(m.Data), cap(m.Data))
	}
	data := m.Data
	m.Header.Seq, m.Footer.Flags = 7, 1
	f.put(m)
	for range 3 { // messages without a data section do not take the data buffer
		small := f.get()
		small.Front = f.section(20)
		if cap(small.Front) != 64 && cap(small.Front) != 128 {
			t.Fatalf("a 20-byte front got capacity %d", cap(small.Front))
		}
		f.put(small)
	}
	if got := f.section(10000); cap(got) != 16<<10 {
		t.Fatalf("a 10000-byte data section got capacity %d, want 16 KiB (its own class)", cap(got))
	}
	got := f.get()
	if got.Header.Seq != 0 || got.Footer.Flags != 0 || got.Data != nil {
		t.Fatalf("reused message not reset: %+v", got)
	}
	b := f.section(50000) // another size, the same class as 40000
	if len(b) != 50000 || cap(b) != cap(data) || &b[0] != &data[0] {
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

// A messenger that shuts down hands its released messages and section buffers to spareRx;
// a later messenger takes them when its own free list has none, cleared as new ones would be
// (a run must not depend on an earlier one), with their class's capacity. Only buffers of
// exactly a class's size are kept.
func TestMsgFreeRecycleAcrossMessengers(t *testing.T) {
	reused := 0
	for range 20 { // a sync.Pool may drop what it is given (always, at random, under -race)
		var f msgFree
		m := f.get()
		m.Data = f.section(3000)
		for i := range m.Data {
			m.Data[i] = 0xa5
		}
		m.Front = make([]byte, 100) // not a class's size: not kept
		m.Header.Seq = 9
		data := m.Data[:cap(m.Data)]
		f.put(m)
		f.retire()
		if f.bytes != 0 || len(f.msgs) != 0 || len(f.bufs[bufClass(3000)]) != 0 {
			t.Fatalf("free list not emptied: %d bytes, %d messages", f.bytes, len(f.msgs))
		}
		var g msgFree
		got := g.get()
		if got.Header.Seq != 0 || got.Front != nil || got.Data != nil {
			t.Fatalf("recycled message not reset: %+v", got)
		}
		b := g.section(2500)
		if len(b) != 2500 || cap(b) != 4096 {
			t.Fatalf("a 2500-byte section got %d/%d, want 2500/4096", len(b), cap(b))
		}
		for i, x := range b[:cap(b)] {
			if x != 0 {
				t.Fatalf("byte %d of a recycled section buffer is %#x, want 0", i, x)
			}
		}
		if &b[0] == &data[0] {
			reused++
		}
		if f := g.section(100); cap(f) != 128 {
			t.Fatalf("a 100-byte section got capacity %d", cap(f))
		}
	}
	if reused == 0 {
		t.Fatal("no section buffer was ever reused across free lists")
	}
}

// A lent message goes back to the free list once, without its sections (the application's),
// and only from the messenger's hands: releasing it twice, or before it was sent, panics
// instead of putting it in the list twice; an unmarked message (the application's own) is
// never taken.
func TestMsgFreeRecycle(t *testing.T) {
	mustPanic := func(what string, fn func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Fatalf("%s did not panic", what)
			}
		}()
		fn()
	}
	var m Messenger
	lent := m.NewMessage(1, []byte("front"))
	mustPanic("recycling a message never sent", func() { releasing(lent) })
	payload := make([]byte, 4096)
	lent.Data = payload
	taken(lent, false)
	if !releasing(lent) {
		t.Fatal("a sent lent message is not recycled")
	}
	mustPanic("recycling twice", func() { releasing(lent) })
	m.rxFree.recycle([]*Message{lent})
	if n := len(m.rxFree.msgs); n != 1 || lent.Data != nil || lent.Front != nil {
		t.Fatalf("%d messages in the free list after one recycle (data %d bytes, front %d)", n, len(lent.Data), len(lent.Front))
	}
	for c := range m.rxFree.bufs {
		if len(m.rxFree.bufs[c]) != 0 {
			t.Fatalf("the sent message's data buffer went into size class %d", c)
		}
	}
	mustPanic("releasing a recycled message", func() { m.Release(lent) })

	own := &Message{Data: payload}
	taken(own, false)
	if releasing(own) {
		t.Fatal("the application's own message would be recycled")
	}

	// A whole Header may be assigned (the mark is not in it); a whole Message may not, and
	// makes the message the application's own.
	h := m.NewMessage(1, nil)
	h.Header = wire.Header{Type: 2, Tid: 9}
	h.SealFooter(true, true)
	taken(h, false)
	if !releasing(h) {
		t.Fatal("a lent message whose Header was assigned whole is not recycled")
	}
	w := m.NewMessage(1, nil)
	*w = Message{Header: wire.Header{Type: 2}}
	taken(w, false)
	if releasing(w) {
		t.Fatal("a lent message overwritten whole would be recycled")
	}

	// The bound: beyond maxFreeMsgs, recycled messages are left to the garbage collector.
	var f msgFree
	ms := make([]*Message, maxFreeMsgs+5)
	for i := range ms {
		ms[i] = &Message{}
	}
	f.recycle(ms[:10])
	f.recycle(ms[10:])
	if len(f.msgs) != maxFreeMsgs {
		t.Fatalf("%d messages kept, want the bound %d", len(f.msgs), maxFreeMsgs)
	}
}

// markOf reaches wire's unexported Footer.mark and nothing else (msgmark.Offset is computed
// by wire; this holds it to the field it names).
func TestMarkIsFootersField(t *testing.T) {
	var m Message
	*markOf(&m) = 0xa5
	f := reflect.ValueOf(&m).Elem().FieldByName("Footer").FieldByName("mark")
	if !f.IsValid() || f.Uint() != 0xa5 {
		t.Fatalf("markOf does not address Footer.mark (%v)", f)
	}
	*markOf(&m) = 0
	if m.Header != (wire.Header{}) || m.Footer != (wire.Footer{}) || m.Front != nil || m.Middle != nil || m.Data != nil {
		t.Fatalf("markOf wrote outside the mark: %+v", m)
	}
}
