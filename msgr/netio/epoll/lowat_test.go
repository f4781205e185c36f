//go:build linux

package epoll

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNotSentLowat checks that Options.NotSentLowat reaches both ends of a connection, and
// that the default leaves the kernel's setting alone.
func TestNotSentLowat(t *testing.T) {
	lowat := func(s *Socket) int {
		t.Helper()
		v, err := unix.GetsockoptInt(s.FD(), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	const want = 96 << 10
	cli, srv, _ := testPair(t, New(Options{NotSentLowat: want}))
	if c, s := lowat(cli), lowat(srv); c != want || s != want {
		t.Errorf("NotSentLowat %d: connected socket has %d, accepted %d", want, c, s)
	}
	cli, srv, _ = testPair(t, New(Options{}))
	if c, s := lowat(cli), lowat(srv); c == want || s == want {
		t.Errorf("default: connected socket has %d, accepted %d (the kernel's default expected)", c, s)
	}
}

// A stack whose sockets keep at most 96 KiB of unsent data in the kernel: the rest of a
// batch stays in the messenger's output until the socket polls writable.
func ExampleOptions_notSentLowat() {
	st := New(Options{NotSentLowat: 96 << 10})
	fmt.Println(st.opts.NotSentLowat)
	// Output: 98304
}
