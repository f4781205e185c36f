package leakcheck

import (
	"strings"
	"testing"
	"time"
)

type recorder struct{ msgs []string }

func (r *recorder) Helper()                           {}
func (r *recorder) Errorf(format string, args ...any) { r.msgs = append(r.msgs, format) }

func blockedForever(stop chan struct{}) { <-stop }

func TestFindsALeakedGoroutine(t *testing.T) {
	s := Take()
	stop := make(chan struct{})
	go blockedForever(stop)
	left := s.Leaked(50 * time.Millisecond)
	if len(left) != 1 || !strings.Contains(left[0].Top, "blockedForever") || left[0].State != "chan receive" {
		t.Fatalf("want the one blocked goroutine, got %+v", left)
	}
	var r recorder
	s.Check(&r, 10*time.Millisecond)
	if len(r.msgs) != 1 {
		t.Fatalf("Check did not fail on a leak")
	}
	if rep := Report(left); !strings.Contains(rep, "1 goroutines leaked") || !strings.Contains(rep, "blockedForever") {
		t.Fatalf("report: %s", rep)
	}
	if len(s.Leaked(0, "blockedForever")) != 0 {
		t.Fatal("an ignored goroutine was reported")
	}
	close(stop)
	if left := s.Leaked(5 * time.Second); len(left) != 0 {
		t.Fatalf("a goroutine that exited is still reported: %s", Report(left))
	}
}

// A goroutine that exits a little after Check starts waiting is not a leak.
func TestWaitsForGoroutinesToExit(t *testing.T) {
	s := Take()
	done := make(chan struct{})
	go func() {
		time.Sleep(30 * time.Millisecond)
		close(done)
	}()
	var r recorder
	s.Check(&r, 10*time.Second)
	if len(r.msgs) != 0 {
		t.Fatalf("reported a goroutine that exited: %v", r.msgs)
	}
	<-done
}

func TestParse(t *testing.T) {
	g, ok := parse("goroutine 42 [IO wait, 3 minutes]:\ninternal/poll.runtime_pollWait(0x1, 0x72)\n\t/x.go:1 +0x1")
	if !ok || g.ID != 42 || g.State != "IO wait" || g.Top != "internal/poll.runtime_pollWait" {
		t.Fatalf("%+v", g)
	}
	if _, ok := parse("not a goroutine"); ok {
		t.Fatal("parsed garbage")
	}
}
