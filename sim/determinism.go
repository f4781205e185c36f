package sim

import (
	"fmt"
	"strings"

	"github.com/msgrsim/msgrsim/sim/world"
)

// Divergence describes where two runs of one seed stopped agreeing.
type Divergence struct {
	Event  uint64   // index of the first event that differs
	First  []string // events around it in the first run
	Second []string // the same events in the second run
}

// String renders the two runs side by side, the first differing event marked.
func (d *Divergence) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "runs diverge at event #%d:\n", d.Event)
	for i := 0; i < max(len(d.First), len(d.Second)); i++ {
		var l, r string
		if i < len(d.First) {
			l = d.First[i]
		}
		if i < len(d.Second) {
			r = d.Second[i]
		}
		mark := "  "
		if l != r {
			mark = "≠ "
		}
		fmt.Fprintf(&b, "%s%-60s | %s\n", mark, l, r)
	}
	return b.String()
}

// CheckDeterminism runs opts twice and compares the traces. When they differ it finds the
// first differing event — comparing the saved checkpoints of the running hash to find the
// first window that differs, then re-running both with that window rendered — and reports
// the events around it side by side.
func CheckDeterminism(opts Options) (Result, *Divergence) {
	a, b := run(opts, 0, 0, 1), run(opts, 0, 0, 2)
	if a.TraceHash == b.TraceHash && a.Events == b.Events {
		return a, nil
	}
	k := 0
	for k < len(a.checkpoints) && k < len(b.checkpoints) && a.checkpoints[k] == b.checkpoints[k] {
		k++
	}
	from := uint64(k) * world.CheckpointEvery
	ra, rb := run(opts, from, from+world.CheckpointEvery, 1), run(opts, from, from+world.CheckpointEvery, 2)
	return a, divergence(ra.recorded, rb.recorded, from)
}

func divergence(a, b []string, from uint64) *Divergence {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo, hi := max(0, i-3), i+4
	return &Divergence{Event: from + uint64(i), First: window(a, lo, hi), Second: window(b, lo, hi)}
}

func window(s []string, lo, hi int) []string {
	return s[min(lo, len(s)):min(hi, len(s))]
}
