//go:build linux

package epoll

import (
	"errors"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// BenchmarkWritevRead moves one message of the given size per op over loopback: a 64-byte
// header and the payload in one Writev (repeated after short writes), read on the other end
// into a reused buffer, from one goroutine.
func BenchmarkWritevRead(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"size=4KiB", 4 << 10}, {"size=64KiB", 64 << 10}} {
		b.Run(size.name, func(b *testing.B) { benchWritevRead(b, size.n) })
	}
}

func benchWritevRead(b *testing.B, size int) {
	cli, srv, _ := testPair(b, New(Options{}))
	hdr, data := make([]byte, 64), make([]byte, size)
	rbuf := make([]byte, 256<<10)
	bufs := make([][]byte, 2)
	b.SetBytes(int64(len(hdr) + size))
	b.ReportAllocs()
	for b.Loop() {
		bufs[0], bufs[1] = hdr, data
		out := bufs
		left := len(hdr) + size
		for left > 0 {
			if len(out) > 0 {
				n, err := cli.Writev(out)
				if err != nil && !errors.Is(err, netio.ErrWouldBlock) {
					b.Fatal(err)
				}
				out = skip(out, n)
			}
			n, err := srv.Read(rbuf)
			if err != nil && !errors.Is(err, netio.ErrWouldBlock) {
				b.Fatal(err)
			}
			left -= n
		}
	}
}

// skip drops the first n bytes of bufs, reslicing in place.
func skip(bufs [][]byte, n int) [][]byte {
	for n > 0 && len(bufs) > 0 {
		if n < len(bufs[0]) {
			bufs[0] = bufs[0][n:]
			return bufs
		}
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	return bufs
}

// BenchmarkWaitWake measures a wakeup round trip on one goroutine: Wake (one or several,
// deduplicated) and the Wait that consumes it.
func BenchmarkWaitWake(b *testing.B) {
	for _, tc := range []struct {
		name  string
		wakes int
	}{{"wakes=1", 1}, {"wakes=8", 8}} {
		b.Run(tc.name, func(b *testing.B) {
			p := newTestPoller(b, 0)
			evs := make([]netio.Event, 16)
			b.ReportAllocs()
			for b.Loop() {
				for range tc.wakes {
					if err := p.Wake(); err != nil {
						b.Fatal(err)
					}
				}
				if n, err := p.Wait(evs, -1); n != 0 || err != nil {
					b.Fatalf("Wait = (%d, %v)", n, err)
				}
			}
		})
	}
}
