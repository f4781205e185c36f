package msgr

import (
	"testing"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// SendMessage computes the footer of a message with a long data section before handing it to
// the event loop (prepare): the footer is the one the core would have computed, so the bytes
// on the wire do not change, and a byte changed anywhere in the data (first, middle, last)
// gives another data crc, which the receiver checks. Short sections, a messenger without
// data crcs and a footer already complete are left to the core.
func TestPrepareSealsLongData(t *testing.T) {
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>13)
	}
	front := []byte("front section")
	conn := func(cfg Config) *Connection { return &Connection{m: &Messenger{cfg: cfg}} }

	msg := &Message{Front: front, Data: data}
	conn(Config{}).prepare(msg)
	want := &Message{Front: front, Data: data}
	want.SealFooter(true, true)
	if msg.Footer != want.Footer || msg.Footer.Flags != wire.FooterComplete {
		t.Fatalf("prepared footer %+v, want %+v (complete)", msg.Footer, want.Footer)
	}
	if msg.Footer.DataCRC != wire.CRC32C(0, data) || msg.Footer.FrontCRC != wire.CRC32C(0, front) {
		t.Fatalf("prepared crcs %#x/%#x, want the sections' crc32c", msg.Footer.FrontCRC, msg.Footer.DataCRC)
	}
	for _, at := range []int{0, len(data) / 2, len(data) - 1} {
		bad := append([]byte(nil), data...)
		bad[at] ^= 0x01
		m := &Message{Front: front, Data: bad}
		conn(Config{}).prepare(m)
		if m.Footer.DataCRC == msg.Footer.DataCRC {
			t.Fatalf("a byte changed at %d: same data crc %#x", at, m.Footer.DataCRC)
		}
		if err := m.VerifyFooter(true, true); err != nil {
			t.Fatalf("a prepared message does not verify: %v", err)
		}
		m.Footer.DataCRC = msg.Footer.DataCRC // the good message's footer on the changed data
		if err := m.VerifyFooter(true, true); err == nil {
			t.Fatalf("a byte changed at %d verifies against the original footer", at)
		}
	}

	noHeader := &Message{Front: front, Data: data}
	conn(Config{NoCRCHeader: true}).prepare(noHeader)
	if noHeader.Footer.FrontCRC != 0 || noHeader.Footer.DataCRC != want.Footer.DataCRC {
		t.Fatalf("without header crcs: footer %+v, want the data crc only", noHeader.Footer)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		msg  *Message
	}{
		{"short data", Config{}, &Message{Front: front, Data: data[:prepareMin-1]}},
		{"no data crc", Config{NoCRCData: true}, &Message{Front: front, Data: data}},
		{"complete footer", Config{}, &Message{Data: data, Footer: wire.Footer{Flags: wire.FooterComplete, DataCRC: 7}}},
	} {
		before := tc.msg.Footer
		conn(tc.cfg).prepare(tc.msg)
		if tc.msg.Footer != before {
			t.Errorf("%s: footer %+v, want it untouched (%+v)", tc.name, tc.msg.Footer, before)
		}
	}
}
