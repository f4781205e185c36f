//go:build linux

package inject_test

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/netio/inject"
)

// CutAll from a test goroutine races with the owner closing its sockets (TestInteropPingRealMon
// does exactly this). A cut must never touch a socket after its Close: the descriptor number
// may already belong to a new socket. Run with -race (CI does), this test failed before cuts
// and closes were ordered.
func TestCutAllRacesClose(t *testing.T) {
	st := inject.New(epoll.New(epoll.Options{}), inject.Options{Controllable: true})
	l, err := st.Listen(netip.MustParseAddrPort("127.0.0.1:0"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for round := 0; round < 50; round++ {
		var socks []netio.Socket
		for i := 0; i < 8; i++ {
			c, err := st.Connect(l.Addr())
			if err != nil {
				t.Fatal(err)
			}
			socks = append(socks, c)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			for _, s := range socks {
				_ = s.Close()
			}
		}()
		go func() {
			defer wg.Done()
			st.CutAll()
		}()
		wg.Wait()
		for {
			s, err := l.Accept()
			if err != nil {
				break
			}
			_ = s.Close()
		}
	}
}
