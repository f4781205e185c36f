//go:build linux

package synthetic_test

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/workload/synthetic"
)

// loopback is the smallest Env: every messenger on its own epoll stack and goroutines, on
// 127.0.0.1.
type loopback struct{ rts []*event.GoRuntime }

func (e *loopback) NewMessenger(s synthetic.Spec) (*msgr.Messenger, error) {
	rt := &event.GoRuntime{}
	e.rts = append(e.rts, rt)
	cfg := s.Config
	cfg.Stack, cfg.Runtime, cfg.Rand = epoll.New(epoll.Options{}), rt, detrand.NewSeeded(uint64(s.Node.Index)+1)
	return msgr.New(cfg)
}

func (e *loopback) BindIP(*synthetic.Node) netip.Addr { return netip.MustParseAddr("127.0.0.1") }

// Ceph's SyntheticStressTest, scaled down, over real TCP: make connections, run the random
// operations (sleeping when told to, retrying when blocked), drain, shut down.
func Example() {
	cfg, _ := synthetic.Preset("stress")
	cfg = cfg.Scaled(2, 3, 100, 4096)
	env := &loopback{}
	w, err := synthetic.New(cfg, env, nil, detrand.NewSeeded(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	w.Seed(cfg.InitialConns)
	for i := 0; i < cfg.Ops; i++ {
		op := w.Next()
		for errors.Is(w.Do(op), synthetic.ErrBlocked) {
			time.Sleep(cfg.BlockedWait)
		}
		time.Sleep(op.Sleep)
	}
	for deadline := time.Now().Add(time.Minute); w.Pending() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	fmt.Println("pending PINGs after the drain:", w.Pending())
	w.Shutdown()
	for _, n := range w.Nodes() {
		n.M.Wait()
	}
	for _, rt := range env.rts {
		rt.Wait()
	}
	fmt.Println("messengers:", len(w.Nodes()))
	// Output:
	// pending PINGs after the drain: 0
	// messengers: 5
}
