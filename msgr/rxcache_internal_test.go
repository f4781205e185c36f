package msgr

import (
	"sync/atomic"
	"testing"
)

// BenchmarkFreeListCenters receives and releases messages (with a 4 KiB data section, or
// none) from parallel goroutines, as the centers of a server do with fast dispatch: through
// the messenger's one free list ("shared"), or each through a list of its own ("center", the
// lists of bufCaches). On one CPU the two cost the same; on several, the shared list's lock
// and the messages moving between CPUs are the difference.
func BenchmarkFreeListCenters(b *testing.B) {
	for _, size := range []int{0, 4096} {
		for _, mode := range []string{"shared", "center"} {
			b.Run(mode+"/size="+itoa(size), func(b *testing.B) {
				m := &Messenger{bufCaches: make([]bufCache, 8)}
				var next atomic.Int32
				b.RunParallel(func(pb *testing.PB) {
					i := int(next.Add(1)-1) % len(m.bufCaches)
					local := &m.bufCaches[i].rx
					for pb.Next() {
						var msg *Message
						if mode == "shared" {
							msg = m.rxFree.get()
						} else if msg = local.pop(); msg == nil {
							msg = m.rxFree.get()
						}
						if mode == "center" {
							*markOf(msg) = uint8(i+1) << markHomeShift
						}
						if size > 0 {
							if mode == "shared" {
								msg.Data = m.rxFree.section(size)
							} else if s := local.popBuf(bufClass(size)); s != nil {
								msg.Data = s[:size]
							} else {
								msg.Data = m.rxFree.section(size)
							}
						}
						msg.Header.Tid++
						m.Release(msg)
					}
				})
			})
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}
