package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unhex decodes a hex dump with arbitrary whitespace.
func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		tb.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// wantBytes fails unless got equals want, showing both in hex.
func wantBytes(tb testing.TB, what string, got, want []byte) {
	tb.Helper()
	if !bytes.Equal(got, want) {
		tb.Errorf("%s:\n got % x\nwant % x", what, got, want)
	}
}

// wantErr fails unless err wraps every sentinel in want.
func wantErr(tb testing.TB, what string, err error, want ...error) {
	tb.Helper()
	if err == nil {
		tb.Errorf("%s: no error, want %v", what, want)
		return
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			tb.Errorf("%s: error %q does not wrap %q", what, err, w)
		}
	}
}

// capture is one captured connection from ceph-lab (testdata/streams).
type capture struct {
	name     string
	c2s, s2c []byte
}

var captureNames = []string{
	"ceph-s-msgr1.conn0",
	"ceph-s-msgr1.conn1",
	"ceph-vs-fake-ready-msgr1.conn0",
}

func readStream(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "streams", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func loadCapture(tb testing.TB, name string) capture {
	tb.Helper()
	return capture{name: name, c2s: readStream(tb, name+".c2s.bin"), s2c: readStream(tb, name+".s2c.bin")}
}

func loadCaptures(tb testing.TB) []capture {
	tb.Helper()
	var cs []capture
	for _, n := range captureNames {
		cs = append(cs, loadCapture(tb, n))
	}
	return cs
}

// mpingMessage is the message of the §5.3 example: a fresh lossy client's first MPing.
func mpingMessage() *Message {
	m := &Message{Header: Header{
		Seq: 1, Type: MsgPing, Priority: PrioDefault, Version: 1, CompatVersion: 1,
		Src: NewName(EntityClient, -1),
	}}
	m.Seal(true, true)
	return m
}

// mauthFront is the §5.4 example front: client.admin, methods [2,1], global_id 0.
func mauthFront() []byte {
	req := AuthNoneRequest{Methods: []uint32{AuthCephx, AuthNone}, Name: AuthEntityName{Type: uint32(EntityClient), ID: "admin"}}
	m := MAuth{SessionMon: -1, Protocol: AuthUnknown, AuthPayload: req.AppendEncoded(nil)}
	return m.AppendFront(nil)
}

// mauthMessage is the §5.4 example message (seq 1, priority 127).
func mauthMessage() *Message {
	m := &Message{
		Header: Header{Seq: 1, Type: MsgAuth, Priority: PrioDefault, Version: 1, CompatVersion: 1, Src: NewName(EntityClient, -1)},
		Front:  mauthFront(),
	}
	m.Seal(true, true)
	return m
}
