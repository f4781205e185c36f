package msgr_test

import (
	"testing"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// ConnectTo speaks msgr1 whatever type the caller's address has (Ceph's connect_to picks the
// legacy address of an entity_addrvec_t): an address typed "any" or "v2" with the peer's IP,
// port and nonce reaches the session the legacy address opened, not a second one. (Mutation
// score, seed 2, mutant 80: a ConnectTo that kept the caller's type opened a second
// connection, since the registry is keyed by the whole address.)
func TestConnectToAnyAddressTypeFindsTheSession(t *testing.T) {
	e := newSimEnv(t, 1)
	a, _ := e.messenger(wire.NewName(wire.EntityOSD, 0), "10.0.0.1", true, peers)
	b, lb := e.messenger(wire.NewName(wire.EntityOSD, 1), "10.0.0.2", true, peers)
	c, err := a.ConnectTo(wire.EntityOSD, b.MyAddr())
	if err != nil {
		t.Fatal(err)
	}
	send(c, 1)
	e.until("first message", func() bool { return lb.count() == 1 })
	for _, typ := range []wire.AddrType{wire.AddrAny, wire.AddrMsgr2, wire.AddrNone} {
		addr := b.MyAddr()
		addr.Type = typ
		c2, err := a.ConnectTo(wire.EntityOSD, addr)
		if err != nil {
			t.Fatalf("%v: %v", typ, err)
		}
		if c2 != c {
			t.Errorf("ConnectTo(%v) gave connection %d, ConnectTo(%v) %d: a second session to one peer", addr, c2.ID(), b.MyAddr(), c.ID())
		}
	}
	if n := len(a.Connections()); n != 1 {
		t.Errorf("a has %d connections, want 1", n)
	}
}
