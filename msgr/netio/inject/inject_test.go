package inject_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/inject"
	"github.com/msgrsim/msgrsim/msgr/netio/netiotest"
	"github.com/msgrsim/msgrsim/simnet"
)

func settle(n *simnet.Network, rng *detrand.Rand) {
	for steps := 0; steps < 1_000_000; steps++ {
		if r := n.Runnable(); r > 0 {
			n.Run(rng.IntN(r))
			continue
		}
		due, ok := n.NextEvent()
		if !ok {
			return
		}
		n.Clock().AdvanceTo(due)
	}
}

func TestWrapIsFreeWhenOff(t *testing.T) {
	h := simnet.New(simnet.NewClock(), detrand.NewSeeded(1), simnet.Config{}).AddHost("a", netip.MustParseAddr("10.0.0.1"))
	if got := inject.Wrap(h, inject.Options{}); got != netio.Stack(h) {
		t.Fatal("Wrap with nothing to inject did not return the stack itself")
	}
}

// With injection off but controllable, the wrapper is transparent: the conformance suite passes.
func TestConformanceThroughWrapper(t *testing.T) {
	var n *simnet.Network
	rng := detrand.NewSeeded(3)
	netiotest.Run(t, netiotest.Harness{
		NewStacks: func(t *testing.T) (netio.Stack, netio.Stack) {
			n = simnet.New(simnet.NewClock(), detrand.NewSeeded(2), simnet.Config{})
			srv := n.AddHost("server", netip.MustParseAddr("10.0.0.1"))
			cli := n.AddHost("client", netip.MustParseAddr("10.0.0.2"))
			return inject.New(srv, inject.Options{Controllable: true}), inject.New(cli, inject.Options{Controllable: true})
		},
		ServerIP: netip.MustParseAddr("10.0.0.1"),
		Pump:     func() { settle(n, rng) },
	})
}

// pair returns a connected client/server socket pair through injecting stacks.
func pair(t *testing.T, opts inject.Options) (*simnet.Network, *inject.Stack, netio.Socket, netio.Socket) {
	t.Helper()
	n := simnet.New(simnet.NewClock(), detrand.NewSeeded(4), simnet.Config{})
	srv := n.AddHost("s", netip.MustParseAddr("10.0.0.1"))
	cli := inject.New(n.AddHost("c", netip.MustParseAddr("10.0.0.2")), opts)
	l, err := srv.Listen(netip.MustParseAddrPort("10.0.0.1:7000"), 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cli.Connect(netip.MustParseAddrPort("10.0.0.1:7000"))
	if err != nil {
		t.Fatal(err)
	}
	settle(n, detrand.NewSeeded(5))
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return n, cli, c, s
}

func TestCutAllBreaksLiveSockets(t *testing.T) {
	n, st, c, s := pair(t, inject.Options{Controllable: true})
	if got := st.CutAll(); got != 1 {
		t.Fatalf("CutAll cut %d sockets, want 1", got)
	}
	if _, err := c.Writev([][]byte{[]byte("x")}); err == nil {
		t.Fatal("write on a cut socket succeeded")
	}
	settle(n, detrand.NewSeeded(6))
	buf := make([]byte, 8)
	if k, err := s.Read(buf); err == nil && k > 0 {
		t.Fatalf("peer read %d bytes from a cut connection", k)
	}
	if st.Injected() != 1 || st.CutAll() != 0 {
		t.Fatalf("injected %d; a second CutAll should find nothing", st.Injected())
	}
}

func TestOneInNFailures(t *testing.T) {
	_, st, c, _ := pair(t, inject.Options{SocketFailures: 4, Rand: detrand.NewSeeded(7)})
	var failedAt int
	for i := 1; i <= 200; i++ {
		if _, err := c.Writev([][]byte{[]byte("x")}); err != nil {
			if !errors.Is(err, netio.ErrBrokenPipe) && !errors.Is(err, netio.ErrReset) {
				t.Fatalf("unexpected error %v", err)
			}
			failedAt = i
			break
		}
	}
	if failedAt == 0 || st.Injected() != 1 {
		t.Fatalf("1-in-4 injection never fired in 200 writes (injected %d)", st.Injected())
	}
}

// sleeps records the delays an injecting stack asks for, instead of sleeping.
type sleeps struct {
	mu  sync.Mutex
	got []time.Duration
}

func (s *sleeps) sleep(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, d)
}

