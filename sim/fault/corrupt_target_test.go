package fault

import (
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/simnet"
)

// Corruption targets crc-protected bytes, not only the footer's flags byte (where only the
// COMPLETE bit is checked: this was the only target before, so no corruption ever reached a
// crc — the coverage report showed "wire: bad crc" never reached), and never a byte at or
// before one already targeted (simnet would move that corruption onto the next byte
// delivered, maybe an unprotected tag: a sweep reported "bad tag" faults).
func TestCorruptTargetsReachCRCs(t *testing.T) {
	c2s, s2c := realStreams(t)
	tr := newFrameTracker(detrand.NewSeeded(1), detrand.Ratio{Num: 0, Den: 1})
	handshake := 9 + 136 + 33
	tr.Written(simnet.StreamID{Conn: 1, Dir: simnet.ClientToServer}, 0, c2s[:handshake])
	tr.Written(simnet.StreamID{Conn: 1, Dir: simnet.ServerToClient}, 0, s2c)
	tr.Written(simnet.StreamID{Conn: 1, Dir: simnet.ClientToServer}, uint64(handshake), c2s[handshake:])
	last := map[simnet.Dir]uint64{}
	seen := map[simnet.Dir]bool{}
	notFlags := 0
	for i := 0; i < 200; i++ {
		s, off, ok := tr.corruptTarget()
		if !ok {
			break
		}
		st := &tr.conns[1].s[s.Dir]
		if seen[s.Dir] && off <= last[s.Dir] {
			t.Fatalf("target %d of %v at or before the previous one %d", off, s.Dir, last[s.Dir])
		}
		seen[s.Dir], last[s.Dir] = true, off
		inside, flags := false, false
		for _, sp := range st.protected {
			if off >= sp.start && off < sp.end {
				inside, flags = true, sp.end-sp.start == 1
			}
		}
		if !inside {
			t.Fatalf("target %d of %v is not in a protected range", off, s.Dir)
		}
		if !flags {
			notFlags++
		}
	}
	if notFlags == 0 {
		t.Fatal("every corruption targeted a footer flags byte")
	}
}
