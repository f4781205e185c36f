package synthetic

import (
	"bytes"
	"errors"
	"testing"
)

func TestPayloadRoundTrip(t *testing.T) {
	for _, p := range []Payload{
		{Who: Ping, Seq: 0, Data: nil},
		{Who: Pong, Seq: 1<<64 - 1, Data: []byte("abc")},
		{Who: Ping, Seq: 42, Data: bytes.Repeat([]byte{7}, 70000)},
	} {
		b := p.Encode()
		if len(b) != p.EncodedLen() {
			t.Fatalf("encoded %d bytes, EncodedLen %d", len(b), p.EncodedLen())
		}
		got, err := DecodePayload(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Who != p.Who || got.Seq != p.Seq || !bytes.Equal(got.Data, p.Data) {
			t.Fatalf("round trip: %+v -> %+v", p, got)
		}
	}
}

// The encoding is DENC's: struct_v 1, compat 1, u32 length, then who, seq, u32 + data.
func TestPayloadEncoding(t *testing.T) {
	got := Payload{Who: Pong, Seq: 0x0102030405060708, Data: []byte{0xaa, 0xbb}}.Encode()
	want := []byte{1, 1, 15, 0, 0, 0, 1, 8, 7, 6, 5, 4, 3, 2, 1, 2, 0, 0, 0, 0xaa, 0xbb}
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x\nwant % x", got, want)
	}
}

// A newer encoder's payload (struct_v 2, compat 1, a field appended) still decodes.
func TestPayloadNewerVersionDecodes(t *testing.T) {
	b := Payload{Who: Ping, Seq: 9, Data: []byte("xy")}.Encode()
	b[0] = 2
	b = append(b, 0xee, 0xee) // the appended field
	b[2] += 2
	p, err := DecodePayload(b)
	if err != nil || p.Seq != 9 || string(p.Data) != "xy" {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestPayloadBadInput(t *testing.T) {
	good := Payload{Who: Ping, Seq: 1, Data: []byte("data")}.Encode()
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrPayloadShort},
		{"envelope only", good[:6], ErrPayloadShort},
		{"truncated body", good[:len(good)-1], ErrPayloadShort},
		{"compat from the future", mut(func(b []byte) []byte { b[1] = 2; return b }), ErrPayloadVersion},
		{"struct_len 0xffffffff", mut(func(b []byte) []byte { b[2], b[3], b[4], b[5] = 0xff, 0xff, 0xff, 0xff; return b }), ErrPayloadShort},
		{"struct_len below the fixed fields", mut(func(b []byte) []byte { b[2] = 5; return b[:11] }), ErrPayloadLength},
		{"data length 0xffffffff", mut(func(b []byte) []byte { b[15], b[16], b[17], b[18] = 0xff, 0xff, 0xff, 0xff; return b }), ErrPayloadLength},
		{"who 7", mut(func(b []byte) []byte { b[6] = 7; return b }), ErrPayloadWho},
	} {
		if _, err := DecodePayload(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// FuzzDecodePayload: no input panics or allocates from a claimed length, and whatever
// decodes re-encodes to a payload that decodes the same.
func FuzzDecodePayload(f *testing.F) {
	f.Add(Payload{Who: Ping, Seq: 1, Data: []byte("data")}.Encode())
	f.Add([]byte{1, 1, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePayload(b)
		if err != nil {
			return
		}
		q, err := DecodePayload(p.Encode())
		if err != nil || q.Who != p.Who || q.Seq != p.Seq || !bytes.Equal(q.Data, p.Data) {
			t.Fatalf("%+v re-decoded as %+v (%v)", p, q, err)
		}
	})
}
