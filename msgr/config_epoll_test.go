//go:build linux

package msgr_test

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// A messenger's cluster protocol comes from its name's type, as every Ceph daemon sets its own
// (ceph-mon 13, ceph-osd 10, ceph-mds 36); a non-zero ClusterProtocol overrides it.
func TestClusterProtocolFromName(t *testing.T) {
	for _, c := range []struct {
		name     wire.EntityName
		override uint32
		want     uint32
	}{
		{wire.NewName(wire.EntityMon, 1), 0, 13},
		{wire.NewName(wire.EntityOSD, 3), 0, 10},
		{wire.NewName(wire.EntityMDS, 0), 0, 36},
		{wire.NewName(wire.EntityMgr, 0), 0, 0},
		{wire.NewName(wire.EntityClient, -1), 0, 0},
		{wire.NewName(wire.EntityOSD, 3), 99, 99},
	} {
		m, err := msgr.New(msgr.Config{Name: c.name, Stack: epoll.New(epoll.Options{}), ClusterProtocol: c.override})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Config().ClusterProtocol; got != c.want {
			t.Errorf("%v (ClusterProtocol %d): cluster protocol %d, want %d", c.name, c.override, got, c.want)
		}
		m.Shutdown()
	}
}

// On the wire, a monitor named mon.1 with the id "b" and no explicit cluster protocol connects
// to another monitor as a real ceph-mon does: protocol_version 13, and an auth none authorizer
// that names it "b" (the bytes real ceph-mon mon.a sends, with its id "a", are
// 01 | 01000000 | 01000000 'a' | 0000000000000000).
func TestMonitorConnectsAsCephMon(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rt := &event.GoRuntime{}
	m, err := msgr.New(msgr.Config{Name: wire.NewName(wire.EntityMon, 1), ID: "b", ExplicitNonce: true,
		Stack: epoll.New(epoll.Options{}), Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { m.Shutdown(); m.Wait(); rt.Wait() }()
	m.SetPolicy(wire.EntityMon, proto.LosslessPeerReuse(0))
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	m.AddDispatcherTail(msgr.NopDispatcher{})
	peer := wire.LegacyAddr(netip.MustParseAddrPort(l.Addr().String()), 0)
	c, err := m.ConnectTo(wire.EntityMon, peer)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMessage(wire.NewMessage(wire.MsgPing, nil)); err != nil {
		t.Fatal(err)
	}
	_ = l.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	connect, authz := readConnect(t, conn, peer)
	if connect.ProtocolVersion != wire.ProtoMonPeer || connect.HostType != wire.EntityMon {
		t.Errorf("connect: host type %v, protocol_version %d; want mon, %d", connect.HostType, connect.ProtocolVersion, wire.ProtoMonPeer)
	}
	want := []byte{1, 1, 0, 0, 0, 1, 0, 0, 0, 'b', 0, 0, 0, 0, 0, 0, 0, 0}
	if connect.AuthorizerProtocol != wire.AuthNone || !bytes.Equal(authz, want) {
		t.Errorf("authorizer protocol %d, blob % x; want %d, % x", connect.AuthorizerProtocol, authz, wire.AuthNone, want)
	}
}

// readConnect plays the accepting side up to the first connect message: greeting out, the
// client's banner and address in, then the connect and its authorizer.
func readConnect(t *testing.T, conn net.Conn, me wire.EntityAddr) (wire.Connect, []byte) {
	t.Helper()
	greeting := wire.AppendBanner(nil)
	greeting = me.AppendLegacy(greeting)
	greeting = wire.LegacyAddr(netip.MustParseAddrPort(conn.RemoteAddr().String()), 0).AppendLegacy(greeting)
	if _, err := conn.Write(greeting); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, wire.ClientGreetingLen+wire.ConnectLen)
	if _, err := io.ReadFull(conn, buf); err != nil {
		t.Fatal(err)
	}
	connect, err := wire.DecodeConnect(buf[wire.ClientGreetingLen:], wire.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	authz := make([]byte, connect.AuthorizerLen)
	if _, err := io.ReadFull(conn, authz); err != nil {
		t.Fatal(err)
	}
	return connect, authz
}

// Another module can set every field of Config and InjectDelay but Rand (the simulator's
// recorded source; Seed seeds one instead): no other field has a type from an internal package.
// The same seed gives the same nonce.
func TestConfigFromAnotherModule(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[msgr.Config](), reflect.TypeFor[msgr.InjectDelay]()} {
		for i := range typ.NumField() {
			f := typ.Field(i)
			ft := f.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if strings.Contains(ft.PkgPath(), "/internal/") && !(typ.Name() == "Config" && f.Name == "Rand") {
				t.Errorf("%s.%s has type %v from %s: another module cannot set it", typ.Name(), f.Name, f.Type, ft.PkgPath())
			}
		}
	}
	nonce := func(seed uint64) uint32 {
		m, err := msgr.New(msgr.Config{Name: wire.NewName(wire.EntityOSD, 1), Stack: epoll.New(epoll.Options{}), Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Shutdown()
		return m.MyAddr().Nonce
	}
	if a, b, c := nonce(7), nonce(7), nonce(8); a != b || a == c {
		t.Errorf("nonces for seeds 7, 7, 8: %d %d %d: want the same for the same seed only", a, b, c)
	}
}
