package msgr

import (
	"os"
	"strings"
	"sync"
	"testing"
)

// Every test of this package runs with the lock-order checker on: an acquisition that breaks
// the lock protocol panics with both locks named, whether or not it deadlocked this time. A
// run of benchmarks (-test.bench) leaves it off, so that they measure the messenger as it runs
// in production (the checker takes a stack trace per lock operation).
func init() { lockOrderCheck = !benchmarking(os.Args[1:]) }

// benchmarking reports whether args ask the test binary to run benchmarks.
func benchmarking(args []string) bool {
	for i, a := range args {
		switch a = strings.TrimLeft(a, "-"); {
		case strings.HasPrefix(a, "test.bench="):
			return a != "test.bench="
		case a == "test.bench" && i+1 < len(args):
			return args[i+1] != ""
		}
	}
	return false
}

func ranked(r lockRank) *rankedMutex { return &rankedMutex{rank: r} }

// The lock protocol, stated as mayAcquire: ranks strictly increase; an acceptor holding only
// its own connection lock may take one existing session's; nothing else nests connections.
func TestLockProtocol(t *testing.T) {
	acceptor, existing, other := ranked(rankConn), ranked(rankConn), ranked(rankConn)
	m, dq, pend := ranked(rankMessenger), ranked(rankDispatch), ranked(rankPending)
	for _, tc := range []struct {
		name     string
		held     []*rankedMutex
		take     *rankedMutex
		existing bool
		bad      string // "" if allowed
	}{
		{"a first lock", nil, acceptor, false, ""},
		{"conn then messenger", []*rankedMutex{acceptor}, m, false, ""},
		{"conn, messenger, dispatch queue", []*rankedMutex{acceptor, m}, dq, false, ""},
		{"conn then pending sends", []*rankedMutex{acceptor}, pend, false, ""},
		{"acceptor then existing", []*rankedMutex{acceptor}, existing, true, ""},
		{"existing, then the registry", []*rankedMutex{acceptor, existing}, m, false, ""},
		{"messenger then conn", []*rankedMutex{m}, acceptor, false, "Connection.mu taken while holding [Messenger.mu]"},
		{"dispatch queue then messenger", []*rankedMutex{dq}, m, false, "Messenger.mu taken while holding [dispatchQueue.mu]"},
		{"two conns without the accept rule", []*rankedMutex{acceptor}, other, false, "Connection.mu taken while holding [Connection.mu]"},
		{"a third conn", []*rankedMutex{acceptor, existing}, other, true, "only an acceptor holding its own connection lock"},
		{"existing under the registry", []*rankedMutex{acceptor, m}, existing, true, "only an acceptor holding its own connection lock"},
		{"existing without an acceptor", nil, existing, true, "only an acceptor holding its own connection lock"},
		{"the same lock twice", []*rankedMutex{acceptor}, acceptor, true, "taken twice"},
	} {
		err := mayAcquire(tc.held, tc.take, tc.existing)
		switch {
		case tc.bad == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.bad)
		}
	}
}

// The checker tracks each goroutine's locks and panics on an inversion.
func TestLockOrderCheckerPanicsOnInversion(t *testing.T) {
	m, c := ranked(rankMessenger), ranked(rankConn)
	m.Lock()
	defer m.Unlock()
	var wg sync.WaitGroup
	wg.Add(1)
	taken := false
	go func() { // another goroutine holds nothing: it may take c
		defer wg.Done()
		c.Lock()
		taken = true
		c.Unlock()
	}()
	wg.Wait()
	if !taken {
		t.Fatal("another goroutine could not take the lock")
	}
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "Connection.mu taken while holding [Messenger.mu]") {
			t.Fatalf("recovered %v, want a lock-order panic", r)
		}
	}()
	c.Lock()
	t.Fatal("the inversion was not caught")
}