func (s *sleeps) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func TestInternalDelays(t *testing.T) {
	h := simnet.New(simnet.NewClock(), detrand.NewSeeded(1), simnet.Config{}).AddHost("a", netip.MustParseAddr("10.0.0.1"))
	var sl sleeps
	w := inject.Wrap(h, inject.Options{InternalDelays: 30 * time.Millisecond, Sleep: sl.sleep})
	st, ok := w.(*inject.Stack)
	if !ok {
		t.Fatal("Wrap with internal delays returned the bare stack")
	}
	var d netio.InternalDelayer = st
	if d.InternalDelays() != 30*time.Millisecond {
		t.Fatalf("InternalDelays = %v", d.InternalDelays())
	}
	for _, p := range []string{netio.DelayAcceptLookup, netio.DelayOpen, netio.DelayReplace, netio.DelayDispatchEvent} {
		d.InternalDelay(p)
		if st.DelaysAt(p) != 1 {
			t.Fatalf("%s: %d delays, want 1", p, st.DelaysAt(p))
		}
	}
	// Ceph delays a connector that learned its address only one time in
	// ms_inject_socket_failures, never without socket failures.
	d.InternalDelay(netio.DelayLearnedAddr)
	if sl.n() != 4 || st.Delays() != 4 || sl.got[0] != 30*time.Millisecond {
		t.Fatalf("slept %v (%d delays), want 4 of 30ms", sl.got, st.Delays())
	}
	st.SetInternalDelays(0)
	d.InternalDelay(netio.DelayOpen)
	if sl.n() != 4 {
		t.Fatal("a delay was injected after SetInternalDelays(0)")
	}
}

func TestInternalDelayLearnedAddrOneInN(t *testing.T) {
	h := simnet.New(simnet.NewClock(), detrand.NewSeeded(1), simnet.Config{}).AddHost("a", netip.MustParseAddr("10.0.0.1"))
	var sl sleeps
	st := inject.New(h, inject.Options{InternalDelays: time.Millisecond, SocketFailures: 4, Rand: detrand.NewSeeded(9), Sleep: sl.sleep})
	for i := 0; i < 400; i++ {
		st.InternalDelay(netio.DelayLearnedAddr)
	}
	if n := st.DelaysAt(netio.DelayLearnedAddr); n < 50 || n > 150 {
		t.Fatalf("%d delays at learned-addr in 400 calls, want about 100 (1 in 4)", n)
	}
}

// failuresAt writes 400 one-byte chunks through a fresh 1-in-8 injecting pair, reconnecting
// after each failure, and returns the indexes of the writes that failed.
func failuresAt(t *testing.T, opts inject.Options) []int {
	t.Helper()
	opts.SocketFailures = 8
	var at []int
	_, _, c, _ := pair(t, opts)
	for i := 1; i <= 400 && len(at) < 5; i++ {
		if _, err := c.Writev([][]byte{[]byte("x")}); err != nil {
			at = append(at, i)
			_, _, c, _ = pair(t, opts)
		}
	}
	return at
}

// Another module can seed the injection (Options.Seed) or bring its own source (a
// math/rand/v2 generator): nothing in Options is of an internal package's type.
func TestSeedWithoutInternalTypes(t *testing.T) {
	a, b := failuresAt(t, inject.Options{Seed: 42}), failuresAt(t, inject.Options{Seed: 42})
	if len(a) == 0 || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("seed 42 failed writes %v, then %v: want the same, non-empty", a, b)
	}
	if c := failuresAt(t, inject.Options{Seed: 43}); fmt.Sprint(c) == fmt.Sprint(a) {
		t.Errorf("seeds 42 and 43 failed the same writes %v", a)
	}
	if r := failuresAt(t, inject.Options{Rand: rand.New(rand.NewPCG(1, 2))}); len(r) == 0 {
		t.Error("a math/rand/v2 source never failed a write")
	}
	typ := reflect.TypeFor[inject.Options]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if pkg := ft.PkgPath(); strings.Contains(pkg, "/internal/") {
			t.Errorf("inject.Options.%s has type %v from %s: another module cannot set it", f.Name, f.Type, pkg)
		}
	}
}
