//go:build linux

package msgr_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// A messenger shut down before it was ever ready (no dispatcher added) used to hang in Wait:
// its shutdown was posted to centers that never run. Now Wait returns, the listening port is
// released and no goroutine is left behind.
func TestShutdownBeforeReady(t *testing.T) {
	rt := &event.GoRuntime{}
	m, err := msgr.New(msgr.Config{Name: wire.NewName(wire.EntityOSD, 0), Stack: epoll.New(epoll.Options{}),
		Runtime: rt, Rand: detrand.NewSeeded(1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Bind(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ConnectTo(wire.EntityOSD, wire.LegacyAddr(netip.MustParseAddrPort("127.0.0.1:1"), 1)); err != nil {
		t.Fatal(err)
	}
	addr := m.MyAddr().Addr.String()
	m.Shutdown()
	select {
	case <-m.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("Wait would hang: a messenger shut down before it was ready never finished")
	}
	m.Wait()
	rt.Wait()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the port of a shut-down messenger is still taken: %v", err)
	}
	l.Close()
}
