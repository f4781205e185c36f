//go:build linux

package cephx_test

import (
	"errors"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/auth/cephx"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// exchange runs a Go client against the Go auth service; it returns the client's error and
// the session.
func exchange(t *testing.T, mon *cephx.Monitor, c *cephx.Client, now time.Time) (*cephx.MonSession, error) {
	t.Helper()
	s := mon.NewSession()
	next := c.Start()
	for i := 0; next != nil; i++ {
		if i > 5 {
			t.Fatal("the exchange does not end")
		}
		reply, _ := s.Handle(next, now)
		var err error
		if next, err = c.Handle(reply, now); err != nil {
			return s, err
		}
	}
	return s, nil
}

// The Go auth service and the Go client (checked against a real monitor) agree: global ids,
// the auth ticket, service tickets with and without CEPHX_GET_PRINCIPAL_SESSION_KEY, rotating
// secrets; the tickets open with the service keys the monitor gives daemons, and an
// authorizer built from them passes a daemon's verifier; wrong keys and unknown entities get
// EACCES.
func TestMonitorWithGoClient(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	adminKey, osdKey := key(t, 1), key(t, 2)
	kr := &cephx.Keyring{Entries: []cephx.KeyringEntry{
		{Name: admin, Key: adminKey, Caps: map[string]string{"mon": "allow *", "osd": "allow *"}},
		{Name: wire.AuthEntityName{Type: uint32(wire.EntityOSD), ID: "0"}, Key: osdKey},
	}}
	mon, err := cephx.NewMonitor(kr, &seeded{3}, 4100, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, separate := range []bool{false, true} {
		c := cephx.NewClient(cephx.ClientConfig{Name: admin, Key: adminKey, Separate: separate, Rand: &seeded{4}})
		s, err := exchange(t, mon, c, now)
		if err != nil || !c.Done() || !s.Authenticated() || c.GlobalID() != s.GlobalID() {
			t.Fatalf("separate=%v: %v (done %v, gid %d/%d)", separate, err, c.Done(), c.GlobalID(), s.GlobalID())
		}
		osdTicket, ok := c.Ticket(wire.EntityOSD)
		if !ok || osdTicket.Expires != now.Add(cephx.ServiceTicketTTL) {
			t.Fatalf("OSD ticket %+v", osdTicket)
		}
		if at, _ := c.Ticket(wire.EntityAuth); at.Expires != now.Add(cephx.AuthTicketTTL) {
			t.Errorf("auth ticket expires %v", at.Expires)
		}
		az, err := c.Authorizer(wire.EntityOSD)
		if err != nil {
			t.Fatal(err)
		}
		v := cephx.NewConnVerifier(mon.ServiceKeys(wire.EntityOSD), &seeded{5}, false)
		verdict, _, peer, err := v.Verify(az.Bytes())
		if verdict != cephx.Accept || peer.Ticket.Name != admin || peer.Ticket.GlobalID != c.GlobalID() {
			t.Fatalf("the OSD refuses the ticket: %v %v", verdict, err)
		}
	}
	daemon := cephx.NewClient(cephx.ClientConfig{Name: wire.AuthEntityName{Type: uint32(wire.EntityOSD), ID: "0"}, Key: osdKey, Rand: &seeded{6}})
	s, err := exchange(t, mon, daemon, now)
	if err != nil {
		t.Fatal(err)
	}
	rq, _ := daemon.RequestRotating()
	reply, err := s.Handle(rq, now)
	if err != nil {
		t.Fatal(err)
	}
	if next, err := daemon.Handle(reply, now); err != nil || next != nil {
		t.Fatal(next, err)
	}
	if got, want := daemon.Rotating(), mon.ServiceKeys(wire.EntityOSD).Rotating; len(got.Secrets) != 3 || !got.Secrets[1].Key.Equal(want.Secrets[1].Key) {
		t.Errorf("rotating secrets %+v, want %+v", got, want)
	}
	for _, tc := range []struct {
		name wire.AuthEntityName
		key  cephx.Key
	}{{admin, key(t, 9)}, {wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "nobody"}, adminKey}} {
		c := cephx.NewClient(cephx.ClientConfig{Name: tc.name, Key: tc.key, Rand: &seeded{7}})
		if _, err := exchange(t, mon, c, now); !errors.Is(err, cephx.ErrDenied) {
			t.Errorf("%s with a wrong key: %v, want ErrDenied", tc.name, err)
		}
	}
}

// TestMonitorRotation: with a short service ticket TTL, a ticket stays good through one
// rotation of the secrets and is refused after the second (its secret is gone); a renewed
// ticket is accepted again.
func TestMonitorRotation(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	adminKey := key(t, 1)
	kr := &cephx.Keyring{Entries: []cephx.KeyringEntry{{Name: admin, Key: adminKey}}}
	mon, err := cephx.NewMonitor(kr, &seeded{7}, 4100, now)
	if err != nil {
		t.Fatal(err)
	}
	mon.SetServiceTicketTTL(100 * time.Millisecond)
	verify := func(c *cephx.Client) cephx.Verdict {
		az, err := c.Authorizer(wire.EntityOSD)
		if err != nil {
			t.Fatal(err)
		}
		v, _, _, _ := cephx.NewConnVerifier(mon, &seeded{8}, false).Verify(az.Bytes())
		return v
	}
	c := cephx.NewClient(cephx.ClientConfig{Name: admin, Key: adminKey, Rand: &seeded{9}})
	if _, err := exchange(t, mon, c, now); err != nil {
		t.Fatal(err)
	}
	if tk, _ := c.Ticket(wire.EntityOSD); tk.Expires != now.Add(100*time.Millisecond) {
		t.Fatalf("OSD ticket expires %v", tk.Expires)
	}
	for i, want := range []cephx.Verdict{cephx.Accept, cephx.Reject} {
		if err := mon.Rotate(now.Add(time.Duration(i+1) * 100 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if got := verify(c); got != want {
			t.Fatalf("after %d rotations: %v, want %v", i+1, got, want)
		}
	}
	renewed := cephx.NewClient(cephx.ClientConfig{Name: admin, Key: adminKey, Rand: &seeded{10}})
	if _, err := exchange(t, mon, renewed, now.Add(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if got := verify(renewed); got != cephx.Accept {
		t.Fatalf("renewed ticket: %v", got)
	}
}
