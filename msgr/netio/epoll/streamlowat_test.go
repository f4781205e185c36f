//go:build linux

package epoll

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// streamPattern is the byte stream the tests write: distinct enough that a lost, repeated or
// reordered piece shows.
func streamPattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i>>9)
	}
	return p
}

// messageBufs cuts data[off:] into at most nbuf buffers shaped like a messenger's batch of
// 4 KiB messages: a 75-byte piece (footer, tag and header) and a 4,096-byte payload in turn.
func messageBufs(data []byte, off, nbuf int) [][]byte {
	var bufs [][]byte
	for i := 0; i < nbuf && off < len(data); i++ {
		n := 75
		if i%2 == 1 {
			n = 4096
		}
		end := min(off+n, len(data))
		bufs = append(bufs, data[off:end])
		off = end
	}
	return bufs
}

// notSentLowat is the socket's TCP_NOTSENT_LOWAT as the kernel reports it.
func notSentLowat(tb testing.TB, s *Socket) int {
	tb.Helper()
	v, err := unix.GetsockoptInt(s.FD(), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// writeUntilFull writes data from the start in Writevs of nbuf buffers, the peer not
// reading, until one leaves bytes unwritten; it returns the offset reached.
func writeUntilFull(tb testing.TB, s *Socket, data []byte, nbuf int) int {
	tb.Helper()
	off := 0
	for off < len(data) {
		bufs := messageBufs(data, off, nbuf)
		want := 0
		for _, b := range bufs {
			want += len(b)
		}
		n, err := s.Writev(bufs)
		if err != nil && !errors.Is(err, netio.ErrWouldBlock) {
			tb.Fatalf("Writev: %v", err)
		}
		off += n
		if n < min(want, writevLimit(bufs)) {
			return off
		}
	}
	tb.Fatalf("%d bytes written without the send buffer filling up", off)
	return off
}

// writevLimit is how many bytes one Writev can take from bufs (the first iovMax buffers).
func writevLimit(bufs [][]byte) int {
	n := 0
	for _, b := range bufs[:min(len(bufs), iovMax)] {
		n += len(b)
	}
	return n
}

// A socket handed a batch of many small buffers that fills its send buffer takes the stream
// low-water mark, once, and the byte stream is unchanged by it: everything written arrives,
// in order.
func TestStreamLowatSetOnStreams(t *testing.T) {
	cli, srv, p := testPair(t, New(Options{}))
	if v := notSentLowat(t, cli); v == DefaultStreamLowat {
		t.Fatalf("new socket already has TCP_NOTSENT_LOWAT %d", v)
	}
	data := streamPattern(16 << 20)
	off := writeUntilFull(t, cli, data, 2*streamBuffers)
	if v := notSentLowat(t, cli); v != DefaultStreamLowat {
		t.Fatalf("after a full send buffer with %d buffers queued: TCP_NOTSENT_LOWAT %d, want %d",
			2*streamBuffers, v, DefaultStreamLowat)
	}
	if cli.streamLowat != 0 {
		t.Fatalf("streamLowat = %d after it was set, want 0 (set once)", cli.streamLowat)
	}
	got := relay(t, cli, srv, p, data, off)
	if !bytes.Equal(got, data) {
		t.Fatalf("received %d bytes differing from the %d written", len(got), len(data))
	}
}

// relay writes the rest of data from off while reading srv, and returns what srv read.
func relay(tb testing.TB, cli, srv *Socket, p *Poller, data []byte, off int) []byte {
	tb.Helper()
	got := make([]byte, 0, len(data))
	buf := make([]byte, 64<<10)
	for len(got) < len(data) {
		progress := false
		if off < len(data) {
			n, err := cli.Writev(messageBufs(data, off, 2*streamBuffers))
			if err != nil && !errors.Is(err, netio.ErrWouldBlock) {
				tb.Fatalf("Writev: %v", err)
			}
			off += n
			progress = n > 0
		}
		for {
			n, err := srv.Read(buf)
			got = append(got, buf[:n]...)
			progress = progress || n > 0
			if err != nil || n < len(buf) {
				if err != nil && !errors.Is(err, netio.ErrWouldBlock) {
					tb.Fatalf("Read: %v", err)
				}
				break
			}
		}
		if !progress {
			waitReady(tb, p, srv.FD(), netio.Read)
		}
	}
	return got
}

// Batches of fewer than streamBuffers buffers (request trains) leave the kernel's setting
// alone even when they fill the send buffer; so do StreamLowat < 0 and NotSentLowat.
func TestStreamLowatNotSet(t *testing.T) {
	data := streamPattern(32 << 20)
	cases := []struct {
		name string
		opts Options
		nbuf int
		want func(v int) bool
	}{
		{"short batches", Options{}, streamBuffers / 2, func(v int) bool { return v != DefaultStreamLowat }},
		{"StreamLowat off", Options{StreamLowat: -1}, 2 * streamBuffers, func(v int) bool { return v != DefaultStreamLowat }},
		{"NotSentLowat wins", Options{NotSentLowat: 40 << 10}, 2 * streamBuffers, func(v int) bool { return v == 40<<10 }},
	}
	for _, c := range cases {
		cli, _, _ := testPair(t, New(c.opts))
		writeUntilFull(t, cli, data, c.nbuf)
		if v := notSentLowat(t, cli); !c.want(v) {
			t.Errorf("%s: TCP_NOTSENT_LOWAT %d after the send buffer filled", c.name, v)
		}
	}
}

// Options.StreamLowat chooses the value.
func TestStreamLowatValue(t *testing.T) {
	const want = 200 << 10
	cli, _, _ := testPair(t, New(Options{StreamLowat: want}))
	writeUntilFull(t, cli, streamPattern(16<<20), 2*streamBuffers)
	if v := notSentLowat(t, cli); v != want {
		t.Fatalf("TCP_NOTSENT_LOWAT %d, want %d", v, want)
	}
}
