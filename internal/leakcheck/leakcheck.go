package leakcheck

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Goroutine is one goroutine of a dump.
type Goroutine struct {
	ID    uint64
	State string // "running", "chan receive", "IO wait", …
	Top   string // the function it is in
	Stack string // the whole stack, as the runtime prints it
}

// Snapshot is the set of goroutines alive at some moment.
type Snapshot struct{ ids map[uint64]bool }

// Take records the goroutines alive now.
func Take() Snapshot {
	s := Snapshot{ids: map[uint64]bool{}}
	for _, g := range All() {
		s.ids[g.ID] = true
	}
	return s
}

// All dumps every goroutine but the caller's.
func All() []Goroutine {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []Goroutine
	for i, block := range bytes.Split(buf, []byte("\n\n")) {
		g, ok := parse(string(block))
		if ok && i > 0 { // the first block is the caller
			out = append(out, g)
		}
	}
	return out
}

// parse reads one goroutine block: "goroutine 7 [chan receive]:\nfunc(...)\n\tfile:line ...".
func parse(block string) (Goroutine, bool) {
	header, rest, _ := strings.Cut(strings.TrimSpace(block), "\n")
	if !strings.HasPrefix(header, "goroutine ") {
		return Goroutine{}, false
	}
	f := strings.SplitN(strings.TrimPrefix(header, "goroutine "), " ", 2)
	id, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil || len(f) < 2 {
		return Goroutine{}, false
	}
	state := strings.TrimSuffix(strings.TrimPrefix(f[1], "["), "]:")
	state, _, _ = strings.Cut(state, ",")
	top, _, _ := strings.Cut(rest, "\n")
	if i := strings.LastIndex(top, "("); i > 0 {
		top = top[:i]
	}
	return Goroutine{ID: id, State: state, Top: top, Stack: block}, true
}

// Since lists the goroutines alive now that were not in s, ignoring those whose stack
// contains one of ignore (runtime helpers, a test framework's own goroutines).
func (s Snapshot) Since(ignore ...string) []Goroutine {
	var out []Goroutine
	for _, g := range All() {
		if s.ids[g.ID] || ignored(g, ignore) {
			continue
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b Goroutine) int { return int(a.ID) - int(b.ID) })
	return out
}

func ignored(g Goroutine, ignore []string) bool {
	for _, s := range ignore {
		if strings.Contains(g.Stack, s) {
			return true
		}
	}
	return false
}

// Leaked waits up to timeout for the goroutines started since s to exit and returns those
// still alive then (nil when none leaked).
func (s Snapshot) Leaked(timeout time.Duration, ignore ...string) []Goroutine {
	deadline := time.Now().Add(timeout)
	for {
		left := s.Since(ignore...)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Report renders leaked goroutines for a test failure: a count by function, then each stack.
func Report(gs []Goroutine) string {
	var b strings.Builder
	count := map[string]int{}
	var tops []string
	for _, g := range gs {
		if count[g.Top] == 0 {
			tops = append(tops, g.Top)
		}
		count[g.Top]++
	}
	fmt.Fprintf(&b, "%d goroutines leaked:\n", len(gs))
	for _, t := range tops {
		fmt.Fprintf(&b, "  %4d in %s\n", count[t], t)
	}
	for _, g := range gs {
		fmt.Fprintf(&b, "\n%s\n", g.Stack)
	}
	return b.String()
}

// TB is the part of testing.TB that Check needs.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// Check fails t if goroutines started since s are still alive after timeout.
func (s Snapshot) Check(t TB, timeout time.Duration, ignore ...string) {
	t.Helper()
	if left := s.Leaked(timeout, ignore...); len(left) > 0 {
		t.Errorf("leakcheck: %s", Report(left))
	}
}
