//go:build linux

package epoll_test

import (
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/netio/netiotest"
)

func TestConformance(t *testing.T) {
	t.Run("IPv4", func(t *testing.T) { runConformance(t, "127.0.0.1", epoll.Options{}) })
	t.Run("IPv4SpinWait", func(t *testing.T) {
		runConformance(t, "127.0.0.1", epoll.Options{SpinWait: 50 * time.Microsecond})
	})
	t.Run("IPv4SharedStack", func(t *testing.T) {
		st := epoll.New(epoll.Options{})
		runHarness(t, netiotest.Harness{
			NewStacks: func(*testing.T) (netio.Stack, netio.Stack) { return st, st },
			ServerIP:  netip.MustParseAddr("127.0.0.1"),
		})
	})
	t.Run("IPv6", func(t *testing.T) {
		if !haveIPv6Loopback() {
			t.Skip("no IPv6 loopback on this machine")
		}
		runConformance(t, "::1", epoll.Options{})
	})
}

// runConformance runs the suite with a fresh pair of stacks per case.
func runConformance(t *testing.T, ip string, opts epoll.Options) {
	runHarness(t, netiotest.Harness{
		NewStacks: func(*testing.T) (netio.Stack, netio.Stack) { return epoll.New(opts), epoll.New(opts) },
		ServerIP:  netip.MustParseAddr(ip),
	})
}

// runHarness runs the suite and checks it leaked no descriptor and no goroutine.
func runHarness(t *testing.T, h netiotest.Harness) {
	fds, goroutines := countFDs(t), runtime.NumGoroutine()
	netiotest.Run(t, h)
	checkNoLeaks(t, fds, goroutines)
}

// haveIPv6Loopback reports whether a socket can be bound to [::1].
func haveIPv6Loopback() bool {
	ln, err := epoll.New(epoll.Options{}).Listen(netip.MustParseAddrPort("[::1]:0"), 1)
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// countFDs counts this process's open descriptors.
func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents)
}

// checkNoLeaks fails if more descriptors or goroutines exist than before. Goroutines started
// by a test get a moment to exit.
func checkNoLeaks(t *testing.T, fds, goroutines int) {
	t.Helper()
	if t.Failed() {
		return
	}
	if n := countFDs(t); n > fds {
		t.Errorf("descriptor leak: %d open before, %d after", fds, n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // waiting for goroutines to exit, not for the network
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("goroutine leak: %d before, %d after", goroutines, n)
	}
}

func TestNoLeaksAfterSetupAndTeardown(t *testing.T) {
	countFDs(t) // warm up anything the runtime opens lazily
	fds, goroutines := countFDs(t), runtime.NumGoroutine()
	st := epoll.New(epoll.Options{})
	for range 10 {
		p, err := st.NewPoller()
		if err != nil {
			t.Fatal(err)
		}
		ln, err := st.Listen(netip.MustParseAddrPort("127.0.0.1:0"), 0)
		if err != nil {
			t.Fatal(err)
		}
		c, err := st.Connect(ln.Addr())
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range []error{p.Add(c.FD(), netio.Write), c.Close(), ln.Close(), p.Close()} {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	checkNoLeaks(t, fds, goroutines)
}
