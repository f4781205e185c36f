package main

import (
	"fmt"
	"net/netip"
	"os"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// addrOnly is a socket that only knows its addresses (the tap asks for nothing else).
type addrOnly struct{ netio.Socket }

func (addrOnly) LocalAddr() netip.AddrPort  { return netip.MustParseAddrPort("127.0.0.1:1") }
func (addrOnly) RemoteAddr() netip.AddrPort { return netip.MustParseAddrPort("127.0.0.1:2") }

// The tap reports every connect reply of a real server stream, whatever the chunking, and
// stops at the one that opens the session.
func TestReplyTap(t *testing.T) {
	for name, want := range map[string]string{
		"twomon.conn13": "[RETRY_SESSION RETRY_GLOBAL SEQ]", // the real mon's replies, then 16 messages
		"twomon.conn2":  "[RESETSESSION WAIT]",
		"twomon.conn7":  "[]",
	} {
		data, err := os.ReadFile("testdata/streams/" + name + ".s2c.bin")
		if err != nil {
			t.Fatal(err)
		}
		for _, chunk := range []int{1, 7, 26, 281, len(data) + 1} {
			var tags []string
			s := &tapSocket{Socket: addrOnly{}, sent: true}
			s.p.report = func(r tappedReply) { tags = append(tags, r.Reply.Tag.String()) }
			for b := data; len(b) > 0; {
				k := min(chunk, len(b))
				s.p.feed(s, b[:k])
				b = b[k:]
			}
			if got := fmt.Sprint(tags); got != want {
				t.Errorf("%s in chunks of %d: replies %s, want %s", name, chunk, got, want)
			}
		}
	}
}
